package io.mocket.agent;

import static io.mocket.agent.ControlPlane.await;
import static io.mocket.agent.Mesh.member;
import static io.mocket.agent.Mesh.pod;
import static io.mocket.agent.Mesh.podName;
import static io.mocket.agent.Mesh.port;
import static io.mocket.agent.Mesh.service;
import static io.mocket.agent.Mesh.serviceName;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.workload.Address;
import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.XdsResource;
import io.mocket.controlplane.xds.XdsTypeStatus;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The agent's xDS client against the real control plane xDS server, over gRPC on loopback. */
class XdsClientTest {

    private static final String WEB = serviceName("default", "web");
    private static final String ADDRESS = ResourceKind.ADDRESS.typeUrl();

    private final ControlPlane controlPlane = new ControlPlane();
    private final NodeState state = new NodeState();
    private final AgentMetrics metrics = new AgentMetrics();
    private final List<Integer> answeredResources = new java.util.concurrent.CopyOnWriteArrayList<>();
    private XdsClient client;

    @AfterEach
    void stop() {
        if (client != null) {
            client.close();
        }
        controlPlane.close();
    }

    private XdsClient connect(XdsClient.DataPath dataPath) {
        client = new XdsClient(new XdsClient.Settings(controlPlane.target(),
                XdsClient.ztunnelNode("10.0.0.9", "mocket-agent-x1", "istio-system", "node-1", "Kubernetes", ""),
                Duration.ofMillis(50), Duration.ofMillis(400), ResourceDecoder.DEFAULT_MAX_RESOURCE_BYTES),
                state, dataPath, metrics).onAnswered(answeredResources::add).start();
        return client;
    }

    private static Service web() {
        return service("default", "web", List.of("10.96.0.10"), port(80, 8080)).build();
    }

    private static Workload webPod(int i, String node) {
        return member(pod("default", "web-" + i, node, "r1/z1", List.of("10.0.0." + i)), WEB).build();
    }

    private static Authorization allowAll() {
        return Authorization.newBuilder().setName("allow-all").setNamespace("default").build();
    }

    private List<XdsClient.Exchange> exchanges(long stream, ResourceKind kind) {
        return client.exchanges().stream().filter(e -> e.stream() == stream && e.kind() == kind).toList();
    }

    @Test
    void anExchangeOfALargePushCountsEveryResourceButKeepsOnlyTheFirstNames() {
        List<String> names = java.util.stream.IntStream.range(0, 10_000).mapToObj(i -> "default/pod-" + i).toList();
        XdsClient.Exchange e = new XdsClient.Exchange(java.time.Instant.EPOCH, 1, ResourceKind.ADDRESS, "n1", 0,
                names.size(), names, 3, List.of("a", "b", "c"), "");
        assertEquals(10_000, e.resources());
        assertEquals(names.subList(0, XdsClient.Exchange.NAMES_KEPT), e.updated());
        assertEquals(3, e.removals());
        assertEquals(List.of("a", "b", "c"), e.removed());
    }

    @Test
    void initialSyncThenUpdatesAndRemovalsAreAppliedAndAcked() {
        controlPlane.start();
        controlPlane.commit(web(), webPod(1, "node-1"), webPod(2, "node-2"), allowAll());
        connect(XdsClient.DataPath.NONE);

        await("both kinds synced", () -> state.snapshot().synced().size() == 2);
        NodeState.Snapshot s = state.snapshot();
        assertEquals(Set.of(WEB), s.services().keySet());
        assertEquals(Set.of(podName("default", "web-1"), podName("default", "web-2")), s.workloads().keySet());
        assertEquals(Set.of("default/allow-all"), s.authorizations().keySet());
        await("the server saw both ACKs", () -> controlPlane.clients().size() == 1 && controlPlane.clients().getFirst()
                .types().stream().allMatch(t -> t.ackedGeneration() > 0));
        assertEquals("ztunnel~10.0.0.9~mocket-agent-x1.istio-system~istio-system.svc.cluster.local",
                controlPlane.clients().getFirst().nodeId());
        assertTrue(metrics.xdsConnected());

        controlPlane.commit(List.of(webPod(3, "node-1")), Set.of(podName("default", "web-1")));
        await("web-3 in, web-1 out", () -> state.snapshot().workloads().keySet()
                .equals(Set.of(podName("default", "web-2"), podName("default", "web-3"))));
        await("the update is ACKed", () -> exchanges(1, ResourceKind.ADDRESS).size() == 2);
        XdsClient.Exchange update = exchanges(1, ResourceKind.ADDRESS).get(1);
        assertTrue(update.acked(), update.nack());
        assertEquals(List.of(podName("default", "web-3")), update.updated());
        assertEquals(List.of(podName("default", "web-1")), update.removed());
        assertTrue(metrics.scrape().contains("mocket_agent_xds_connected 1"));
        assertEquals(client.exchanges().stream().map(XdsClient.Exchange::resources).toList(), answeredResources,
                "the listener hears of every answered response with its number of resources");
    }

    @Test
    void afterAServerRestartTheClientDeclaresWhatItHoldsAndGetsOnlyWhatChanged() {
        controlPlane.start();
        controlPlane.commit(web(), webPod(1, "node-1"), webPod(2, "node-2"), webPod(3, "node-2"), allowAll());
        connect(XdsClient.DataPath.NONE);
        await("synced", () -> state.snapshot().synced().size() == 2 && state.snapshot().workloads().size() == 3);

        controlPlane.stop();
        await("the client notices", () -> !client.connected());
        // While the server is down: web-2 changes, web-1 goes away, web-4 appears; the rest stays as it was.
        Workload web2 = webPod(2, "node-2").toBuilder().setStatus(io.mocket.api.istio.workload.WorkloadStatus.UNHEALTHY)
                .build();
        controlPlane.commit(List.of(web2, webPod(4, "node-1")), Set.of(podName("default", "web-1")));
        controlPlane.start();

        await("web-1 removed and web-4 added after the reconnect", () -> state.snapshot().workloads().keySet()
                .equals(Set.of(podName("default", "web-2"), podName("default", "web-3"), podName("default", "web-4"))));
        long stream = client.streamsOpened();
        assertTrue(stream >= 2, "a second stream was opened");
        await("the reconnect's first response is answered", () -> !exchanges(stream, ResourceKind.ADDRESS).isEmpty());
        XdsClient.Exchange first = exchanges(stream, ResourceKind.ADDRESS).getFirst();
        assertEquals(4, first.initialVersions(), "service + 3 workloads declared in initial_resource_versions");
        assertEquals(Set.of(podName("default", "web-2"), podName("default", "web-4")), Set.copyOf(first.updated()),
                "only the changed and the new resources are sent again");
        assertEquals(List.of(podName("default", "web-1")), first.removed());
        assertTrue(first.acked());
        assertFalse(state.snapshot().workloads().get(podName("default", "web-2")).healthy(), "web-2 is UNHEALTHY now");
        // The two types are answered independently: the policy's (empty) answer may come after the addresses'.
        await("the reconnect's policy response is answered", () -> !exchanges(stream, ResourceKind.AUTHORIZATION).isEmpty());
        XdsClient.Exchange authz = exchanges(stream, ResourceKind.AUTHORIZATION).getFirst();
        assertTrue(authz.updated().isEmpty(), "the unchanged policy is not sent again");
    }

    @Test
    void aMalformedResourceIsNackedByNameWhileTheRestOfTheResponseApplies() {
        controlPlane.start();
        controlPlane.commit(web(), webPod(1, "node-1"), allowAll());
        connect(XdsClient.DataPath.NONE);
        await("synced", () -> state.snapshot().synced().size() == 2);
        String oldVersion = state.snapshot().workloads().get(podName("default", "web-1")).version();

        // web-1 comes back with a 5-byte address; web-2 is fine and arrives in the same response.
        Workload broken = webPod(1, "node-1").toBuilder().clearAddresses()
                .addAddresses(ByteString.copyFrom(new byte[]{10, 0, 0, 1, 7})).build();
        controlPlane.commit(broken, webPod(2, "node-1"));

        await("the response is answered", () -> exchanges(1, ResourceKind.ADDRESS).size() == 2);
        XdsClient.Exchange nack = exchanges(1, ResourceKind.ADDRESS).get(1);
        assertFalse(nack.acked());
        assertTrue(nack.nack().contains(podName("default", "web-1")) && nack.nack().contains("5 bytes"), nack.nack());
        assertFalse(nack.nack().contains("web-2"), nack.nack());
        assertEquals(oldVersion, state.snapshot().workloads().get(podName("default", "web-1")).version(),
                "the rejected resource keeps its last good state");
        assertTrue(state.snapshot().workloads().containsKey(podName("default", "web-2")));
        assertEquals(1, metrics.nacks(ResourceKind.ADDRESS));
        await("the control plane recorded the NACK", () -> controlPlane.clients().getFirst().types().stream()
                .filter(t -> t.typeUrl().equals(ADDRESS)).mapToLong(XdsTypeStatus::nackCount).sum() == 1);
        XdsTypeStatus seen = controlPlane.clients().getFirst().types().stream()
                .filter(t -> t.typeUrl().equals(ADDRESS)).findFirst().orElseThrow();
        assertTrue(seen.lastNackMessage().contains("web-1"), seen.lastNackMessage());
    }

    @Test
    void aLargePushIsDecodedOnTwoThreadsWithTheResultAndTheNackOfOne() {
        controlPlane.start();
        int pods = XdsClient.PARALLEL_DECODE_MIN * 2 + 1;
        List<Object> push = new java.util.ArrayList<>();
        push.add(web());
        for (int i = 0; i < pods; i++) {
            Workload w = member(pod("default", "big-" + i, "node-1", "r1/z1",
                    List.of("10.1." + (i / 250) + "." + (i % 250 + 1))), WEB).build();
            if (i == 7 || i == pods - 3) { // one bad workload in each half of the response
                w = w.toBuilder().clearAddresses().addAddresses(ByteString.copyFrom(new byte[]{10, 1, 0, 1, 9}))
                        .build();
            }
            push.add(w);
        }
        controlPlane.commit(push, Set.of());
        connect(XdsClient.DataPath.NONE);

        await("the push is answered", () -> !exchanges(1, ResourceKind.ADDRESS).isEmpty());
        XdsClient.Exchange first = exchanges(1, ResourceKind.ADDRESS).getFirst();
        assertEquals(pods + 1, first.resources());
        assertTrue(first.nack().startsWith("rejected 2 of " + (pods + 1) + " resources: "), first.nack());
        assertTrue(first.nack().contains(podName("default", "big-7")) && first.nack().contains(
                podName("default", "big-" + (pods - 3))) && first.nack().contains("5 bytes"), first.nack());
        NodeState.Snapshot s = state.snapshot();
        assertEquals(pods - 2, s.workloads().size());
        assertFalse(s.workloads().containsKey(podName("default", "big-7")));
        assertEquals(pods - 2, s.membersOf(WEB).size(), "every good pod of both halves is a member of web");
        KnownWorkload last = s.workloads().get(podName("default", "big-" + (pods - 1)));
        assertEquals("10.1." + ((pods - 1) / 250) + "." + ((pods - 1) % 250 + 1),
                last.addresses().getFirst().getHostAddress());
        assertTrue(metrics.scrape().contains("part=\"decode_cpu\""), "the decode CPU of both threads is reported");
    }

    @Test
    void anAddressWithNeitherWorkloadNorServiceAndAnOversizedResourceAreNacked() {
        controlPlane.start();
        XdsResource empty = XdsResource.of(ResourceType.ADDRESS, "default/empty", List.of(),
                Address.getDefaultInstance());
        Workload huge = webPod(5, "node-1").toBuilder()
                .putServices("default/padding." + "x".repeat(2 << 20), io.mocket.api.istio.workload.PortList
                        .getDefaultInstance()).build();
        controlPlane.commit(List.of(web(), empty, huge), Set.of());
        connect(XdsClient.DataPath.NONE);

        await("the first response is answered", () -> !exchanges(1, ResourceKind.ADDRESS).isEmpty());
        XdsClient.Exchange first = exchanges(1, ResourceKind.ADDRESS).getFirst();
        assertTrue(first.nack().contains("default/empty: Address sets neither workload nor service"), first.nack());
        assertTrue(first.nack().contains(podName("default", "web-5") + ": payload of"), first.nack());
        assertEquals(Set.of(WEB), state.snapshot().services().keySet());
        assertTrue(state.snapshot().workloads().isEmpty());
        assertTrue(state.snapshot().synced(ResourceKind.ADDRESS), "the good part of the first response counts");
    }

    @Test
    void aResourceTheDataPathCouldNotApplyIsNackedAfterTheApply() {
        controlPlane.start();
        controlPlane.commit(web(), webPod(1, "node-1"), allowAll());
        CompletableFuture<Map<String, String>> gate = new CompletableFuture<>();
        connect(generation -> state.snapshot().workloads().containsKey(podName("default", "web-2"))
                ? gate : CompletableFuture.completedFuture(Map.of()));
        await("synced", () -> state.snapshot().synced().size() == 2);

        controlPlane.commit(webPod(2, "node-1"));
        await("web-2 applied to the store", () -> state.snapshot().workloads().size() == 2);
        assertEquals(1, exchanges(1, ResourceKind.ADDRESS).size(), "no answer before the data path is done");
        gate.complete(Map.of(podName("default", "web-2"), "service " + WEB + " port 80 (v4) does not fit: mk_endpoint"
                + " holds 4 of 4 entries"));

        await("answered", () -> exchanges(1, ResourceKind.ADDRESS).size() == 2);
        XdsClient.Exchange answer = exchanges(1, ResourceKind.ADDRESS).get(1);
        assertTrue(answer.nack().contains("does not fit: mk_endpoint"), answer.nack());
    }
}
