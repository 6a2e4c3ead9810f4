package io.mocket.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The cluster itself, with no data plane: routing between pods, isolation, and that nothing is left behind. */
class TestClusterTest {

    private static final String PREFIX = "mkitc";
    private static final Duration CALL = Duration.ofSeconds(30);

    private TestCluster cluster;

    @AfterEach
    void closeAndCheckNothingIsLeft() {
        if (cluster != null) {
            cluster.close();
            assertEquals(List.of(), cluster.leftovers(), "everything of " + cluster.id() + " is removed");
        }
        assertEquals(List.of(), namespacesWithPrefix(), "no namespace of the prefix " + PREFIX + " is left");
    }

    @Test
    void podsOnDifferentNodesTalkAcrossTheUnderlayAndReachNothingElse() {
        cluster = TestCluster.create(PREFIX, 2);
        Pod client = cluster.addPod(cluster.node(0), "client");
        Pod server = cluster.addPod(cluster.node(1), "server");
        Pod neighbour = cluster.addPod(cluster.node(0), "neighbour");
        assertEquals("10.251.0.2", client.ip());
        assertEquals("10.251.1.2", server.ip());
        assertEquals("10.251.0.3", neighbour.ip());

        PodProcess serverProbe = cluster.startProbe(server, Enrollment.NONE, "server");
        PodProcess neighbourProbe = cluster.startProbe(neighbour, Enrollment.NONE, "server");
        assertTrue(serverProbe.call("serve-tcp 8080 server", CALL).startsWith("ok"));
        assertTrue(neighbourProbe.call("serve-tcp 8080 neighbour", CALL).startsWith("ok"));
        PodProcess probe = cluster.startProbe(client, Enrollment.NONE, "client");

        String remote = probe.call("tcp " + server.ip() + " 8080 1000", CALL);
        assertTrue(remote.startsWith("ok"), remote);
        assertTrue(remote.contains("backend=server ") && remote.contains("echoed=1000"), remote);
        assertTrue(remote.contains("peer=10.251.1.2:8080 local=10.251.0.2:"), remote);
        String local = probe.call("tcp " + neighbour.ip() + " 8080 10", CALL);
        assertTrue(local.contains("backend=neighbour "), local);

        // The way there: pod -> its node (gateway) -> the other node over the underlay.
        String route = cluster.ip(client.netns(), "route", "get", server.ip());
        assertTrue(route.contains("via 10.251.0.1"), route);
        String nodeRoute = cluster.ip(cluster.node(0).netns(), "route", "get", server.ip());
        assertTrue(nodeRoute.contains("via 10.250.0.2 dev ul0"), nodeRoute);

        // Service VIPs and the outside world are unreachable from a pod: a missed rewrite cannot leave.
        assertEquals("err ENETUNREACH", errno(probe.call("tcp 10.252.0.10 80 0", CALL)));
        assertEquals("err ENETUNREACH", errno(probe.call("tcp 192.0.2.1 80 0", CALL)));
        assertEquals("err ENETUNREACH", errno(probe.call("dns 10.252.0.53 53 7 svc.test", CALL)));
        assertFalse(cluster.ip(client.netns(), "route", "show").contains("default"), "pods have no default route");
        for (var node : cluster.nodes()) {
            assertFalse(cluster.ip(node.netns(), "route", "show").contains("default"), "nodes have no default route");
        }
    }

    @Test
    void processesRunInTheirNodesCgroupOnlyWhenEnrolled() throws Exception {
        cluster = TestCluster.create(PREFIX, 2);
        Pod pod = cluster.addPod(cluster.node(1), "app");
        PodProcess enrolled = cluster.startProbe(pod, Enrollment.AMBIENT, "enrolled");
        PodProcess plain = cluster.startProbe(pod, Enrollment.NONE, "plain");
        List<String> members = Files.readAllLines(cluster.node(1).cgroupProcs());
        assertEquals(List.of(Long.toString(enrolled.pid())), members, "the enrolled probe, and only it");
        assertEquals(List.of(), Files.readAllLines(cluster.node(0).cgroupProcs()));
        assertEquals(List.of(Long.toString(plain.pid())),
                Files.readAllLines(cluster.cgroupRoot().resolve("unenrolled").resolve("cgroup.procs")),
                "a process that is not enrolled is still in the cluster's tree, under no program");
        assertTrue(cluster.cpuUsage().toNanos() > 0, "the tree accounts the CPU of its processes");
        assertTrue(Files.isDirectory(cluster.bpffs()), "private bpffs mounted");
    }

    @Test
    void aClusterWhoseOwnerDiedIsSweptByTheNextOne() throws Exception {
        TestCluster orphan = TestCluster.create(PREFIX, 2);
        try {
            Pod pod = orphan.addPod(orphan.node(0), "orphan");
            orphan.startProbe(pod, Enrollment.AMBIENT, "probe");
            // As if the JVM that built it had been killed: its owner file names a process that is gone.
            Files.writeString(orphan.bpffs().getParent().resolve("owner"), "999999999 1970-01-01T00:00:00Z\n");
            assertFalse(orphan.leftovers().isEmpty());

            cluster = TestCluster.create(PREFIX, 1);
            assertEquals(List.of(), orphan.leftovers(), "the new cluster removed the orphan's namespaces,"
                    + " mounts, cgroups and files");
            assertTrue(cluster.leftovers().contains("directory " + cluster.bpffs().getParent()),
                    "and kept its own");
        } finally {
            orphan.close();
        }
    }

    @Test
    void aStoppedOwnerCleansUpAndAKilledOnesLeftoversAreSwept() throws Exception {
        // SIGTERM: the owner's shutdown hook removes everything, programs and pins included.
        Owner stopped = Owner.start();
        stopped.process().destroy();
        assertTrue(stopped.process().waitFor(60, TimeUnit.SECONDS), "the stopped owner exits");
        assertEquals(List.of(), stopped.leftovers(), "a stopped owner leaves nothing");

        // SIGKILL: no hook runs; everything stays until the next cluster of the prefix sweeps it.
        Owner killed = Owner.start();
        killed.process().destroyForcibly();
        assertTrue(killed.process().waitFor(30, TimeUnit.SECONDS), "the killed owner is gone");
        assertFalse(killed.leftovers().isEmpty(), "a killed owner leaves its cluster behind");
        cluster = TestCluster.create(PREFIX, 1);
        // Its cgroup mount goes only once its cgroups are removed, which needs every process in them gone.
        assertEquals(List.of(), killed.leftovers(), "the next cluster swept the killed owner's namespaces, its"
                + " bpffs (pins, hence programs) and cgroup2 mounts, its processes and files");
    }

    /** A JVM running {@link ClusterOwnerMain}, and the id of the cluster it built. */
    private record Owner(Process process, String id) {

        static Owner start() throws Exception {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                    System.getProperty("java.class.path"), ClusterOwnerMain.class.getName(), PREFIX)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            try {
                CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
                    try {
                        return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))
                                .readLine();
                    } catch (IOException e) {
                        return e.toString();
                    }
                }, Thread::startVirtualThread);
                String built = line.get(60, TimeUnit.SECONDS);
                assertTrue(built != null && built.startsWith("built " + PREFIX), "owner built a cluster: " + built);
                return new Owner(p, built.substring("built ".length()));
            } catch (Exception | AssertionError e) {
                p.destroyForcibly();
                throw e;
            }
        }

        List<String> leftovers() {
            return TestCluster.leftoversOf(id, Path.of(System.getProperty("java.io.tmpdir")).resolve(id));
        }
    }

    private static String errno(String answer) {
        String[] words = answer.split(" ");
        return words.length > 1 ? words[0] + " " + words[1] : answer;
    }

    private static List<String> namespacesWithPrefix() {
        return HostCommand.runQuietly("ip", "netns", "list").lines()
                .map(l -> l.split(" ")[0]).filter(ns -> ns.startsWith(PREFIX)).toList();
    }
}
