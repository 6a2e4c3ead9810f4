package io.mocket.agent;

import static io.mocket.agent.Mesh.failover;
import static io.mocket.agent.Mesh.member;
import static io.mocket.agent.Mesh.pod;
import static io.mocket.agent.Mesh.port;
import static io.mocket.agent.Mesh.service;
import static io.mocket.agent.Mesh.serviceName;
import static io.mocket.agent.Mesh.store;
import static io.mocket.agent.Mesh.unhealthy;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mocket.api.istio.workload.LoadBalancing;
import io.mocket.api.istio.workload.LoadBalancing.Scope;
import io.mocket.api.istio.workload.NetworkAddress;
import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import io.mocket.bpf.FrontendKey;
import io.mocket.bpf.HealthPolicy;
import io.mocket.bpf.L4Protocol;
import io.mocket.bpf.LbMode;
import java.net.InetAddress;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The desired map content for one node, computed from the store without a kernel. */
class DesiredStateTest {

    private static final String WEB = serviceName("default", "web");
    private static final NodeTopology NODE_1 = new NodeTopology("node-1", "", "Kubernetes", Optional.empty());

    private static DesiredState compute(List<Service> services, List<Workload> workloads) {
        return DesiredState.compute(store(services, workloads).snapshot(), NODE_1);
    }

    private static List<String> members(DesiredState.ServicePort sp, int priority) {
        return sp.byPriority().get(priority).stream()
                .map(m -> m.address().getHostAddress() + ":" + m.targetPort()).toList();
    }

    @Test
    void everyVipPortAndFamilyGetsTcpAndUdpFrontendsAndBackendsOfItsFamily() {
        Service web = service("default", "web", List.of("10.96.0.10", "fd00::10"), port(80, 8080), port(443, 8443))
                .build();
        Workload v4 = member(pod("default", "web-0", "node-1", "r1/z1", List.of("10.0.0.1")), WEB).build();
        Workload dual = member(pod("default", "web-1", "node-2", "r1/z1", List.of("10.0.0.2", "fd00:1::2")), WEB)
                .build();

        DesiredState d = compute(List.of(web), List.of(v4, dual));

        assertEquals(List.of(WEB + ":443/v4", WEB + ":443/v6", WEB + ":80/v4", WEB + ":80/v6"),
                d.services().stream().map(DesiredState.ServicePort::key).toList());
        DesiredState.ServicePort http4 = d.services().get(2);
        assertEquals(List.of(new FrontendKey(InetAddress.ofLiteral("10.96.0.10"), 80, L4Protocol.TCP),
                new FrontendKey(InetAddress.ofLiteral("10.96.0.10"), 80, L4Protocol.UDP)), http4.frontends());
        assertEquals(List.of("10.0.0.1:8080", "10.0.0.2:8080"), members(http4, 0));
        DesiredState.ServicePort http6 = d.services().get(3);
        assertEquals(List.of("fd00:1:0:0:0:0:0:2:8080"), members(http6, 0));
        assertEquals(LbMode.UNSPECIFIED, http4.lbMode());
        assertEquals(HealthPolicy.ONLY_HEALTHY, http4.healthPolicy());
        assertTrue(d.problems().isEmpty());
    }

    @Test
    void namedTargetPortsResolvePerWorkloadAndNumericOnesComeFromTheService() {
        // Port 80 targets a named port (0 on the service): each workload says where it listens, or is left out.
        Service web = service("default", "web", List.of("10.96.0.10"), port(80, 0), port(9000, 9001)).build();
        Workload resolves = member(pod("default", "web-0", "node-1", "r1/z1", List.of("10.0.0.1")), WEB,
                port(80, 8081)).build();
        Workload other = member(pod("default", "web-1", "node-1", "r1/z1", List.of("10.0.0.2")), WEB,
                port(80, 8082)).build();
        Workload lacksNamedPort = member(pod("default", "web-2", "node-1", "r1/z1", List.of("10.0.0.3")), WEB).build();

        DesiredState d = compute(List.of(web), List.of(resolves, other, lacksNamedPort));

        assertEquals(List.of("10.0.0.1:8081", "10.0.0.2:8082"), members(d.services().get(0), 0));
        assertEquals(List.of("10.0.0.1:9001", "10.0.0.2:9001", "10.0.0.3:9001"), members(d.services().get(1), 0));
    }

    @Test
    void onlyHealthyLeavesUnhealthyWorkloadsOutAndAllowAllKeepsThem() {
        Workload healthy = member(pod("default", "web-0", "node-1", "r1/z1", List.of("10.0.0.1")), WEB).build();
        Workload sick = unhealthy(member(pod("default", "web-1", "node-1", "r1/z1", List.of("10.0.0.2")), WEB)).build();
        Service onlyHealthy = service("default", "web", List.of("10.96.0.10"), port(80, 8080)).build();
        Service allowAll = onlyHealthy.toBuilder().setLoadBalancing(LoadBalancing.newBuilder()
                .setHealthPolicy(LoadBalancing.HealthPolicy.ALLOW_ALL)).build();

        assertEquals(List.of("10.0.0.1:8080"),
                members(compute(List.of(onlyHealthy), List.of(healthy, sick)).services().getFirst(), 0));
        DesiredState.ServicePort all = compute(List.of(allowAll), List.of(healthy, sick)).services().getFirst();
        assertEquals(List.of("10.0.0.1:8080", "10.0.0.2:8080"), members(all, 0));
        assertEquals(HealthPolicy.ALLOW_ALL, all.healthPolicy());
    }

    @Test
    void failoverRanksBackendsByTheRoutingPreferencesTheyShareWithThisNode() {
        Service web = service("default", "web", List.of("10.96.0.10"), port(80, 8080))
                .setLoadBalancing(failover(Scope.REGION, Scope.ZONE, Scope.NODE)).build();
        List<Workload> pods = List.of(
                member(pod("default", "here-0", "node-1", "r1/z1", List.of("10.0.1.1")), WEB).build(),
                member(pod("default", "zone-0", "node-2", "r1/z1", List.of("10.0.2.1")), WEB).build(),
                member(pod("default", "region-0", "node-3", "r1/z2", List.of("10.0.3.1")), WEB).build(),
                member(pod("default", "far-0", "node-4", "r2/z1", List.of("10.0.4.1")), WEB).build());

        DesiredState.ServicePort sp = compute(List.of(web), pods).services().getFirst();

        assertEquals(LbMode.FAILOVER, sp.lbMode());
        assertEquals(List.of("10.0.1.1:8080"), members(sp, 0));
        assertEquals(List.of("10.0.2.1:8080"), members(sp, 1));
        assertEquals(List.of("10.0.3.1:8080"), members(sp, 2));
        assertEquals(List.of("10.0.4.1:8080"), members(sp, 3));

        Service strict = web.toBuilder().setLoadBalancing(web.getLoadBalancing().toBuilder()
                .setMode(LoadBalancing.Mode.STRICT)).build();
        DesiredState.ServicePort s = compute(List.of(strict), pods).services().getFirst();
        assertEquals(LbMode.STRICT, s.lbMode());
        assertEquals(List.of("10.0.1.1:8080"), members(s, 0));
        assertEquals(1, s.members().size(), "STRICT keeps only backends matching every preference");
    }

    @Test
    void theNodesLocalityComesFromItsOwnWorkloadsUnlessConfigured() {
        Service web = service("default", "web", List.of("10.96.0.10"), port(80, 8080))
                .setLoadBalancing(failover(Scope.REGION, Scope.ZONE)).build();
        List<Workload> pods = List.of(
                member(pod("default", "a-0", "node-2", "r1/z1", List.of("10.0.2.1")), WEB).build(),
                member(pod("default", "b-0", "node-3", "r1/z2", List.of("10.0.3.1")), WEB).build(),
                // A pod of this node that is not a member still tells where the node is.
                pod("other", "client-0", "node-1", "r1/z2", List.of("10.0.1.9")).build());
        NodeState.Snapshot snapshot = store(List.of(web), pods).snapshot();

        DesiredState.ServicePort learned = DesiredState.compute(snapshot, NODE_1).services().getFirst();
        assertEquals(List.of("10.0.3.1:8080"), members(learned, 0));

        NodeTopology configured = new NodeTopology("node-1", "", "Kubernetes", Optional.of(
                io.mocket.api.istio.workload.Locality.newBuilder().setRegion("r1").setZone("z1").build()));
        DesiredState.ServicePort pinned = DesiredState.compute(snapshot, configured).services().getFirst();
        assertEquals(List.of("10.0.2.1:8080"), members(pinned, 0));
    }

    @Test
    void otherNetworksPassthroughAndVipsClaimedTwiceAreLeftOut() {
        Service remoteVip = service("default", "remote", List.of(), port(80, 80))
                .addAddresses(NetworkAddress.newBuilder().setNetwork("net-2").setAddress(Mesh.ip("10.96.0.20")))
                .build();
        Service passthrough = service("default", "pass", List.of("10.96.0.30"), port(80, 80))
                .setLoadBalancing(LoadBalancing.newBuilder().setMode(LoadBalancing.Mode.PASSTHROUGH)).build();
        Service first = service("a", "first", List.of("10.96.0.40"), port(80, 80)).build();
        Service second = service("b", "second", List.of("10.96.0.40"), port(80, 80)).build();
        Workload elsewhere = member(pod("default", "web-0", "node-9", "r1/z1", List.of("10.0.0.1")), WEB)
                .setNetwork("net-2").build();
        Service web = service("default", "web", List.of("10.96.0.10"), port(80, 8080)).build();

        DesiredState d = compute(List.of(remoteVip, passthrough, first, second, web), List.of(elsewhere));

        assertEquals(List.of(serviceName("a", "first") + ":80/v4", WEB + ":80/v4"),
                d.services().stream().map(DesiredState.ServicePort::key).toList());
        assertTrue(d.services().get(1).members().isEmpty(), "a workload on another network is no backend here");
        assertTrue(d.problems().get(serviceName("b", "second")).contains("10.96.0.40:80"), d.problems().toString());
    }

    @Test
    void hostNetworkWorkloadsSharingAnAddressGetOneSlot() {
        Service web = service("default", "web", List.of("10.96.0.10"), port(80, 8080)).build();
        Workload a = member(pod("default", "web-0", "node-1", "r1/z1", List.of("192.0.2.1")), WEB).build();
        Workload b = member(pod("default", "web-1", "node-1", "r1/z1", List.of("192.0.2.1")), WEB).build();
        assertEquals(List.of("192.0.2.1:8080"), members(compute(List.of(web), List.of(a, b)).services().getFirst(), 0));
    }
}
