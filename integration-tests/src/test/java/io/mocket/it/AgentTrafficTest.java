package io.mocket.it;

import static io.mocket.it.TwoNodeMesh.DNS_PORT;
import static io.mocket.it.TwoNodeMesh.ECHO_PORT;
import static io.mocket.it.TwoNodeMesh.expectOk;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.mocket.bpf.L4Protocol;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Service traffic through the production data plane: the real control plane reads the cluster as Kubernetes
 * YAML, one real node agent per node programs its node's maps over xDS. Besides the core traffic cases, these
 * tests prove what only the processes can show: scaling by editing the cluster, kill -9 of an agent and a
 * restart of the control plane under load without one failed connection, and the agent's TCP metrics.
 */
class AgentTrafficTest {

    private static final String PREFIX = "mkita";
    private static final String ECHO_VIP = "10.252.0.10";
    private static final String DNS_VIP = "10.252.0.53";
    /** Bounds of every load loop: batches of this many connections, at most this many batches, this long. */
    private static final int BATCH = 20;
    private static final int MAX_BATCHES = 3000;
    private static final Duration LOAD_DEADLINE = Duration.ofSeconds(120);

    private TwoNodeMesh mesh;
    private AgentDataPlane agents;

    @BeforeEach
    void buildCluster() {
        mesh = new TwoNodeMesh(PREFIX, (cluster, libbpf) -> {
            agents = new AgentDataPlane(cluster, reports().resolve("agent-logs").resolve(cluster.id()));
            return agents;
        });
    }

    @AfterEach
    void removeCluster() {
        // This test's own cluster only: other runs of the suite on a shared machine use the same prefix meanwhile.
        String own = mesh == null ? PREFIX : mesh.cluster.id() + "-";
        if (mesh != null) {
            mesh.close();
        }
        List<String> ours = HostCommand.runQuietly("ip", "netns", "list").lines()
                .filter(l -> l.startsWith(own)).toList();
        assertEquals(List.of(), ours, "no namespace of this test's cluster (" + own + "*) is left");
    }

    private MeshService echo(List<Pod> endpoints) {
        return new MeshService("echo", ip(ECHO_VIP), List.of(new MeshService.Port(80, ECHO_PORT, L4Protocol.TCP)),
                endpoints);
    }

    @Test
    void tcpAndUdpThroughVipsProgrammedByTheAgents() {
        mesh.dataPlane.publish(echo(List.of(mesh.echoA, mesh.echoB)));
        mesh.dataPlane.publish(new MeshService("dns", ip(DNS_VIP),
                List.of(new MeshService.Port(53, DNS_PORT, L4Protocol.UDP)), List.of(mesh.echoB)));
        awaitServed("tcp " + ECHO_VIP + " 80 10");

        String many = mesh.client("tcp-many " + ECHO_VIP + " 80 60 100");
        expectOk(many);
        assertEquals(Set.of("echo-a", "echo-b"), counts(field(many, "backends")).keySet(),
                "the local and the remote backend: " + many);
        assertEquals("{}", field(many, "errors"), many);

        String one = mesh.client("tcp " + ECHO_VIP + " 80 1000");
        expectOk(one);
        assertEquals(ECHO_VIP + ":80", field(one, "peer"), "getpeername returns the VIP the client dialled: " + one);

        awaitServed("dns " + DNS_VIP + " 53 1 echo.mesh.svc.cluster.local");
        String r = mesh.client("dns " + DNS_VIP + " 53 4242 echo.mesh.svc.cluster.local");
        expectOk(r);
        assertEquals(DNS_VIP + ":53", field(r, "from"), "the reply appears to come from the VIP: " + r);
        assertEquals("4242", field(r, "id"), r);
        assertEquals(mesh.echoB.ip(), field(r, "answer"), "answered by the backend on the other node: " + r);
    }

    @Test
    void scalingByEditingTheClusterMovesNewConnections() throws Exception {
        mesh.dataPlane.publish(echo(List.of(mesh.echoA)));
        awaitServed("tcp " + ECHO_VIP + " 80 10");
        expectOk(mesh.client("tcp-many " + ECHO_VIP + " 80 300 0"));

        Duration up = timeUntilConnectionsFollow("reach", Set.of("echo-b"), echo(List.of(mesh.echoA, mesh.echoB)));
        Duration down = timeUntilConnectionsFollow("only", Set.of("echo-b"), echo(List.of(mesh.echoB)));
        String after = mesh.client("tcp-many " + ECHO_VIP + " 80 30 0");
        assertEquals(Map.of("echo-b", 30), counts(field(after, "backends")), after);

        // A generous bound, not a speed target: the file watcher, the control plane's debounce, xDS and the
        // agent's debounce are all in the path.
        assertTrue(up.compareTo(Duration.ofSeconds(20)) < 0 && down.compareTo(Duration.ofSeconds(20)) < 0,
                "scaling took " + up + " / " + down);
        report(String.format("%s scaling through the agent (file -> control plane -> xDS -> agent -> maps):"
                        + " backend added, first new connection on it after %.1f ms; backend removed, connections"
                        + " only on the remaining one after %.1f ms",
                Instant.now(), up.toNanos() / 1e6, down.toNanos() / 1e6));
    }

    @Test
    void killingAnAgentUnderLoadFailsNoConnectionAndTheRestartAdoptsThePins() throws Exception {
        mesh.dataPlane.publish(echo(List.of(mesh.echoA, mesh.echoB)));
        awaitServed("tcp " + ECHO_VIP + " 80 10");
        ClusterNode node = mesh.client.node();
        Set<String> pinsBefore = pins(node);

        Load load = underLoad(() -> {
            agents.killAgent(node);
            agents.restartAgent(node);
        });
        assertEquals(0, load.errors(), "connections failed while the agent was down: " + load);
        assertTrue(load.connections() >= BATCH * 3, "load kept running across the restart: " + load);
        assertEquals(pinsBefore, pins(node), "the restarted agent uses the same pins");
        assertEquals(0, metric(agents.agentAdmin(node, "/metrics").body(), "mocket_agent_map_writes_total"),
                "the restarted agent adopted the maps without writing");
        report(String.format("%s agent kill -9 and restart under load: %s", Instant.now(), load));
    }

    @Test
    void restartingTheControlPlaneUnderLoadChangesNothingInTheDataPath() throws Exception {
        mesh.dataPlane.publish(echo(List.of(mesh.echoA, mesh.echoB)));
        awaitServed("tcp " + ECHO_VIP + " 80 10");

        Load load = underLoad(() -> {
            agents.killControlPlane();
            agents.restartControlPlane();
            for (ClusterNode n : mesh.cluster.nodes()) {
                agents.awaitAgentReady(n);
            }
        });
        for (ClusterNode n : mesh.cluster.nodes()) {
            awaitReconnected(n);
        }
        assertEquals(0, load.errors(), "connections failed while the control plane restarted: " + load);
        assertTrue(load.connections() >= BATCH * 3, "load kept running across the restart: " + load);
        // The agents are connected to the new control plane: a change still reaches the data path.
        mesh.dataPlane.publish(echo(List.of(mesh.echoC)));
        awaitBackend("echo-c");
        report(String.format("%s control plane kill -9 and restart under load: %s", Instant.now(), load));
    }

    @Test
    void theAgentCountsConnectionsAndBytesThroughAVip() throws Exception {
        mesh.dataPlane.publish(echo(List.of(mesh.echoB)));
        awaitServed("tcp " + ECHO_VIP + " 80 10");
        ClusterNode node = mesh.client.node();
        String series = "istio_tcp_connections_opened_total";
        // The baseline must include the readiness probe's connection: its bytes are counted when it closes,
        // which can be after the probe returned. Wait until every connection opened so far is closed and counted.
        long settle = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < settle && sum(node, series, "reporter=\"source\"")
                != sum(node, "istio_tcp_connections_closed_total", "reporter=\"source\"")) {
            Thread.sleep(200);
        }
        long openedBefore = sum(node, series, "reporter=\"source\"");
        long sentBefore = sum(node, "istio_tcp_received_bytes_total", "reporter=\"source\"");

        int connections = 25;
        int bytes = 20_000;
        String r = mesh.client("tcp-many " + ECHO_VIP + " 80 " + connections + " " + bytes);
        expectOk(r);
        assertEquals("{}", field(r, "errors"), r);

        // The agent collects every 5 s and at each scrape; closed connections are counted once.
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        long opened = 0;
        long sent = 0;
        while (System.nanoTime() < deadline) {
            opened = sum(node, series, "reporter=\"source\"") - openedBefore;
            sent = sum(node, "istio_tcp_received_bytes_total", "reporter=\"source\"") - sentBefore;
            if (opened >= connections && sent >= (long) connections * bytes) {
                break;
            }
            Thread.sleep(200);
        }
        assertEquals(connections, opened, "connections opened as the client's node reports them");
        // Request direction in sequence space: the payload plus at most the SYN and the FIN per connection.
        assertTrue(sent >= (long) connections * bytes && sent <= (long) connections * (bytes + 2),
                "request bytes " + sent + " for " + connections + " x " + bytes);
    }

    // ------------------------------------------------------------------ load

    /** Connections made and failed by a load loop, and how long it ran. */
    private record Load(int connections, int errors, Duration took, String lastErrors) {
        @Override
        public String toString() {
            return String.format("%d connections in %.1f s, %d failed%s", connections, took.toNanos() / 1e9,
                    errors, errors == 0 ? "" : " (" + lastErrors + ")");
        }
    }

    /** Something done to the processes while the client dials; may throw. */
    private interface Disruption {
        void run() throws Exception;
    }

    /**
     * Dials the VIP from the client pod in batches while {@code disruption} runs on another thread, and for
     * two batches after it: bounded by {@link #MAX_BATCHES} and {@link #LOAD_DEADLINE}.
     */
    private Load underLoad(Disruption disruption) throws Exception {
        AtomicBoolean done = new AtomicBoolean();
        CompletableFuture<Void> disrupted = CompletableFuture.runAsync(() -> {
            try {
                Thread.sleep(300); // connections are flowing before anything is killed
                disruption.run();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            } finally {
                done.set(true);
            }
        });
        long begin = System.nanoTime();
        long deadline = begin + LOAD_DEADLINE.toNanos();
        int connections = 0;
        int errors = 0;
        int after = 0;
        String lastErrors = "";
        for (int batch = 0; batch < MAX_BATCHES && System.nanoTime() < deadline && after < 2; batch++) {
            if (done.get()) {
                after++;
            }
            String r = mesh.client("tcp-many " + ECHO_VIP + " 80 " + BATCH + " 10");
            if (!r.startsWith("ok")) {
                errors += BATCH;
                lastErrors = r;
                continue;
            }
            connections += BATCH;
            String e = field(r, "errors");
            int failed = counts(e).values().stream().mapToInt(Integer::intValue).sum();
            if (failed > 0) {
                errors += failed;
                lastErrors = e;
            }
        }
        disrupted.get(30, TimeUnit.SECONDS);
        assertTrue(after >= 2, "the load stopped at its bounds (" + connections + " connections, "
                + LOAD_DEADLINE + ") before the disruption was over: it did not cover the whole disruption");
        return new Load(connections, errors, Duration.ofNanos(System.nanoTime() - begin), lastErrors);
    }

    // ------------------------------------------------------------------ waits

    /** Waits until the agents have programmed what the probe command needs (bounded). */
    private void awaitServed(String command) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        String last = "";
        while (System.nanoTime() < deadline) {
            last = mesh.client(command);
            if (last.startsWith("ok")) {
                return;
            }
            pause();
        }
        fail("not served within 30 s: " + command + " -> " + last);
    }

    private void awaitBackend(String backend) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        String last = "";
        while (System.nanoTime() < deadline) {
            last = mesh.client("tcp " + ECHO_VIP + " 80 10");
            if (last.startsWith("ok") && field(last, "backend").equals(backend)) {
                return;
            }
            pause();
        }
        fail("connections did not reach " + backend + " within 30 s: " + last);
    }

    /** Waits until a node's agent has opened a second xDS stream and is connected on it (bounded). */
    private void awaitReconnected(ClusterNode node) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        String body = "";
        while (System.nanoTime() < deadline) {
            body = agents.agentAdmin(node, "/metrics").body();
            if (metric(body, "mocket_agent_xds_streams_total") >= 2 && metric(body, "mocket_agent_xds_connected") == 1) {
                return;
            }
            Thread.sleep(100);
        }
        fail("the agent of " + node.name() + " did not reconnect to the restarted control plane within 30 s: "
                + body.lines().filter(l -> l.startsWith("mocket_agent_xds")).toList());
    }

    /** Time from just before the change to the first connection that followed it (probe clock = ours). */
    private Duration timeUntilConnectionsFollow(String mode, Set<String> labels, MeshService change)
            throws Exception {
        mesh.clientProbe.send("follow " + ECHO_VIP + " 80 " + mode + " " + String.join(",", labels)
                + " 400000 30000");
        assertEquals("started", mesh.clientProbe.nextLine(TwoNodeMesh.CALL));
        Thread.sleep(50);
        long changed = System.nanoTime();
        mesh.dataPlane.publish(change);
        String result = mesh.clientProbe.nextLine(Duration.ofSeconds(45));
        expectOk(result);
        return Duration.ofNanos(Math.max(0, Long.parseLong(field(result, "t")) - changed));
    }

    // ------------------------------------------------------------------ helpers

    private Set<String> pins(ClusterNode node) throws IOException {
        try (var walk = Files.walk(node.pinDirectory())) {
            return walk.map(p -> node.pinDirectory().relativize(p).toString()).collect(Collectors.toSet());
        }
    }

    /** Sum of a metric's samples whose labels contain {@code label}. */
    private long sum(ClusterNode node, String name, String label) throws Exception {
        String body = agents.agentAdmin(node, "/metrics").body();
        return body.lines()
                .filter(l -> l.startsWith(name + "{") && l.contains(label))
                .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
                .sum();
    }

    private static long metric(String body, String name) {
        return body.lines()
                .filter(l -> l.startsWith(name + " ") || l.startsWith(name + "{"))
                .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
                .sum();
    }

    private static Path reports() {
        return Path.of(System.getProperty("mocket.it.reports", "target/it-reports"));
    }

    private static void report(String line) throws IOException {
        System.out.println(line);
        Files.createDirectories(reports());
        Files.writeString(reports().resolve("agent.txt"), line + "\n", StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static InetAddress ip(String text) {
        try {
            return InetAddress.getByName(text);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(text, e);
        }
    }

    private static String field(String answer, String name) {
        Matcher m = Pattern.compile("(?:^| )" + name + "=(\\S*)").matcher(answer);
        assertTrue(m.find(), "no " + name + " in: " + answer);
        return m.group(1);
    }

    /** Parses {@code {a=1,b=2}}. */
    private static Map<String, Integer> counts(String text) {
        String body = text.substring(1, text.length() - 1);
        if (body.isEmpty()) {
            return Map.of();
        }
        return Arrays.stream(body.split(","))
                .map(kv -> kv.split("="))
                .collect(Collectors.toMap(kv -> kv[0], kv -> Integer.parseInt(kv[1])));
    }
}
