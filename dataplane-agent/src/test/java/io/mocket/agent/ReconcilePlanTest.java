package io.mocket.agent;

import static io.mocket.agent.Mesh.member;
import static io.mocket.agent.Mesh.pod;
import static io.mocket.agent.Mesh.port;
import static io.mocket.agent.Mesh.service;
import static io.mocket.agent.Mesh.serviceName;
import static io.mocket.agent.Mesh.store;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import io.mocket.bpf.EndpointKey;
import io.mocket.bpf.EndpointValue;
import io.mocket.bpf.FrontendKey;
import io.mocket.bpf.LoadBalancerMaps;
import io.mocket.bpf.ServiceValue;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Plans against a simulated kernel: minimal diffs, stable ids, whole-or-nothing service ports. */
class ReconcilePlanTest {

    private static final String WEB = serviceName("default", "web");
    private static final String API = serviceName("default", "api");
    private static final NodeTopology NODE = new NodeTopology("node-1", "", "Kubernetes", Optional.empty());
    private static final ReconcilePlan.Capacity ROOMY = new ReconcilePlan.Capacity(1000, 1000, 1000, 1000);

    private final IdTable<String> serviceIds = IdTable.ofNames("service");
    private final IdTable<InetAddress> backendIds = IdTable.ofAddresses("backend");
    private final KernelView kernel = new KernelView();

    private static Service web() {
        return service("default", "web", List.of("10.96.0.10", "fd00::10"), port(80, 8080)).build();
    }

    private static Service api() {
        return service("default", "api", List.of("10.96.0.11"), port(9090, 9090)).build();
    }

    private static Workload webPod(int i) {
        return member(pod("default", "web-" + i, "node-1", "r1/z1", List.of("10.0.0." + i, "fd00:1::" + i)), WEB)
                .build();
    }

    private static Workload apiPod(int i) {
        return member(pod("default", "api-" + i, "node-2", "r1/z1", List.of("10.0.1." + i)), API).build();
    }

    private ReconcilePlan plan(List<Service> services, List<Workload> workloads, ReconcilePlan.Capacity capacity) {
        DesiredState desired = DesiredState.compute(store(services, workloads).snapshot(), NODE);
        return ReconcilePlan.compute(desired, kernel, serviceIds, backendIds, capacity);
    }

    /** Applies a plan to the simulated kernel the way the reconciler writes the real one. */
    private void apply(ReconcilePlan plan) {
        for (ReconcilePlan.Step step : plan.steps()) {
            switch (step) {
                case ReconcilePlan.RemoveFrontends r -> r.keys().forEach(kernel.frontends::remove);
                case ReconcilePlan.RemoveServices r -> r.serviceIds().forEach(id -> {
                    kernel.endpointEntries -= kernel.liveSlots(id);
                    kernel.services.remove(id);
                    kernel.slots.remove(id);
                });
                case ReconcilePlan.RemoveOrphanSlots r -> {
                    kernel.endpointEntries -= r.keys().size();
                    kernel.orphanSlots.clear();
                }
                case ReconcilePlan.WriteService w -> {
                    kernel.backends.putAll(w.backends());
                    if (w.replacesSlots()) {
                        ServiceValue old = kernel.services.get(w.serviceId());
                        List<Integer> counts = new ArrayList<>(w.slots().stream().map(List::size).toList());
                        ServiceValue next = new ServiceValue(old == null ? 1 : old.revision() + 1, counts,
                                w.servicePort().lbMode(), w.servicePort().healthPolicy());
                        kernel.endpointEntries += next.totalBackends() - kernel.liveSlots(w.serviceId());
                        kernel.services.put(w.serviceId(), next);
                        List<List<EndpointValue>> copy = new ArrayList<>();
                        w.slots().forEach(l -> copy.add(new ArrayList<>(l)));
                        kernel.slots.put(w.serviceId(), copy);
                    }
                    w.frontends().forEach(fk -> kernel.frontends.put(fk, w.serviceId()));
                }
                case ReconcilePlan.RemoveBackends r -> r.backendIds().forEach(kernel.backends::remove);
            }
        }
    }

    private static List<ReconcilePlan.WriteService> writes(ReconcilePlan plan) {
        return plan.steps().stream().filter(ReconcilePlan.WriteService.class::isInstance)
                .map(ReconcilePlan.WriteService.class::cast).toList();
    }

    @Test
    void anEmptyKernelGetsEverythingAndASecondPassWritesNothing() {
        ReconcilePlan first = plan(List.of(web(), api()), List.of(webPod(1), webPod(2), apiPod(1)), ROOMY);
        assertEquals(3, writes(first).size(), "web v4, web v6, api v4");
        apply(first);
        assertEquals(6, kernel.frontends.size(), "2 web VIPs x TCP/UDP + api VIP x TCP/UDP");
        assertEquals(5, kernel.backends.size());
        assertEquals(5, kernel.endpointEntries);

        ReconcilePlan second = plan(List.of(web(), api()), List.of(webPod(1), webPod(2), apiPod(1)), ROOMY);
        assertTrue(second.isEmpty(), "nothing changed, nothing written: " + second.steps());
    }

    @Test
    void oneNewBackendSwitchesOnlyTheServicePortsItJoins() {
        apply(plan(List.of(web(), api()), List.of(webPod(1), apiPod(1)), ROOMY));

        ReconcilePlan plan = plan(List.of(web(), api()), List.of(webPod(1), apiPod(1), apiPod(2)), ROOMY);

        List<ReconcilePlan.WriteService> w = writes(plan);
        assertEquals(1, w.size(), plan.steps().toString());
        assertEquals(API + ":9090/v4", w.getFirst().servicePort().key());
        assertEquals(1, w.getFirst().backends().size(), "only the new backend is written");
        assertTrue(w.getFirst().replacesSlots());
        assertTrue(w.getFirst().frontends().isEmpty(), "frontends already point at the service");
        assertEquals(1, plan.steps().size());
    }

    @Test
    void aServiceThatGoesAwayTakesItsFrontendsSlotsAndUnsharedBackendsWithIt() {
        apply(plan(List.of(web(), api()), List.of(webPod(1), apiPod(1)), ROOMY));
        int apiId = serviceIds.idOf(API + ":9090/v4").orElseThrow();

        ReconcilePlan plan = plan(List.of(web()), List.of(webPod(1), apiPod(1)), ROOMY);

        assertEquals(3, plan.steps().size(), plan.steps().toString());
        assertInstanceOf(ReconcilePlan.RemoveFrontends.class, plan.steps().get(0));
        assertEquals(List.of(apiId), ((ReconcilePlan.RemoveServices) plan.steps().get(1)).serviceIds());
        assertEquals(1, ((ReconcilePlan.RemoveBackends) plan.steps().get(2)).backendIds().size());
        apply(plan);
        assertEquals(4, kernel.frontends.size());
        assertEquals(2, kernel.endpointEntries);
    }

    @Test
    void idsAreTheHashOfTheNameAndARestartedAgentAdoptsThemWithoutWriting() {
        apply(plan(List.of(web(), api()), List.of(webPod(1), apiPod(1)), ROOMY));
        assertEquals(IdTable.fnv1a32(WEB + ":80/v4"), serviceIds.idOf(WEB + ":80/v4").orElseThrow());
        assertEquals(IdTable.fnv1a32("10.0.0.1"), backendIds.idOf(InetAddress.ofLiteral("10.0.0.1")).orElseThrow());

        // A new agent: empty id tables, the kernel as the old one left it.
        IdTable<String> freshServices = IdTable.ofNames("service");
        IdTable<InetAddress> freshBackends = IdTable.ofAddresses("backend");
        DesiredState desired = DesiredState.compute(store(List.of(web(), api()), List.of(webPod(1), apiPod(1)))
                .snapshot(), NODE);
        ReconcilePlan plan = ReconcilePlan.compute(desired, kernel, freshServices, freshBackends, ROOMY);
        assertTrue(plan.isEmpty(), plan.steps().toString());
        assertEquals(serviceIds.entries(), freshServices.entries());
    }

    @Test
    void aCollidingIdIsAdoptedFromTheKernelAfterARestart() {
        // The kernel serves web:80/v4 under an id that is not its hash (it collided when first written).
        int odd = IdTable.fnv1a32(WEB + ":80/v4") + 7;
        IdTable<String> seeded = IdTable.ofNames("service");
        seeded.adopt(WEB + ":80/v4", odd);
        DesiredState desired = DesiredState.compute(store(List.of(web()), List.of(webPod(1))).snapshot(), NODE);
        apply(ReconcilePlan.compute(desired, kernel, seeded, backendIds, ROOMY));
        assertEquals(odd, kernel.frontends.get(new FrontendKey(InetAddress.ofLiteral("10.96.0.10"), 80,
                io.mocket.bpf.L4Protocol.TCP)));

        IdTable<String> fresh = IdTable.ofNames("service");
        ReconcilePlan plan = ReconcilePlan.compute(desired, kernel, fresh, IdTable.ofAddresses("backend"), ROOMY);
        assertTrue(plan.isEmpty(), plan.steps().toString());
        assertEquals(odd, fresh.idOf(WEB + ":80/v4").orElseThrow());
    }

    @Test
    void assigningNeverReusesAnIdTheKernelStillHolds() {
        IdTable<String> t = IdTable.ofNames("service");
        int hash = IdTable.fnv1a32("x");
        assertEquals(hash + 1, t.assign("x", java.util.Set.of(hash)));
        assertNotEquals(0, IdTable.ofNames("s").assign("y", java.util.Set.of()));
    }

    @Test
    void aServicePortThatDoesNotFitIsLeftWholeAndReportedWithItsResources() {
        // Room for two slots: api (1 backend) and web's IPv4 port fit, web's IPv6 port does not.
        ReconcilePlan.Capacity tight = new ReconcilePlan.Capacity(1000, 1000, 2, 1000);
        ReconcilePlan plan = plan(List.of(web(), api()), List.of(webPod(1), apiPod(1)), tight);

        assertEquals(List.of(API + ":9090/v4", WEB + ":80/v4"),
                writes(plan).stream().map(w -> w.servicePort().key()).toList());
        assertTrue(plan.failures().get(WEB).contains(LoadBalancerMaps.ENDPOINT), plan.failures().toString());
        assertTrue(plan.failures().get(WEB).contains("port 80 (v6)"), plan.failures().toString());
        assertTrue(plan.failures().containsKey(Mesh.podName("default", "web-1")), "the member is named too");
        assertFalse(plan.failures().containsKey(API));
        assertEquals(List.of(LoadBalancerMaps.ENDPOINT), plan.fullMaps());
        apply(plan);
        assertFalse(kernel.frontends.containsKey(new FrontendKey(InetAddress.ofLiteral("fd00::10"), 80,
                io.mocket.bpf.L4Protocol.TCP)), "no frontend for a service port that is not there");
        assertEquals(2, kernel.endpointEntries);
    }

    @Test
    void aSwitchNeedsRoomForBothRevisionsAndKeepsTheOldSetWhenThereIsNone() {
        apply(plan(List.of(api()), List.of(apiPod(1), apiPod(2)), ROOMY));
        int id = serviceIds.idOf(API + ":9090/v4").orElseThrow();
        List<List<EndpointValue>> before = kernel.slots.get(id);

        ReconcilePlan plan = plan(List.of(api()), List.of(apiPod(1), apiPod(2), apiPod(3)),
                new ReconcilePlan.Capacity(1000, 1000, 4, 1000));

        assertTrue(writes(plan).isEmpty(), "2 old + 3 new slots do not fit in 4");
        assertFalse(plan.failures().isEmpty());
        apply(plan);
        assertEquals(before, kernel.slots.get(id));
        assertEquals(2, kernel.backends.size(), "the old set's backends stay, the new one is not written");
    }

    @Test
    void orphanedSlotsOfAnInterruptedSwitchAreDeleted() {
        apply(plan(List.of(api()), List.of(apiPod(1)), ROOMY));
        int id = serviceIds.idOf(API + ":9090/v4").orElseThrow();
        kernel.orphanSlots.add(new EndpointKey(id, 7, 0, 0));
        kernel.endpointEntries++;

        ReconcilePlan plan = plan(List.of(api()), List.of(apiPod(1)), ROOMY);
        assertEquals(1, plan.steps().size());
        assertInstanceOf(ReconcilePlan.RemoveOrphanSlots.class, plan.steps().getFirst());
    }
}
