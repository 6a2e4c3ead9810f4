package io.mocket.agent;

import static io.mocket.agent.Mesh.member;
import static io.mocket.agent.Mesh.port;
import static io.mocket.agent.Mesh.service;
import static io.mocket.agent.Mesh.serviceName;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Message;
import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import io.mocket.bpf.EndpointKey;
import io.mocket.bpf.EndpointValue;
import io.mocket.bpf.LoadBalancerMaps;
import io.mocket.bpf.ServiceKey;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The reconciler against real (test-pinned) maps: after the first pass, a change recomputes and writes only
 * the services it touches, counted by {@code mocket_agent_map_writes_total}; a write the kernel refuses
 * makes it read the maps back and plan the whole node again; a new reconciler on the same pins writes nothing.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class IncrementalReconcileTest extends KernelTestBase {

    private static final NodeTopology NODE_1 = new NodeTopology("node-1", "", "Kubernetes", Optional.empty());
    private static final ServiceReconciler.Settings SETTINGS = new ServiceReconciler.Settings(Duration.ofMillis(5),
            Duration.ofMillis(50), Duration.ofSeconds(30));

    private int dirs;

    private LoadBalancerMaps maps(Map<String, Integer> maxEntries) {
        Path pinDir = sandbox.bpffs.resolve("inc-" + (++dirs));
        KernelSandbox.pinSmallMaps(pinDir, maxEntries);
        return LoadBalancerMaps.openPinned(libbpf, pinDir);
    }

    private static String svc(String name) {
        return serviceName("default", name);
    }

    private static Service service(String name, String vip) {
        return Mesh.service("default", name, List.of(vip), port(80, 8080)).build();
    }

    private static Workload pod(String name, String serviceName, String address) {
        return member(Mesh.pod("default", name, "node-2", "r1/z1", List.of(address)), svc(serviceName)).build();
    }

    private static void upsert(NodeState state, Message... resources) {
        List<NodeState.Entry<?>> entries = new ArrayList<>();
        for (Message m : resources) {
            String name = m instanceof Service s ? s.getNamespace() + "/" + s.getHostname() : ((Workload) m).getUid();
            entries.add(new NodeState.Entry<>(name, Mesh.version(m), m));
        }
        state.apply(new NodeState.Update(ResourceKind.ADDRESS, entries, List.of(), true));
    }

    private static void remove(NodeState state, String... names) {
        state.apply(new NodeState.Update(ResourceKind.ADDRESS, List.of(), List.of(names), true));
    }

    /** a (2 pods), b (2 pods), c (1 pod): 5 backends, 5 slots, 3 services, 6 frontends. */
    private static NodeState threeServices() {
        NodeState state = new NodeState();
        upsert(state, service("a", "198.51.100.1"), service("b", "198.51.100.2"), service("c", "198.51.100.3"),
                pod("a-1", "a", "192.0.2.11"), pod("a-2", "a", "192.0.2.12"),
                pod("b-1", "b", "192.0.2.21"), pod("b-2", "b", "192.0.2.22"),
                pod("c-1", "c", "192.0.2.31"));
        return state;
    }

    private static double mapWrites(AgentMetrics metrics) {
        return metrics.scrape().lines().filter(l -> l.startsWith("mocket_agent_map_writes_total "))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).findFirst().orElseThrow();
    }

    private static int id(String service) {
        return IdTable.fnv1a32(svc(service) + ":80/v4");
    }

    private static int revision(LoadBalancerMaps maps, String service) {
        return maps.services().get(new ServiceKey(id(service))).orElseThrow().revision();
    }

    /** The live backends of a service as "address:port", read from the kernel. */
    private static Set<String> backends(LoadBalancerMaps maps, String service) {
        return MapReads.backends(maps, id(service));
    }

    @Test
    void aChangeWritesOnlyTheServicesItTouches() {
        NodeState state = threeServices();
        AgentMetrics metrics = new AgentMetrics();
        try (LoadBalancerMaps maps = maps(Map.of());
             ServiceReconciler reconciler = new ServiceReconciler(state, maps, NODE_1, metrics, SETTINGS)) {
            ServiceReconciler.Pass first = reconciler.reconcileNow();
            assertTrue(first.full(), "the first pass plans the whole node");
            assertEquals(5 + 5 + 3 + 6, first.writes(), "backends, slots, service entries, frontends");
            int revB = revision(maps, "b");
            int revC = revision(maps, "c");

            // a-3 joins a: one new backend, a's three new slots, its entry, its two old slots. b and c untouched.
            double before = mapWrites(metrics);
            upsert(state, pod("a-3", "a", "192.0.2.13"));
            ServiceReconciler.Pass join = reconciler.reconcileNow();
            assertFalse(join.full());
            assertEquals(1, join.servicePorts(), "only a:80/v4 is recomputed and diffed");
            assertEquals(1 + 3 + 1 + 2, mapWrites(metrics) - before);
            assertEquals(Set.of("192.0.2.11:8080", "192.0.2.12:8080", "192.0.2.13:8080"), backends(maps, "a"));
            assertEquals(revB, revision(maps, "b"));
            assertEquals(revC, revision(maps, "c"));

            // b-1 moves to c: b gets one slot, c two; the backend entry stays (still referenced), nothing else.
            before = mapWrites(metrics);
            upsert(state, pod("b-1", "c", "192.0.2.21"));
            ServiceReconciler.Pass move = reconciler.reconcileNow();
            assertFalse(move.full());
            assertEquals(2, move.servicePorts(), "the service it left and the one it joined");
            assertEquals((1 + 1 + 2) + (2 + 1 + 1), mapWrites(metrics) - before);
            assertEquals(Set.of("192.0.2.22:8080"), backends(maps, "b"));
            assertEquals(Set.of("192.0.2.21:8080", "192.0.2.31:8080"), backends(maps, "c"));
            assertEquals(revB + 1, revision(maps, "b"));
            assertEquals(6, maps.backends().entries().size());

            // b-2 goes away: b is empty (the VIP refuses), and its backend, referenced by nothing, is deleted.
            before = mapWrites(metrics);
            remove(state, Mesh.podName("default", "b-2"));
            ServiceReconciler.Pass gone = reconciler.reconcileNow();
            assertEquals(1, gone.servicePorts());
            assertEquals(0 + 1 + 1 + 1, mapWrites(metrics) - before, "no new slot, the entry, the old slot, the backend");
            assertEquals(Set.of(), backends(maps, "b"));
            assertEquals(5, maps.backends().entries().size());
            assertTrue(maps.backends().entries().values().stream()
                    .noneMatch(v -> v.address().getHostAddress().equals("192.0.2.22")));

            // Service c removed: its frontends, entry and slots go; its backends too.
            remove(state, svc("c"));
            ServiceReconciler.Pass removed = reconciler.reconcileNow();
            assertFalse(removed.full());
            assertEquals(Optional.empty(), maps.services().get(new ServiceKey(id("c"))));
            assertEquals(4, maps.frontends().entries().size());
            assertEquals(3, maps.backends().entries().size(), "a's three; b has none, c is gone");
            assertEquals(3, maps.endpoints().entries().size());

            // Nothing changed: nothing recomputed, nothing written.
            before = mapWrites(metrics);
            ServiceReconciler.Pass idle = reconciler.reconcileNow();
            assertEquals(0, idle.servicePorts());
            assertEquals(0, mapWrites(metrics) - before);
        }
    }

    @Test
    void theSameResultAsAFullPassAfterManyIncrementalOnes() {
        NodeState state = threeServices();
        try (LoadBalancerMaps maps = maps(Map.of());
             ServiceReconciler reconciler = new ServiceReconciler(state, maps, NODE_1, new AgentMetrics(), SETTINGS)) {
            reconciler.reconcileNow();
            upsert(state, pod("a-1", "b", "192.0.2.11"), pod("c-2", "c", "192.0.2.32"));
            reconciler.reconcileNow();
            // d takes c's VIP but sorts after it: it gets nothing until c goes, then it gets the VIP.
            upsert(state, service("d", "198.51.100.3"), pod("d-1", "d", "192.0.2.41"));
            ServiceReconciler.Pass conflict = reconciler.reconcileNow();
            assertTrue(conflict.failures().get(svc("d")).contains("is already the address of " + svc("c")),
                    conflict.failures().toString());
            remove(state, svc("c"));
            ServiceReconciler.Pass freed = reconciler.reconcileNow();
            assertTrue(freed.failures().isEmpty(), freed.failures().toString());
            assertEquals(Set.of("192.0.2.41:8080"), backends(maps, "d"));

            // A second reconciler on the same pins, planning the whole node from the kernel, finds nothing to do.
            try (ServiceReconciler fresh = new ServiceReconciler(state, maps, NODE_1, new AgentMetrics(), SETTINGS)) {
                ServiceReconciler.Pass adopt = fresh.reconcileNow();
                assertTrue(adopt.full());
                assertEquals(0, adopt.writes(), "the incremental passes left exactly what a full pass wants");
            }
        }
    }

    @Test
    void aRestartOnExistingPinsWritesNothingThenOnlyWhatChanges() {
        NodeState state = threeServices();
        try (LoadBalancerMaps maps = maps(Map.of())) {
            try (ServiceReconciler first = new ServiceReconciler(state, maps, NODE_1, new AgentMetrics(), SETTINGS)) {
                assertTrue(first.reconcileNow().writes() > 0);
            }
            NodeState restarted = threeServices(); // a new process receives the same state
            AgentMetrics metrics = new AgentMetrics();
            try (ServiceReconciler again = new ServiceReconciler(restarted, maps, NODE_1, metrics, SETTINGS)) {
                assertEquals(0, again.reconcileNow().writes());
                assertEquals(0, mapWrites(metrics));
                upsert(restarted, pod("c-2", "c", "192.0.2.32"));
                ServiceReconciler.Pass change = again.reconcileNow();
                assertFalse(change.full());
                assertEquals(1 + 2 + 1 + 1, mapWrites(metrics), "c alone: backend, 2 new slots, entry, old slot");
            }
        }
    }

    @Test
    void aWriteTheKernelRefusesIsFollowedByAFullReadBackAndPass() {
        NodeState state = threeServices();
        AgentMetrics metrics = new AgentMetrics();
        try (LoadBalancerMaps maps = maps(Map.of(LoadBalancerMaps.ENDPOINT, 12));
             ServiceReconciler reconciler = new ServiceReconciler(state, maps, NODE_1, metrics, SETTINGS)) {
            reconciler.reconcileNow();
            assertEquals(5, maps.endpoints().entries().size());
            // Another writer fills the endpoint map behind the reconciler's back: its view still sees room for
            // both revisions of a (5 + 3 <= 12), the kernel has 5 + 6 + 3 > 12.
            for (int slot = 0; slot < 6; slot++) {
                maps.endpoints().put(new EndpointKey(999, 1, 0, slot), new EndpointValue(7, 7));
            }
            upsert(state, pod("a-3", "a", "192.0.2.13"));
            ServiceReconciler.Pass pass = reconciler.reconcileNow();

            assertTrue(metrics.mapFullCount(LoadBalancerMaps.ENDPOINT) >= 1, "the refusal is counted");
            assertTrue(pass.failures().isEmpty(), "after reading the maps back, the stray slots are orphans that go"
                    + " first, and a fits: " + pass.failures());
            assertEquals(Set.of("192.0.2.11:8080", "192.0.2.12:8080", "192.0.2.13:8080"), backends(maps, "a"));
            assertTrue(maps.endpoints().entries().keySet().stream().noneMatch(k -> k.serviceId() == 999),
                    "the strays are gone");
            assertEquals(6, maps.endpoints().entries().size(), "a's 3 live slots, b's 2, c's 1: nothing half-written");

            // And the reconciler is incremental again afterwards.
            upsert(state, pod("c-2", "c", "192.0.2.32"));
            assertFalse(reconciler.reconcileNow().full());
            assertEquals(Set.of("192.0.2.31:8080", "192.0.2.32:8080"), backends(maps, "c"));
        }
    }

    /** Every slot key of the endpoint map, as "serviceId/revision". */
    private static long slotsOfRevision(LoadBalancerMaps maps, String service, int revision) {
        return maps.endpoints().entries().keySet().stream()
                .filter(k -> k.serviceId() == id(service) && k.revision() == revision).count();
    }

    @Test
    void theOldRevisionAndUnreferencedBackendsAreDeletedOnlyAfterThePass() {
        NodeState state = threeServices();
        AgentMetrics metrics = new AgentMetrics();
        try (LoadBalancerMaps maps = maps(Map.of());
             ServiceReconciler reconciler = new ServiceReconciler(state, maps, NODE_1, metrics, SETTINGS)) {
            reconciler.reconcileNow();
            int revA = revision(maps, "a");

            // a-3 joins a. The pass writes the backend, a's 3 new slots and its entry; a serves the new revision
            // whole, and the old revision's 2 slots are still there (nothing points at them).
            upsert(state, pod("a-3", "a", "192.0.2.13"));
            ServiceReconciler.Pass pass = reconciler.passOnly();
            assertEquals(1 + 3 + 1, pass.writes(), "backend, new slots, entry: the old slots are not deleted yet");
            assertEquals(revA + 1, revision(maps, "a"));
            assertEquals(Set.of("192.0.2.11:8080", "192.0.2.12:8080", "192.0.2.13:8080"), backends(maps, "a"));
            assertEquals(2, slotsOfRevision(maps, "a", revA));
            double before = mapWrites(metrics);
            assertEquals(2, reconciler.cleanUp());
            assertEquals(0, slotsOfRevision(maps, "a", revA));
            assertEquals(2, mapWrites(metrics) - before, "the deletes are counted as map writes");
            assertEquals(2, reconciler.lastCleanup().orElseThrow().writes());
            assertEquals(0, reconciler.cleanUp(), "nothing left");

            // b-2 goes: its backend is referenced by b's old revision only; it goes after that revision's slots.
            remove(state, Mesh.podName("default", "b-2"));
            reconciler.passOnly();
            assertEquals(Set.of("192.0.2.21:8080"), backends(maps, "b"));
            assertTrue(hasBackend(maps, "192.0.2.22"), "kept while an old slot may refer to it");
            assertEquals(2 + 1, reconciler.cleanUp(), "b's 2 old slots, then the backend");
            assertFalse(hasBackend(maps, "192.0.2.22"));
            assertEquals(3 + 1 + 1, maps.endpoints().entries().size(), "a's 3, b's 1, c's 1 and nothing else");
        }
    }

    private static boolean hasBackend(LoadBalancerMaps maps, String address) {
        return maps.backends().entries().values().stream().anyMatch(v -> v.address().getHostAddress().equals(address));
    }

    @Test
    void aPassBeforeTheCleanupDeletesTheLeftoversFirstAndPlansRight() {
        NodeState state = threeServices();
        try (LoadBalancerMaps maps = maps(Map.of());
             ServiceReconciler reconciler = new ServiceReconciler(state, maps, NODE_1, new AgentMetrics(), SETTINGS)) {
            reconciler.reconcileNow();
            upsert(state, pod("a-3", "a", "192.0.2.13"));
            reconciler.passOnly();
            // Another writer already deleted one of the old slots: a cleanup tolerates it.
            int revA = revision(maps, "a") - 1;
            maps.endpoints().remove(new EndpointKey(id("a"), revA, 0, 0));
            // The next change comes before the cleanup (or the cleanup failed): the pass deletes what is left first.
            upsert(state, pod("c-2", "c", "192.0.2.32"));
            ServiceReconciler.Pass next = reconciler.passOnly();
            assertEquals(1 + (1 + 2 + 1), next.writes(), "a's remaining old slot, then c: backend, 2 slots, entry");
            assertEquals(0, slotsOfRevision(maps, "a", revA));
            assertEquals(1, reconciler.cleanUp(), "c's old slot");
            assertEquals(3 + 2 + 2, maps.endpoints().entries().size());
            try (ServiceReconciler fresh = new ServiceReconciler(state, maps, NODE_1, new AgentMetrics(), SETTINGS)) {
                assertEquals(0, fresh.reconcileNow().writes(), "the view stayed exact");
            }
        }
    }

    @Test
    void anAgentStoppedBeforeItsCleanupLeavesOldRevisionsThatTheNextOneDeletes() {
        NodeState state = threeServices();
        try (LoadBalancerMaps maps = maps(Map.of())) {
            try (ServiceReconciler first = new ServiceReconciler(state, maps, NODE_1, new AgentMetrics(), SETTINGS)) {
                first.reconcileNow();
                upsert(state, pod("a-3", "a", "192.0.2.13"));
                remove(state, Mesh.podName("default", "b-2"));
                first.passOnly(); // answered, then stopped before deleting: a's 2 and b's 2 old slots, b-2's backend
            }
            assertEquals(5 + 4, maps.endpoints().entries().size());
            AgentMetrics metrics = new AgentMetrics();
            try (ServiceReconciler again = new ServiceReconciler(state, maps, NODE_1, metrics, SETTINGS)) {
                ServiceReconciler.Pass adopt = again.reconcileNow();
                assertTrue(adopt.full());
                assertEquals(4 + 1, adopt.writes(), "only the leftovers: 4 old slots, then the unreferenced backend");
                assertEquals(3 + 1 + 1, maps.endpoints().entries().size());
                assertFalse(hasBackend(maps, "192.0.2.22"));
                assertEquals(Set.of("192.0.2.11:8080", "192.0.2.12:8080", "192.0.2.13:8080"), backends(maps, "a"));
                assertEquals(0, again.reconcileNow().writes());
            }
        }
    }

    @Test
    void aLoneChangeGoesAtOnceAndABurstRightAfterAPassIsCoalesced() throws Exception {
        NodeState state = threeServices();
        // A debounce far longer than the test: a pass that waited for it could not be seen here.
        ServiceReconciler.Settings slow = new ServiceReconciler.Settings(Duration.ofSeconds(60), Duration.ofSeconds(120),
                Duration.ofSeconds(30));
        AgentMetrics metrics = new AgentMetrics();
        try (LoadBalancerMaps maps = maps(Map.of());
             ServiceReconciler reconciler = new ServiceReconciler(state, maps, NODE_1, metrics, slow).start()) {
            // The reconciler was idle: the state is applied without waiting the 60 s.
            reconciler.applied(state.snapshot().generation()).toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertEquals(Set.of("192.0.2.11:8080", "192.0.2.12:8080"), backends(maps, "a"));

            // Changes right after a pass are a burst: they wait for the quiet time (60 s here), not applied now.
            upsert(state, pod("a-3", "a", "192.0.2.13"));
            upsert(state, pod("a-4", "a", "192.0.2.14"));
            var burst = reconciler.applied(state.snapshot().generation()).toCompletableFuture();
            Thread.sleep(1_000);
            assertFalse(burst.isDone(), "a burst right after a pass waits for the debounce");
            assertEquals(Set.of("192.0.2.11:8080", "192.0.2.12:8080"), backends(maps, "a"));
        }
    }
}
