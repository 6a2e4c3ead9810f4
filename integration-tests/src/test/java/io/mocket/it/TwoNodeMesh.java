package io.mocket.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mocket.bpf.Libbpf;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

/**
 * The cluster most service tests need: two nodes with Mocket's data plane, a client pod on node-0 and three
 * echo pods (echo-a on node-0, echo-b and echo-c on node-1), every pod enrolled. Each echo pod serves TCP on
 * 8080 (greeting with its name, then echo) and DNS-like UDP on 5353 (answering with its own IP).
 */
final class TwoNodeMesh implements AutoCloseable {

    static final Duration CALL = Duration.ofSeconds(30);
    static final int ECHO_PORT = 8080;
    static final int DNS_PORT = 5353;

    final TestCluster cluster;
    final Libbpf libbpf;
    final MeshDataPlane dataPlane;
    final Pod client;
    final Pod echoA;
    final Pod echoB;
    final Pod echoC;
    final PodProcess clientProbe;
    private final List<PodProcess> servers = new ArrayList<>();

    TwoNodeMesh(String prefix) {
        this(prefix, (cluster, libbpf) -> new MapsDataPlane(libbpf));
    }

    /** The same cluster with another data plane, e.g. the node agents fed by the control plane. */
    TwoNodeMesh(String prefix, BiFunction<TestCluster, Libbpf, MeshDataPlane> dataPlanes) {
        cluster = TestCluster.create(prefix, 2);
        MeshDataPlane started = null;
        try {
            libbpf = Libbpf.load();
            // The one line that decides how the data plane is driven: maps written directly (MapsDataPlane)
            // or the node agents fed by the control plane (AgentDataPlane).
            started = dataPlanes.apply(cluster, libbpf);
            for (ClusterNode node : cluster.nodes()) {
                started.startNode(node);
            }
            dataPlane = started;
            client = cluster.addPod(cluster.node(0), "client");
            echoA = cluster.addPod(cluster.node(0), "echo-a");
            echoB = cluster.addPod(cluster.node(1), "echo-b");
            echoC = cluster.addPod(cluster.node(1), "echo-c");
            for (Pod echo : List.of(echoA, echoB, echoC)) {
                PodProcess server = cluster.startProbe(echo, Enrollment.AMBIENT, "server");
                servers.add(server);
                expectOk(server.call("serve-tcp " + ECHO_PORT + " " + echo.name(), CALL));
                expectOk(server.call("serve-dns " + DNS_PORT + " " + echo.ip(), CALL));
            }
            clientProbe = cluster.startProbe(client, Enrollment.AMBIENT, "client");
        } catch (RuntimeException | Error e) {
            if (started != null) {
                started.close();
            }
            cluster.close();
            throw e;
        }
    }

    /** Asks the client probe; the answer line. */
    String client(String command) {
        return clientProbe.call(command, CALL);
    }

    /**
     * Stops the data plane, then the cluster, and checks that nothing is left: no pin directory of a node
     * (before the bpffs goes away with the cluster), no namespace, mount or cgroup, no work directory.
     */
    @Override
    public void close() {
        try {
            dataPlane.close();
            for (ClusterNode node : cluster.nodes()) {
                assertFalse(Files.exists(node.pinDirectory()), "pins of " + node.name() + " removed");
            }
        } finally {
            cluster.close();
        }
        assertEquals(List.of(), cluster.leftovers(), "everything of " + cluster.id() + " is removed");
    }

    static void expectOk(String answer) {
        assertTrue(answer.startsWith("ok"), answer);
    }
}
