package io.mocket.agent;

import static io.mocket.agent.ControlPlane.await;
import static io.mocket.agent.Mesh.member;
import static io.mocket.agent.Mesh.pod;
import static io.mocket.agent.Mesh.port;
import static io.mocket.agent.Mesh.service;
import static io.mocket.agent.Mesh.serviceName;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import io.mocket.bpf.ConnectionKey;
import io.mocket.bpf.ConnectionTotals;
import io.mocket.bpf.FrontendKey;
import io.mocket.bpf.FrontendValue;
import io.mocket.bpf.L4Protocol;
import io.mocket.bpf.LoadBalancerMaps;
import io.mocket.bpf.ServiceKey;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The agent against the real kernel: programs loaded and attached to a test cgroup, maps pinned on a
 * test bpffs, resources from the real control plane. Checks what the maps hold, not traffic.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AgentKernelTest extends KernelTestBase {

    private static final String WEB = serviceName("default", "web");
    private static final String API = serviceName("default", "api");


    private static Service web() {
        return service("default", "web", List.of("198.51.100.10", "2001:db8:100::10"), port(80, 8080)).build();
    }

    private static Service api() {
        return service("default", "api", List.of("198.51.100.11"), port(9090, 9091)).build();
    }

    private static Workload pod(String name, String node, String service, String... addresses) {
        return member(Mesh.pod("default", name, node, "r1/z1", List.of(addresses)), service).build();
    }

    private static Authorization policy() {
        return Authorization.newBuilder().setName("allow").setNamespace("default").build();
    }

    private String[] args(ControlPlane cp, Path pinRoot) {
        return new String[]{"--control-plane", cp.target(), "--node-name", "node-1", "--pin-root", pinRoot.toString(),
                "--cgroup", sandbox.cgroup.toString(), "--admin-address", "127.0.0.1", "--admin-port", "0",
                "--debounce-ms", "5"};
    }

    private static FrontendKey tcp(String vip, int port) {
        return new FrontendKey(InetAddress.ofLiteral(vip), port, L4Protocol.TCP);
    }

    /** The backends of a service's live revision as "address:port", read from the kernel. */
    private static Set<String> backends(LoadBalancerMaps maps, int serviceId) {
        return MapReads.backends(maps, serviceId);
    }

    private static String get(java.net.InetSocketAddress admin, String path) throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.getPort()
                    + path)).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() + " " + r.body();
        }
    }

    @Test
    void theAgentProgramsThePinnedMapsAndARestartedAgentAdoptsThemWithoutRewriting() throws Exception {
        Path pinRoot = sandbox.bpffs.resolve("mocket");
        Path pinDir = pinRoot.resolve("node-1");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try (ControlPlane cp = new ControlPlane().start()) {
            cp.commit(web(), api(), policy(),
                    pod("web-1", "node-1", WEB, "192.0.2.2", "2001:db8:1::2"),
                    pod("web-2", "node-2", WEB, "192.0.2.3"),
                    pod("api-1", "node-2", API, "192.0.2.4"));
            int webId = IdTable.fnv1a32(WEB + ":80/v4");
            int apiId = IdTable.fnv1a32(API + ":9090/v4");
            int[] revisions = new int[2];

            int code = Agent.run(args(cp, pinRoot), Map.of(), System.out, new PrintStream(err, true), agent -> {
                await("ready", () -> agent.notReady().isEmpty());
                try (LoadBalancerMaps maps = LoadBalancerMaps.openPinned(libbpf, pinDir)) {
                    assertEquals(Optional.of(new FrontendValue(webId)), maps.frontends().get(tcp("198.51.100.10", 80)));
                    assertEquals(Optional.of(new FrontendValue(webId)), maps.frontends().get(
                            new FrontendKey(InetAddress.ofLiteral("198.51.100.10"), 80, L4Protocol.UDP)));
                    assertEquals(Set.of("192.0.2.2:8080", "192.0.2.3:8080"), backends(maps, webId));
                    int web6 = maps.frontends().get(tcp("2001:db8:100::10", 80)).orElseThrow().serviceId();
                    assertEquals(Set.of("2001:db8:1:0:0:0:0:2:8080"), backends(maps, web6));
                    assertEquals(Set.of("192.0.2.4:9091"), backends(maps, apiId));
                    assertEquals(6, maps.frontends().entries().size());
                    revisions[0] = maps.services().get(new ServiceKey(webId)).orElseThrow().revision();
                    revisions[1] = maps.services().get(new ServiceKey(apiId)).orElseThrow().revision();

                    // What sockops writes for a closed connection from web-1 (this node) to api through its VIP.
                    ConnectionKey toApi = new ConnectionKey(ConnectionKey.Direction.ACTIVE, apiId,
                            InetAddress.ofLiteral("192.0.2.2"), InetAddress.ofLiteral("192.0.2.4"));
                    maps.connections().put(toApi, new ConnectionTotals(1, 1, 101, 2001));
                    String scraped = agent.metrics().scrape();
                    String labels = "{reporter=\"source\",source_workload=\"web\",source_workload_namespace=\"default\","
                            + "source_canonical_service=\"unknown\",destination_service=\"api.default.svc.cluster.local\","
                            + "destination_service_namespace=\"default\",destination_workload=\"api\","
                            + "destination_workload_namespace=\"default\",request_protocol=\"tcp\","
                            + "connection_security_policy=\"unknown\"}";
                    assertTrue(scraped.contains("istio_tcp_connections_opened_total" + labels + " 1"), scraped);
                    assertTrue(scraped.contains("istio_tcp_connections_closed_total" + labels + " 1"), scraped);
                    assertTrue(scraped.contains("istio_tcp_received_bytes_total" + labels + " 101"), scraped);
                    assertTrue(scraped.contains("istio_tcp_sent_bytes_total" + labels + " 2001"), scraped);
                    assertEquals(Optional.of(new ConnectionTotals(1, 1, 101, 2001)), maps.connections().get(toApi),
                            "the kernel's counters stay until they are idle");
                    assertTrue(agent.metrics().scrape().contains("istio_tcp_connections_opened_total" + labels + " 1"),
                            "a second read adds nothing");
                }
                try {
                    assertEquals("200 ready\n", get(agent.adminAddress(), "/healthz/ready"));
                    String metrics = get(agent.adminAddress(), "/metrics");
                    assertTrue(metrics.contains("mocket_agent_map_entries{map=\"mk_frontend\"} 6"), metrics);
                    assertTrue(metrics.contains("mocket_agent_xds_connected 1"), metrics);
                    assertTrue(metrics.contains("# TYPE istio_tcp_connections_opened_total counter"), metrics);
                    String debug = get(agent.adminAddress(), "/debug/state");
                    assertTrue(debug.startsWith("200 {"), debug);
                    assertTrue(debug.contains("\"198.51.100.10:80/TCP\"") && debug.contains(WEB + ":80/v4")
                            && debug.contains("\"192.0.2.3:8080\""), debug);
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            assertEquals(Agent.EXIT_OK, code, err.toString());

            // Stopped: links and maps stay pinned, the kernel still holds every service.
            try (Stream<Path> links = Files.list(pinDir.resolve("links"))) {
                assertEquals(9, links.count(), "every program stays attached through its pinned link");
            }
            try (LoadBalancerMaps maps = LoadBalancerMaps.openPinned(libbpf, pinDir)) {
                assertEquals(Set.of("192.0.2.2:8080", "192.0.2.3:8080"), backends(maps, webId));
            }

            int restarted = Agent.run(args(cp, pinRoot), Map.of(), System.out, new PrintStream(err, true), agent -> {
                await("ready again", () -> agent.notReady().isEmpty());
                assertTrue(agent.metrics().scrape().contains("mocket_agent_map_writes_total 0"),
                        "the restarted agent found everything in place: " + agent.metrics().scrape());
                try (LoadBalancerMaps maps = LoadBalancerMaps.openPinned(libbpf, pinDir)) {
                    assertEquals(revisions[0], maps.services().get(new ServiceKey(webId)).orElseThrow().revision());
                    assertEquals(revisions[1], maps.services().get(new ServiceKey(apiId)).orElseThrow().revision());

                    cp.commit(pod("web-3", "node-1", WEB, "192.0.2.5"));
                    await("web-3 is a backend", () -> backends(maps, webId).contains("192.0.2.5:8080"));
                    assertEquals(revisions[0] + 1, maps.services().get(new ServiceKey(webId)).orElseThrow().revision(),
                            "one atomic switch");
                    assertEquals(revisions[1], maps.services().get(new ServiceKey(apiId)).orElseThrow().revision(),
                            "other services are not touched");
                }
            });
            assertEquals(Agent.EXIT_OK, restarted, err.toString());
        } finally {
            io.mocket.bpf.SocketLoadBalancer.remove(libbpf, pinDir);
        }
    }

    @Test
    void aServiceThatDoesNotFitIsNackedAndNeverPartlyWritten() {
        Path pinDir = sandbox.bpffs.resolve("small");
        KernelSandbox.pinSmallMaps(pinDir, Map.of(LoadBalancerMaps.ENDPOINT, 4));
        String a = serviceName("default", "a");
        String b = serviceName("default", "b");
        Service svcA = service("default", "a", List.of("198.51.100.20"), port(80, 8080)).build();
        Service svcB = service("default", "b", List.of("198.51.100.21"), port(80, 8080)).build();
        List<Object> resources = new ArrayList<>(List.of(svcA, svcB, policy()));
        for (int i = 1; i <= 2; i++) {
            resources.add(pod("a-" + i, "node-2", a, "192.0.2." + (10 + i)));
        }
        for (int i = 1; i <= 3; i++) {
            resources.add(pod("b-" + i, "node-2", b, "192.0.2." + (20 + i)));
        }
        NodeState state = new NodeState();
        AgentMetrics metrics = new AgentMetrics();
        try (ControlPlane cp = new ControlPlane().start();
             LoadBalancerMaps maps = LoadBalancerMaps.openPinned(libbpf, pinDir);
             ServiceReconciler reconciler = new ServiceReconciler(state, maps,
                     new NodeTopology("node-1", "", "Kubernetes", Optional.empty()), metrics,
                     new ServiceReconciler.Settings(Duration.ofMillis(5), Duration.ofMillis(50), Duration.ofSeconds(30)))
                     .start();
             XdsClient client = new XdsClient(new XdsClient.Settings(cp.target(),
                     XdsClient.ztunnelNode("10.0.0.9", "agent", "istio-system", "node-1", "Kubernetes", ""),
                     Duration.ofMillis(50), Duration.ofMillis(400), ResourceDecoder.DEFAULT_MAX_RESOURCE_BYTES),
                     state, reconciler, metrics)) {
            cp.commit(resources, Set.of());
            client.start();

            await("the first Address response is answered", () -> client.exchanges().stream()
                    .anyMatch(e -> e.kind() == ResourceKind.ADDRESS));
            XdsClient.Exchange first = client.exchanges().stream().filter(e -> e.kind() == ResourceKind.ADDRESS)
                    .findFirst().orElseThrow();
            assertFalse(first.acked());
            assertTrue(first.nack().contains(b + ": service " + b + " port 80 (v4) does not fit: mk_endpoint holds 2 of"
                    + " 4 entries and 3 more are needed"), first.nack());
            assertTrue(first.nack().contains(Mesh.podName("default", "b-1") + ", "), "members share the line: "
                    + first.nack());
            assertFalse(first.nack().contains(a + ":"), first.nack());
            assertTrue(metrics.mapFullCount(LoadBalancerMaps.ENDPOINT) >= 1);

            int idA = IdTable.fnv1a32(a + ":80/v4");
            assertEquals(Set.of("192.0.2.11:8080", "192.0.2.12:8080"), backends(maps, idA));
            assertEquals(1, maps.services().entries().size(), "b has no service entry");
            assertEquals(2, maps.endpoints().entries().size(), "and no slot");
            assertEquals(Optional.empty(), maps.frontends().get(tcp("198.51.100.21", 80)), "and no frontend");
            assertEquals(2, maps.backends().entries().size(), "and no backend");

            // a goes away: its room lets b in, whole.
            cp.commit(List.of(), Set.of(a, Mesh.podName("default", "a-1"), Mesh.podName("default", "a-2")));
            int idB = IdTable.fnv1a32(b + ":80/v4");
            await("b is served", () -> maps.frontends().get(tcp("198.51.100.21", 80)).isPresent());
            assertEquals(Set.of("192.0.2.21:8080", "192.0.2.22:8080", "192.0.2.23:8080"), backends(maps, idB));
            assertEquals(Optional.empty(), maps.frontends().get(tcp("198.51.100.20", 80)));
            assertEquals(3, maps.endpoints().entries().size());
        }
    }
}
