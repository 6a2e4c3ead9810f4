package io.mocket.agent;

import static io.mocket.agent.Mesh.failover;
import static io.mocket.agent.Mesh.member;
import static io.mocket.agent.Mesh.port;
import static io.mocket.agent.Mesh.serviceName;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Message;
import io.mocket.api.istio.workload.LoadBalancing.Scope;
import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The reconciler's per-service desired view: after any sequence of changes, recomputing only what each change
 * touched gives exactly what {@link DesiredState#compute} gives over the whole store.
 */
class DesiredViewTest {

    private static final NodeTopology NODE_1 = new NodeTopology("node-1", "", "Kubernetes", Optional.empty());

    private final NodeState state = new NodeState();
    private final DesiredView view = new DesiredView(NODE_1);
    private long seen = -1;

    private DesiredView.Update sync() {
        NodeState.Snapshot s = state.snapshot();
        DesiredView.Update u = view.update(s, state.changesSince(seen, s.generation()), Set.of());
        seen = s.generation();
        DesiredState expected = DesiredState.compute(s, NODE_1);
        DesiredState actual = view.all();
        assertEquals(expected.services(), actual.services(), "service ports at generation " + s.generation());
        assertEquals(expected.problems(), actual.problems(), "problems at generation " + s.generation());
        return u;
    }

    private void upsert(Message... resources) {
        List<NodeState.Entry<?>> entries = new ArrayList<>();
        for (Message m : resources) {
            String name = m instanceof Service s ? s.getNamespace() + "/" + s.getHostname() : ((Workload) m).getUid();
            entries.add(new NodeState.Entry<>(name, Mesh.version(m), m));
        }
        state.apply(new NodeState.Update(ResourceKind.ADDRESS, entries, List.of(), true));
    }

    private void remove(String... names) {
        state.apply(new NodeState.Update(ResourceKind.ADDRESS, List.of(), List.of(names), true));
    }

    private static Service service(int i, String vip, boolean failover) {
        Service.Builder b = Mesh.service("ns", "svc-" + i, List.of(vip), port(80, 8080), port(443, 0));
        if (failover) {
            b.setLoadBalancing(failover(Scope.REGION, Scope.ZONE));
        }
        return b.build();
    }

    private static Workload pod(int j, int service, String node, String zone, boolean healthy) {
        Workload.Builder w = member(Mesh.pod("ns", "pod-" + j, node, "r1/" + zone, List.of("10.0." + (j / 200) + "."
                + (j % 200 + 1))), serviceName("ns", "svc-" + service), port(443, 9443));
        return (healthy ? w : Mesh.unhealthy(w)).build();
    }

    @Test
    void aChangeRecomputesOnlyTheServicesItTouches() {
        upsert(service(1, "10.96.0.1", false), service(2, "10.96.0.2", false), pod(1, 1, "node-2", "z1", true),
                pod(2, 2, "node-2", "z1", true));
        assertTrue(sync().full());

        upsert(pod(3, 1, "node-2", "z1", true));
        DesiredView.Update join = sync();
        assertFalse(join.full());
        assertEquals(Set.of(serviceName("ns", "svc-1")), join.services());

        upsert(pod(3, 2, "node-2", "z1", true));
        assertEquals(Set.of(serviceName("ns", "svc-1"), serviceName("ns", "svc-2")), sync().services(),
                "a move touches the service left and the one joined");

        // A new version with nothing the load balancer reads changed touches nothing.
        upsert(Mesh.pod("ns", "pod-3", "node-2", "r1/z1", List.of("10.0.0.4")).setCanonicalName("x")
                .putServices(serviceName("ns", "svc-2"), io.mocket.api.istio.workload.PortList.newBuilder()
                        .addPorts(io.mocket.api.istio.workload.Port.newBuilder().setServicePort(443)
                                .setTargetPort(9443)).build()).build());
        assertEquals(Set.of(), sync().services());

        // A service that takes another's VIP competes for it: both are recomputed.
        upsert(service(0, "10.96.0.2", false));
        DesiredView.Update conflict = sync();
        assertEquals(Set.of(serviceName("ns", "svc-0"), serviceName("ns", "svc-2")), conflict.services());
        assertTrue(conflict.removedKeys().contains(serviceName("ns", "svc-2") + ":80/v4"), "svc-0 sorts first");
    }

    @Test
    void whatTheNodesOwnWorkloadsSayAboutItsLocalityRecomputesEverything() {
        upsert(service(1, "10.96.0.1", true), pod(1, 1, "node-2", "z1", true), pod(2, 1, "node-3", "z2", true),
                pod(3, 7, "node-1", "z1", true));
        sync();
        upsert(pod(3, 7, "node-1", "z2", true)); // this node moved to z2: the FAILOVER ranks flip
        assertTrue(sync().full());
    }

    @Test
    void randomChangesGiveTheSameStateAsAFullComputation() {
        Random random = new Random(42);
        for (int step = 0; step < 300; step++) {
            int op = random.nextInt(10);
            int i = random.nextInt(8);
            if (op < 5) {
                String node = random.nextInt(6) == 0 ? "node-1" : "node-" + (2 + random.nextInt(3));
                upsert(pod(random.nextInt(40), i, node, "z" + random.nextInt(3), random.nextInt(5) != 0));
            } else if (op < 7) {
                remove(Mesh.podName("ns", "pod-" + random.nextInt(40)));
            } else if (op < 9) {
                // VIPs drawn from a small set, so services fight over them.
                upsert(service(i, "10.96.0." + random.nextInt(5), random.nextBoolean()));
            } else {
                remove(serviceName("ns", "svc-" + i));
            }
            sync();
        }
    }
}
