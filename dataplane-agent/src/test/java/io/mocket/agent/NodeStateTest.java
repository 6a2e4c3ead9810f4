package io.mocket.agent;

import static io.mocket.agent.Mesh.member;
import static io.mocket.agent.Mesh.pod;
import static io.mocket.agent.Mesh.port;
import static io.mocket.agent.Mesh.service;
import static io.mocket.agent.Mesh.serviceName;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The node's store: versions, generations, consistent snapshots, removals of either address kind. */
class NodeStateTest {

    private static final String WEB = serviceName("default", "web");

    private final NodeState state = new NodeState();

    private static NodeState.Update address(List<NodeState.Entry<?>> upserts, List<String> removals) {
        return new NodeState.Update(ResourceKind.ADDRESS, upserts, removals, false);
    }

    @Test
    void writesMakeNewSnapshotsAndUnchangedUpsertsDoNot() {
        Service web = service("default", "web", List.of("10.96.0.10"), port(80, 80)).build();
        Workload pod = member(pod("default", "web-0", "n1", "r/z", List.of("10.0.0.1")), WEB).build();
        List<NodeState.Snapshot> seen = new ArrayList<>();
        state.addListener(seen::add);

        long g1 = state.apply(address(List.of(new NodeState.Entry<>(WEB, "v1", web),
                new NodeState.Entry<>(pod.getUid(), "w1", pod)), List.of()));
        NodeState.Snapshot before = state.snapshot();
        long g2 = state.apply(address(List.of(new NodeState.Entry<>(WEB, "v1", web)), List.of()));

        assertEquals(1, g1);
        assertEquals(g1, g2, "the same version again changes nothing");
        assertSame(before, state.snapshot());
        assertEquals(1, seen.size());
        assertEquals(Map.of(WEB, "v1", pod.getUid(), "w1"), before.versions(ResourceKind.ADDRESS));
        assertEquals(pod.getUid(), before.workloadByAddress(InetAddress.ofLiteral("10.0.0.1")).orElseThrow().uid());

        state.apply(address(List.of(), List.of(WEB, pod.getUid(), "never-held")));
        assertTrue(state.snapshot().services().isEmpty() && state.snapshot().workloads().isEmpty());
        assertEquals(2, before.count(ResourceKind.ADDRESS), "an old snapshot never changes");
    }

    @Test
    void theFirstResponseOfAKindMarksItSyncedEvenWhenEmpty() {
        long g = state.apply(new NodeState.Update(ResourceKind.AUTHORIZATION, List.of(), List.of(), true));
        assertEquals(1, g);
        assertTrue(state.snapshot().synced(ResourceKind.AUTHORIZATION));
        assertEquals(g, state.apply(new NodeState.Update(ResourceKind.AUTHORIZATION, List.of(), List.of(), true)));
    }

    @Test
    void anUpdateRefusesMessagesOfTheWrongKind() {
        Authorization a = Authorization.newBuilder().setName("x").setNamespace("y").build();
        assertThrows(IllegalArgumentException.class, () -> address(List.of(new NodeState.Entry<>("y/x", "1", a)),
                List.of()));
    }

    @Test
    void aResentWorkloadKeepsTheHeldInstancesOfWhatDidNotChange() {
        ResourceDecoder decoder = new ResourceDecoder(ResourceDecoder.DEFAULT_MAX_RESOURCE_BYTES);
        Workload w = member(pod("default", "web-1", "node-1", "r1/z1", List.of("10.0.0.1")), WEB, port(80, 8080))
                .build();
        String uid = w.getUid();
        state.apply(new NodeState.Update(ResourceKind.ADDRESS, List.of(decoded(decoder, uid, "v1", w)), List.of(),
                true));
        KnownWorkload first = state.snapshot().workloads().get(uid);
        // The same workload in another service, with a new version, decoded again (new strings and addresses).
        Workload moved = member(pod("default", "web-1", "node-1", "r1/z1", List.of("10.0.0.1")),
                serviceName("default", "api"), port(80, 8080)).build();
        state.apply(new NodeState.Update(ResourceKind.ADDRESS, List.of(decoded(decoder, uid, "v2", moved)),
                List.of(), false));
        KnownWorkload second = state.snapshot().workloads().get(uid);
        assertEquals("v2", second.version());
        assertEquals(List.of(serviceName("default", "api")), List.copyOf(second.services().keySet()));
        assertSame(first.uid(), second.uid());
        assertSame(first.name(), second.name());
        assertSame(first.addresses(), second.addresses());
        assertEquals(List.of(state.snapshot().workloads().get(uid)), state.snapshot().membersOf(
                serviceName("default", "api")));
        assertTrue(state.snapshot().membersOf(WEB).isEmpty());
    }

    private static NodeState.Entry<?> decoded(ResourceDecoder decoder, String name, String version, Workload w) {
        try {
            return Mesh.decodeOne(decoder, ResourceKind.ADDRESS, io.mocket.api.xds.Resource.newBuilder()
                    .setName(name).setVersion(version).setResource(com.google.protobuf.Any.newBuilder()
                            .setTypeUrl(ResourceKind.ADDRESS.typeUrl()).setValue(io.mocket.api.istio.workload.Address
                                    .newBuilder().setWorkload(w).build().toByteString())).build());
        } catch (InvalidResourceException e) {
            throw new AssertionError(e);
        }
    }
}
