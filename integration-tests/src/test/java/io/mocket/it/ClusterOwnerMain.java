package io.mocket.it;

import io.mocket.bpf.Libbpf;
import java.time.Duration;

/**
 * A separate JVM that owns a cluster, for the tests of what happens when an owner is stopped or killed:
 * builds a two-node cluster with Mocket's programs on both nodes and an enrolled probe, prints
 * {@code built <id>}, then waits for at most two minutes (a forgotten one ends by itself).
 */
public final class ClusterOwnerMain {

    private ClusterOwnerMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        TestCluster cluster = TestCluster.create(args[0], 2);
        MapsDataPlane dataPlane = new MapsDataPlane(Libbpf.load());
        for (ClusterNode node : cluster.nodes()) {
            dataPlane.startNode(node);
        }
        Pod pod = cluster.addPod(cluster.node(0), "app");
        cluster.startProbe(pod, Enrollment.AMBIENT, "probe");
        System.out.println("built " + cluster.id());
        System.out.flush();
        Thread.sleep(Duration.ofMinutes(2));
        dataPlane.close();
        cluster.close();
    }
}
