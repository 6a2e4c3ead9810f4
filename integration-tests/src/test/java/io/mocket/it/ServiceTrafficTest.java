package io.mocket.it;

import static io.mocket.it.TwoNodeMesh.DNS_PORT;
import static io.mocket.it.TwoNodeMesh.ECHO_PORT;
import static io.mocket.it.TwoNodeMesh.expectOk;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.mocket.bpf.ConnectionKey;
import io.mocket.bpf.ConnectionTotals;
import io.mocket.bpf.L4Protocol;
import io.mocket.bpf.LoadBalancerMaps;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Service traffic between pods of two nodes through Mocket's socket load balancer: each test gets a fresh
 * cluster and checks at its end that none of it is left.
 */
class ServiceTrafficTest {

    private static final String PREFIX = "mkits";
    private static final String ECHO_VIP = "10.252.0.10";
    private static final String DNS_VIP = "10.252.0.53";

    private TwoNodeMesh mesh;

    @BeforeEach
    void buildCluster() {
        mesh = new TwoNodeMesh(PREFIX);
    }

    @AfterEach
    void removeCluster() {
        if (mesh != null) {
            mesh.close();
        }
        List<String> ours = HostCommand.runQuietly("ip", "netns", "list").lines()
                .filter(l -> l.startsWith(PREFIX)).toList();
        assertEquals(List.of(), ours, "no namespace of the prefix " + PREFIX + " is left");
    }

    private MeshService echo(List<Pod> endpoints) {
        return new MeshService("echo", ip(ECHO_VIP), List.of(new MeshService.Port(80, ECHO_PORT, L4Protocol.TCP)),
                endpoints);
    }

    @Test
    void tcpToAVipReachesBackendsOnBothNodesAndGetpeernameShowsTheVip() {
        mesh.dataPlane.publish(echo(List.of(mesh.echoA, mesh.echoB)));

        String many = mesh.client("tcp-many " + ECHO_VIP + " 80 60 100");
        expectOk(many);
        Map<String, Integer> backends = counts(field(many, "backends"));
        assertEquals(Set.of("echo-a", "echo-b"), backends.keySet(), "the local and the remote backend: " + many);
        assertEquals("{}", field(many, "errors"), many);
        assertEquals("6000", field(many, "echoed"), many);

        String one = mesh.client("tcp " + ECHO_VIP + " 80 1000");
        expectOk(one);
        assertEquals(ECHO_VIP + ":80", field(one, "peer"), "getpeername returns the VIP the client dialled: " + one);
        assertTrue(Set.of("echo-a", "echo-b").contains(field(one, "backend")), one);
        assertEquals("1000", field(one, "echoed"), one);
    }

    @Test
    void aDnsLikeUdpQueryToAVipIsAnsweredFromTheVip() {
        mesh.dataPlane.publish(new MeshService("dns", ip(DNS_VIP),
                List.of(new MeshService.Port(53, DNS_PORT, L4Protocol.UDP)), List.of(mesh.echoB)));

        for (int id : List.of(4242, 17)) {
            String r = mesh.client("dns " + DNS_VIP + " 53 " + id + " echo.default.svc.cluster.local");
            expectOk(r);
            assertEquals(DNS_VIP + ":53", field(r, "from"), "the reply appears to come from the VIP: " + r);
            assertEquals(Integer.toString(id), field(r, "id"), r);
            assertEquals(mesh.echoB.ip(), field(r, "answer"), "answered by the backend on the other node: " + r);
        }
    }

    @Test
    void unknownVipsAndWithdrawnServicesGoNowhere() {
        mesh.dataPlane.publish(echo(List.of(mesh.echoB)));
        expectOk(mesh.client("tcp " + ECHO_VIP + " 80 10"));
        assertTrue(mesh.client("tcp 10.252.0.99 80 10").startsWith("err ENETUNREACH"), "no such VIP");
        assertTrue(mesh.client("tcp " + ECHO_VIP + " 81 10").startsWith("err ENETUNREACH"), "no such port");

        mesh.dataPlane.publish(echo(List.of()));
        assertTrue(mesh.client("tcp " + ECHO_VIP + " 80 10").startsWith("err ECONNREFUSED"),
                "a service without endpoints refuses");

        mesh.dataPlane.withdraw("echo");
        assertTrue(mesh.client("tcp " + ECHO_VIP + " 80 10").startsWith("err ENETUNREACH"),
                "a withdrawn VIP is an unroutable address again");
    }

    @Test
    void scalingUpAndDownMovesNewConnectionsAndTheDelayIsReported() throws Exception {
        mesh.dataPlane.publish(echo(List.of(mesh.echoA)));
        // Warm the client's socket calls up first: the delay is measured no finer than one connect.
        expectOk(mesh.client("tcp-many " + ECHO_VIP + " 80 300 0"));

        // Up: echo-b and echo-c join; measured until the first connection reaches one of them.
        Follow up = timeUntilConnectionsFollow("reach", Set.of("echo-b", "echo-c"),
                echo(List.of(mesh.echoA, mesh.echoB, mesh.echoC)));
        String spread = mesh.client("tcp-many " + ECHO_VIP + " 80 90 0");
        assertEquals(Set.of("echo-a", "echo-b", "echo-c"), counts(field(spread, "backends")).keySet(), spread);

        // Down: only echo-c stays; measured until connections land only on echo-c (a streak, not one lucky pick).
        Follow down = timeUntilConnectionsFollow("only", Set.of("echo-c"), echo(List.of(mesh.echoC)));
        String after = mesh.client("tcp-many " + ECHO_VIP + " 80 30 0");
        assertEquals(Map.of("echo-c", 30), counts(field(after, "backends")), after);

        report(String.format("%s scaling (%s): 1 -> 3 backends, first new connection on an added backend after"
                        + " %s; 3 -> 1, connections only on the remaining backend after %s",
                Instant.now(), mesh.dataPlane.getClass().getSimpleName(), up, down));
    }

    /** How long after a change connections followed it, and how often the client dialled (the resolution). */
    private record Follow(Duration delay, Duration publish, Duration interval) {
        @Override
        public String toString() {
            return String.format("%.3f ms (publish returned after %.3f ms; one connect every %.3f ms)",
                    delay.toNanos() / 1e6, publish.toNanos() / 1e6, interval.toNanos() / 1e6);
        }
    }

    /**
     * Starts the client dialling in a loop, publishes {@code change}, and returns the time from just before
     * the publish to the connect of the first connection that followed it (both clocks are CLOCK_MONOTONIC).
     * A connection that started before the change and still followed it counts as zero.
     */
    private Follow timeUntilConnectionsFollow(String mode, Set<String> labels, MeshService change)
            throws Exception {
        mesh.clientProbe.send("follow " + ECHO_VIP + " 80 " + mode + " " + String.join(",", labels)
                + " 200000 20000");
        assertEquals("started", mesh.clientProbe.nextLine(TwoNodeMesh.CALL));
        Thread.sleep(50); // the client is now dialling the old set
        long changed = System.nanoTime();
        mesh.dataPlane.publish(change);
        long published = System.nanoTime();
        String result = mesh.clientProbe.nextLine(Duration.ofSeconds(40));
        expectOk(result);
        return new Follow(Duration.ofNanos(Math.max(0, Long.parseLong(field(result, "t")) - changed)),
                Duration.ofNanos(published - changed),
                Duration.ofNanos(Long.parseLong(field(result, "interval"))));
    }

    @Test
    void sockopsCountsTheConnectionsAndBytesTheClientSent() throws Exception {
        mesh.dataPlane.publish(echo(List.of(mesh.echoB, mesh.echoC)));
        int connections = 25;
        int bytes = 20_000;
        int greeting = "echo-b\n".length(); // echo-c's is as long

        try (LoadBalancerMaps clientNode = LoadBalancerMaps.openPinned(mesh.libbpf, mesh.client.node().pinDirectory());
             LoadBalancerMaps serverNode = LoadBalancerMaps.openPinned(mesh.libbpf, mesh.echoB.node().pinDirectory())) {
            Map<ConnectionKey, ConnectionTotals> clientBefore = clientNode.connections().entries();
            Map<ConnectionKey, ConnectionTotals> serverBefore = serverNode.connections().entries();

            String r = mesh.client("tcp-many " + ECHO_VIP + " 80 " + connections + " " + bytes);
            expectOk(r);
            assertEquals("{}", field(r, "errors"), r);
            assertEquals(Long.toString((long) connections * bytes), field(r, "echoed"), r);

            Set<InetAddress> backendIps = Set.of(mesh.echoB.address(), mesh.echoC.address());
            Map<ConnectionKey, ConnectionTotals> active = awaitClosed(clientNode, clientBefore, connections,
                    k -> k.local().equals(mesh.client.address()));
            for (ConnectionKey k : active.keySet()) {
                assertEquals(ConnectionKey.Direction.ACTIVE, k.direction(), k.toString());
                assertTrue(k.serviceId() != 0, "attributed to the service dialled: " + k);
                assertTrue(backendIps.contains(k.remote()), "the backend, not the VIP: " + k);
            }
            ConnectionTotals a = sum(active);
            assertEquals(connections, a.opened(), active.toString());
            // Sequence-space octets: payload, plus one each for the SYN and the FIN we sent.
            assertTrue(a.bytesSent() >= (long) connections * bytes && a.bytesSent() <= (long) connections * (bytes + 2),
                    "client node counted " + a + " for " + connections + " x " + bytes);
            assertTrue(a.bytesReceived() >= (long) connections * (bytes + greeting)
                    && a.bytesReceived() <= (long) connections * (bytes + greeting + 1), a.toString());

            // The backends' node saw the same connections from the accepting side.
            Map<ConnectionKey, ConnectionTotals> passive = awaitClosed(serverNode, serverBefore, connections,
                    k -> k.remote().equals(mesh.client.address()));
            for (ConnectionKey k : passive.keySet()) {
                assertEquals(ConnectionKey.Direction.PASSIVE, k.direction(), k.toString());
                assertEquals(0, k.serviceId(), "only the client's node knows the VIP: " + k);
                assertTrue(backendIps.contains(k.local()), k.toString());
            }
            ConnectionTotals p = sum(passive);
            assertEquals(connections, p.opened(), passive.toString());
            assertTrue(p.bytesReceived() >= (long) connections * bytes
                    && p.bytesReceived() <= (long) connections * (bytes + 2), "server node counted " + p);
        }
    }

    private static ConnectionTotals sum(Map<ConnectionKey, ConnectionTotals> counters) {
        return counters.values().stream().reduce(ConnectionTotals.ZERO, ConnectionTotals::plus);
    }

    /**
     * What the matching counters gained since {@code before}, once {@code expected} connections closed on
     * them (bounded wait).
     */
    private static Map<ConnectionKey, ConnectionTotals> awaitClosed(LoadBalancerMaps maps,
            Map<ConnectionKey, ConnectionTotals> before, int expected,
            java.util.function.Predicate<ConnectionKey> ours) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        Map<ConnectionKey, ConnectionTotals> gained = Map.of();
        while (System.nanoTime() < deadline) {
            gained = new java.util.HashMap<>();
            for (Map.Entry<ConnectionKey, ConnectionTotals> e : maps.connections().entries().entrySet()) {
                ConnectionTotals d = e.getValue().minus(before.getOrDefault(e.getKey(), ConnectionTotals.ZERO));
                if (ours.test(e.getKey()) && !d.equals(ConnectionTotals.ZERO)) {
                    gained.put(e.getKey(), d);
                }
            }
            if (sum(gained).closed() >= expected) {
                return gained;
            }
            Thread.sleep(50);
        }
        return fail("expected " + expected + " closed connections in the counters, found " + gained);
    }

    // ------------------------------------------------------------------ helpers

    private static void report(String line) throws IOException {
        System.out.println(line);
        Path dir = Path.of(System.getProperty("mocket.it.reports", "target/it-reports"));
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("scaling.txt"), line + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private static InetAddress ip(String text) {
        try {
            return InetAddress.getByName(text);
        } catch (java.net.UnknownHostException e) {
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
        return java.util.Arrays.stream(body.split(","))
                .map(kv -> kv.split("="))
                .collect(java.util.stream.Collectors.toMap(kv -> kv[0], kv -> Integer.parseInt(kv[1])));
    }
}
