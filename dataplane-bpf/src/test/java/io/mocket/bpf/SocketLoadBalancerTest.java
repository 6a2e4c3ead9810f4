package io.mocket.bpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Real traffic through the loaded programs: a client process in a test namespace and cgroup dials VIPs
 * that exist nowhere but in the BPF maps; servers in a second namespace say which backend answered.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SocketLoadBalancerTest {

    private static final int BACKEND_A = 1;      // 192.0.2.2
    private static final int BACKEND_B = 2;      // 192.0.2.3
    private static final int BACKEND_A6 = 3;     // 2001:db8:1::2
    private static final int SVC_TCP = 10;       // 198.51.100.10:80 -> A, B :8080
    private static final int SVC_EMPTY = 11;     // 198.51.100.11:80 -> nothing
    private static final int SVC_TCP6 = 12;      // [2001:db8:100::10]:80 -> A6:8080
    private static final int SVC_DNS = 13;       // 198.51.100.10:53/udp -> A:5353
    private static final int SVC_DNS6 = 14;      // [2001:db8:100::10]:53/udp -> A6:5353
    private static final int SVC_FAILOVER = 15;  // 198.51.100.15:80, priority 0 empty, 1 -> B
    private static final int SVC_STRICT = 16;    // 198.51.100.16:80, priority 0 empty, 1 -> A

    private KernelTestHost host;
    private Libbpf libbpf;
    private Path pinDir;
    private SocketLoadBalancer lb;
    private KernelTestHost.Probe client;

    @BeforeAll
    void setUp() throws Exception {
        host = KernelTestHost.create(true);
        try {
            libbpf = Libbpf.load();
            pinDir = SocketLoadBalancer.pinDirectory(host.bpffs.resolve("mocket"), "node-a");
            lb = SocketLoadBalancer.load(libbpf, pinDir);
            lb.attach(host.cgroup);
            configure(lb.maps());
            KernelTestHost.Probe server = host.startServer();
            for (String a : List.of("192.0.2.2", "192.0.2.3", "2001:db8:1::2")) {
                expectOk(server.call("serve-tcp " + a + " 8080"));
                expectOk(server.call("serve-udp " + a + " 5353"));
            }
            client = host.startClient();
        } catch (RuntimeException | Error e) {
            tearDown();
            throw e;
        }
    }

    @AfterAll
    void tearDown() {
        try {
            if (lb != null) {
                lb.detachAndUnpin();
            }
        } finally {
            host.close();
        }
        assertFalse(KernelTestHost.runQuietly("ip", "netns", "list").contains(host.id), "namespaces left behind");
        assertFalse(Files.exists(host.workDir), "work directory left behind: " + host.workDir);
    }

    private static void configure(LoadBalancerMaps maps) throws Exception {
        maps.backends().put(new BackendKey(BACKEND_A), new BackendValue(ip("192.0.2.2"), true));
        maps.backends().put(new BackendKey(BACKEND_B), new BackendValue(ip("192.0.2.3"), true));
        maps.backends().put(new BackendKey(BACKEND_A6), new BackendValue(ip("2001:db8:1::2"), true));
        EndpointValue a = new EndpointValue(BACKEND_A, 8080);
        EndpointValue b = new EndpointValue(BACKEND_B, 8080);
        maps.replaceBackends(SVC_TCP, LbMode.UNSPECIFIED, HealthPolicy.ONLY_HEALTHY, List.of(List.of(a, b)));
        maps.replaceBackends(SVC_EMPTY, LbMode.UNSPECIFIED, HealthPolicy.ONLY_HEALTHY, List.of());
        maps.replaceBackends(SVC_TCP6, LbMode.UNSPECIFIED, HealthPolicy.ONLY_HEALTHY,
                List.of(List.of(new EndpointValue(BACKEND_A6, 8080))));
        maps.replaceBackends(SVC_DNS, LbMode.UNSPECIFIED, HealthPolicy.ONLY_HEALTHY,
                List.of(List.of(new EndpointValue(BACKEND_A, 5353))));
        maps.replaceBackends(SVC_DNS6, LbMode.UNSPECIFIED, HealthPolicy.ONLY_HEALTHY,
                List.of(List.of(new EndpointValue(BACKEND_A6, 5353))));
        maps.replaceBackends(SVC_FAILOVER, LbMode.FAILOVER, HealthPolicy.ONLY_HEALTHY, List.of(List.of(), List.of(b)));
        maps.replaceBackends(SVC_STRICT, LbMode.STRICT, HealthPolicy.ONLY_HEALTHY, List.of(List.of(), List.of(a)));
        frontend(maps, "198.51.100.10", 80, L4Protocol.TCP, SVC_TCP);
        frontend(maps, "198.51.100.11", 80, L4Protocol.TCP, SVC_EMPTY);
        frontend(maps, "2001:db8:100::10", 80, L4Protocol.TCP, SVC_TCP6);
        frontend(maps, "198.51.100.10", 53, L4Protocol.UDP, SVC_DNS);
        frontend(maps, "2001:db8:100::10", 53, L4Protocol.UDP, SVC_DNS6);
        frontend(maps, "198.51.100.15", 80, L4Protocol.TCP, SVC_FAILOVER);
        frontend(maps, "198.51.100.16", 80, L4Protocol.TCP, SVC_STRICT);
    }

    private static void frontend(LoadBalancerMaps maps, String vip, int port, L4Protocol proto, int service)
            throws Exception {
        maps.frontends().put(new FrontendKey(ip(vip), port, proto), new FrontendValue(service));
    }

    @Test
    @Order(1)
    void connect4SendsTheVipToABackendAndGetpeernameShowsTheVip() {
        String r = client.call("tcp 4 198.51.100.10 80 1000");
        expectOk(r);
        assertEquals("4/198.51.100.10/80", field(r, "peer"), r);
        assertTrue(field(r, "backend").matches("192\\.0\\.2\\.[23]:8080"), r);
        assertEquals("1000", field(r, "echoed"), r);
    }

    @Test
    @Order(2)
    void backendsAreChosenAtRandom() {
        String r = client.call("tcp-loop 4 198.51.100.10 80 40");
        expectOk(r);
        assertTrue(r.contains("192.0.2.2:8080=") && r.contains("192.0.2.3:8080="), "both backends used: " + r);
        assertTrue(r.endsWith("errors={}"), r);
    }

    @Test
    @Order(3)
    void aVipWithoutBackendsRefusesTheConnection() {
        assertEquals("ECONNREFUSED", errno(client.call("tcp 4 198.51.100.11 80 10")));
        assertEquals("ECONNREFUSED", errno(client.call("tcp 6 198.51.100.11 80 10")));
    }

    @Test
    @Order(4)
    void anAddressThatIsNoVipIsLeftAloneAndGoesNowhere() {
        // The client namespace has no route to the VIP range: an unrewritten connect cannot leave it.
        assertEquals("ENETUNREACH", errno(client.call("tcp 4 198.51.100.99 80 10")));
        assertEquals("ENETUNREACH", errno(client.call("tcp 4 198.51.100.10 81 10")));
    }

    @Test
    @Order(5)
    void connect6TreatsIpv4MappedDestinationsAsIpv4() {
        String r = client.call("tcp 6 198.51.100.10 80 100");
        expectOk(r);
        assertEquals("6/::ffff:198.51.100.10/80", field(r, "peer"), r);
        assertTrue(field(r, "backend").matches("192\\.0\\.2\\.[23]:8080"), r);

        // java.net.Socket dials an IPv4 address through a dual-stack AF_INET6 socket.
        String j = client.call("java-tcp 198.51.100.10 80");
        expectOk(j);
        assertTrue(field(j, "backend").matches("192\\.0\\.2\\.[23]:8080"), j);
    }

    @Test
    @Order(6)
    void connect6BalancesIpv6Vips() {
        String r = client.call("tcp 6 2001:db8:100::10 80 100");
        expectOk(r);
        assertEquals("6/2001:db8:100:0:0:0:0:10/80", field(r, "peer"), r);
        assertEquals("2001:db8:1:0:0:0:0:2:8080", field(r, "backend"), r);
    }

    @Test
    @Order(7)
    void unconnectedUdpRepliesAppearToComeFromTheVip() {
        String r4 = client.call("udp 4 198.51.100.10 53 query4");
        expectOk(r4);
        assertEquals("4/198.51.100.10/53", field(r4, "from"), r4);
        assertEquals("192.0.2.2:5353|query4", field(r4, "reply"), r4);

        String mapped = client.call("udp 6 198.51.100.10 53 querym");
        expectOk(mapped);
        assertEquals("6/::ffff:198.51.100.10/53", field(mapped, "from"), mapped);
        assertEquals("192.0.2.2:5353|querym", field(mapped, "reply"), mapped);

        String r6 = client.call("udp 6 2001:db8:100::10 53 query6");
        expectOk(r6);
        assertEquals("6/2001:db8:100:0:0:0:0:10/53", field(r6, "from"), r6);
        assertEquals("2001:db8:1:0:0:0:0:2:5353|query6", field(r6, "reply"), r6);
    }

    @Test
    @Order(8)
    void connectedUdpGoesToTheBackendAndGetpeernameShowsTheVip() {
        String r = client.call("udp-connected 4 198.51.100.10 53 hello");
        expectOk(r);
        assertEquals("4/198.51.100.10/53", field(r, "peer"), r);
        assertEquals("192.0.2.2:5353|hello", field(r, "reply"), r);
    }

    @Test
    @Order(9)
    void localityFailoverUsesTheNextPriorityAndStrictRefuses() {
        String failover = client.call("tcp 4 198.51.100.15 80 10");
        expectOk(failover);
        assertEquals("192.0.2.3:8080", field(failover, "backend"), failover);
        assertEquals("ECONNREFUSED", errno(client.call("tcp 4 198.51.100.16 80 10")));
    }

    @Test
    @Order(10)
    void sockopsCountsTheBytesOfAConnection() throws Exception {
        int bytes = 100_000;
        Map<ConnectionKey, ConnectionTotals> before = lb.maps().connections().entries();
        String r = client.call("tcp 4 198.51.100.10 80 " + bytes);
        expectOk(r);
        String backend = field(r, "backend");
        int greeting = backend.length() + 1;

        ConnectionKey key = new ConnectionKey(ConnectionKey.Direction.ACTIVE, SVC_TCP, ip("192.0.2.1"),
                ip(backend.substring(0, backend.indexOf(':'))));
        ConnectionTotals m = awaitClosed(key, before);
        assertEquals(1, m.opened(), m.toString());
        assertEquals(1, m.closed(), m.toString());
        // The counters are the kernel's sequence-space octets: payload plus one for a SYN and one for
        // each FIN once acknowledged. We send the payload; we receive the greeting and the echo.
        assertTrue(m.bytesSent() >= bytes && m.bytesSent() <= bytes + 2, m.toString());
        assertTrue(m.bytesReceived() >= bytes + greeting && m.bytesReceived() <= bytes + greeting + 1, m.toString());
        Map<ConnectionKey, ConnectionTotals> after = lb.maps().connections().entries();
        for (Map.Entry<ConnectionKey, ConnectionTotals> e : after.entrySet()) {
            if (!e.getKey().equals(key)) {
                assertEquals(before.getOrDefault(e.getKey(), ConnectionTotals.ZERO), e.getValue(),
                        "one connection adds to its own key only: " + e.getKey());
            }
        }
        // Nothing per connection is left in a hash map: the VIP lived in the socket's storage.
        assertTrue(lb.maps().reverseNat().keys().stream().noneMatch(k -> k.port() == 8080),
                "TCP connections leave no reverse NAT entry: " + lb.maps().reverseNat().keys());
    }

    @Test
    @Order(10)
    void sockopsAttributesIpv6AndMappedConnectionsToTheirService() throws Exception {
        Map<ConnectionKey, ConnectionTotals> before = lb.maps().connections().entries();
        String r6 = client.call("tcp 6 2001:db8:100::10 80 10");
        expectOk(r6);
        ConnectionTotals m6 = awaitClosed(new ConnectionKey(ConnectionKey.Direction.ACTIVE, SVC_TCP6,
                ip("2001:db8:1::1"), ip("2001:db8:1::2")), before);
        assertEquals(new ConnectionTotals(1, 1, m6.bytesSent(), m6.bytesReceived()), m6);

        // A dual-stack socket on an IPv4 VIP: the kernel keeps the mapped form, the counters show IPv4.
        before = lb.maps().connections().entries();
        String mapped = client.call("tcp 6 198.51.100.10 80 10");
        expectOk(mapped);
        String backend = field(mapped, "backend");
        ConnectionTotals mm = awaitClosed(new ConnectionKey(ConnectionKey.Direction.ACTIVE, SVC_TCP, ip("192.0.2.1"),
                ip(backend.substring(0, backend.indexOf(':')))), before);
        assertEquals(1, mm.opened(), mm.toString());
        assertEquals(1, mm.closed(), mm.toString());
    }

    @Test
    @Order(10)
    void sockopsCountsConnectionsToNoVipWithoutAService() throws Exception {
        Map<ConnectionKey, ConnectionTotals> before = lb.maps().connections().entries();
        String r = client.call("tcp 4 192.0.2.3 8080 10");
        expectOk(r);
        assertEquals("4/192.0.2.3/8080", field(r, "peer"), "no VIP, nothing to restore: " + r);
        ConnectionTotals m = awaitClosed(new ConnectionKey(ConnectionKey.Direction.ACTIVE, 0, ip("192.0.2.1"),
                ip("192.0.2.3")), before);
        assertEquals(1, m.opened(), m.toString());
        assertEquals(1, m.closed(), m.toString());
    }

    /** What one key gained since {@code before}, once a connection closed on it. */
    private ConnectionTotals awaitClosed(ConnectionKey key, Map<ConnectionKey, ConnectionTotals> before)
            throws InterruptedException {
        ConnectionTotals start = before.getOrDefault(key, ConnectionTotals.ZERO);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        ConnectionTotals delta = ConnectionTotals.ZERO;
        while (System.nanoTime() < deadline) {
            delta = lb.maps().connections().get(key).orElse(start).minus(start);
            if (delta.closed() > 0) {
                return delta;
            }
            Thread.sleep(50);
        }
        return fail("no connection closed on " + key + ": " + delta + ", map " + lb.maps().connections().entries());
    }

    @Test
    @Order(11)
    void replacingBackendsNeverLeavesTheServiceEmpty() throws Exception {
        EndpointValue a = new EndpointValue(BACKEND_A, 8080);
        EndpointValue b = new EndpointValue(BACKEND_B, 8080);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger flips = new AtomicInteger();
        Thread flipper = Thread.ofPlatform().start(() -> {
            // Switches between two disjoint sets for as long as the client dials; bounded in count and time.
            // Every other switch is a batch of two services (the agent's way), the others one service alone.
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            EndpointValue dns = new EndpointValue(BACKEND_A, 5353);
            for (int i = 0; i < 100_000 && !stop.get() && System.nanoTime() < deadline; i++) {
                if (i % 2 == 0) {
                    lb.maps().replaceBackends(SVC_TCP, LbMode.UNSPECIFIED, HealthPolicy.ONLY_HEALTHY,
                            List.of(List.of(a)));
                } else {
                    ServiceValue tcp = lb.maps().services().get(new ServiceKey(SVC_TCP)).orElseThrow();
                    ServiceValue udp = lb.maps().services().get(new ServiceKey(SVC_DNS)).orElseThrow();
                    List<ServiceValue> next = lb.maps().replaceBackends(List.of(
                            new LoadBalancerMaps.BackendSet(SVC_TCP, tcp, LbMode.UNSPECIFIED,
                                    HealthPolicy.ONLY_HEALTHY, List.of(List.of(b))),
                            new LoadBalancerMaps.BackendSet(SVC_DNS, udp, LbMode.UNSPECIFIED,
                                    HealthPolicy.ONLY_HEALTHY, List.of(List.of(dns)))));
                    if (next.get(0).revision() != tcp.revision() + 1 || next.get(1).revision() != udp.revision() + 1) {
                        throw new AssertionError("a batch switch moves each service to its next revision: " + next);
                    }
                }
                flips.incrementAndGet();
            }
        });
        String r;
        try {
            r = client.call("tcp-loop 4 198.51.100.10 80 300", Duration.ofSeconds(90));
        } finally {
            stop.set(true);
            flipper.join(30_000);
        }
        assertTrue(flips.get() > 10, "the set changed while the client dialled: " + flips.get() + " switches");
        assertTrue(r.contains("192.0.2.2:8080=") && r.contains("192.0.2.3:8080="), "both sets served: " + r);
        expectOk(r);
        assertTrue(r.endsWith("errors={}"), "no connect failed while the backend set changed: " + r);

        ServiceValue now = lb.maps().services().get(new ServiceKey(SVC_TCP)).orElseThrow();
        Map<EndpointKey, EndpointValue> slots = lb.maps().endpoints().entries();
        long slotsOfService = slots.keySet().stream().filter(k -> k.serviceId() == SVC_TCP).count();
        assertEquals(1, slotsOfService, "old revisions' slots are deleted: " + slots);
        assertEquals(1, slots.keySet().stream().filter(k -> k.serviceId() == SVC_DNS).count(),
                "also those of a service switched in a batch: " + slots);
        assertTrue(slots.containsKey(new EndpointKey(SVC_TCP, now.revision(), 0, 0)), slots.toString());
        assertEquals(slots.size(), lb.maps().endpoints().count(), "count() walks the same keys as entries()");
        assertEquals(lb.maps().endpoints().keys().size(), lb.maps().endpoints().count());
        assertEquals(lb.maps().endpoints().count(), lb.maps().endpoints().countByWalking(),
                "the key walk (for map types without batch lookups) counts the same");
        assertEquals(lb.maps().connections().entries().size(), lb.maps().connections().count());
        // More elements than one batch of count() holds: 3,000 backends beyond the test's own, then gone again.
        int before = lb.maps().backends().count();
        Map<BackendKey, BackendValue> many = new java.util.LinkedHashMap<>();
        for (int i = 0; i < 3_000; i++) {
            many.put(new BackendKey(900_000 + i), new BackendValue(ip("198.18." + (i / 250) + "." + (i % 250 + 1)), true));
        }
        lb.maps().backends().putAll(many);
        try {
            assertEquals(before + 3_000, lb.maps().backends().count());
            assertEquals(before + 3_000, lb.maps().backends().countByWalking());
        } finally {
            lb.maps().backends().removeAll(many.keySet());
        }
        assertEquals(before, lb.maps().backends().count());

        lb.maps().replaceBackends(SVC_TCP, LbMode.UNSPECIFIED, HealthPolicy.ONLY_HEALTHY, List.of(List.of(a, b)));
    }

    @Test
    @Order(12)
    void pinnedMapsAndLinksKeepServingWithoutTheAgentAndAreAdoptedOnRestart() throws Exception {
        List<BpfLink.Info> before = lb.links().stream().map(BpfLink::info).toList();
        lb.close(); // the agent goes away: no fd of ours holds a program, map or link now
        lb = null;

        String r = client.call("tcp 4 198.51.100.10 80 10");
        expectOk(r);
        assertEquals("4/198.51.100.10/80", field(r, "peer"), r);
        try (LoadBalancerMaps pinned = LoadBalancerMaps.openPinned(libbpf, pinDir)) {
            assertEquals(Optional.of(new FrontendValue(SVC_TCP)),
                    pinned.frontends().get(new FrontendKey(ip("198.51.100.10"), 80, L4Protocol.TCP)));
        }

        // An older version's maps: the connection map in another layout, and a map this version does not have.
        Path connectionPin = pinDir.resolve(LoadBalancerMaps.CONNECTION);
        Files.delete(connectionPin);
        for (String name : List.of(LoadBalancerMaps.CONNECTION, "mk_retired_map")) {
            int fd = libbpf.mapCreate(BpfMap.TYPE_LRU_HASH, name, 8, 80, 1024);
            try {
                libbpf.objPin(fd, pinDir.resolve(name).toString());
            } finally {
                Libc.close(fd);
            }
        }

        // A program an older version attached under a name this version no longer has.
        Path retiredPin = pinDir.resolve("links").resolve("mk_retired");
        try (BpfObject old = BpfObject.open(libbpf, "recvmsg", SocketLoadBalancer.packagedObject("recvmsg"), pinDir)) {
            old.load();
            BpfProgram program = old.program("mk_recvmsg4");
            int cgroupFd = Libc.openDirectory(host.cgroup.toString());
            try (BpfLink link = new BpfLink(libbpf, "retired",
                    libbpf.attachCgroup(program.handle(), program.name(), cgroupFd, host.cgroup.toString()))) {
                link.pin(retiredPin);
            } finally {
                Libc.close(cgroupFd);
            }
            assertEquals(List.of(2), attachedCounts(List.of(program.attachType())), "old and current recvmsg4");
        }

        // Restart: maps are reused with their contents, links switched to the new programs.
        lb = SocketLoadBalancer.load(libbpf, pinDir);
        lb.attach(host.cgroup);
        List<BpfLink.Info> after = lb.links().stream().map(BpfLink::info).toList();
        assertEquals(before.stream().map(BpfLink.Info::id).toList(), after.stream().map(BpfLink.Info::id).toList(),
                "the same links are adopted");
        for (int i = 0; i < before.size(); i++) {
            assertNotEquals(before.get(i).programId(), after.get(i).programId(), "link runs the new program");
            assertEquals(SocketLoadBalancer.cgroupId(host.cgroup), after.get(i).cgroupId());
        }
        assertFalse(Files.exists(retiredPin), "the retired program's link is removed");
        assertFalse(Files.exists(pinDir.resolve("mk_retired_map")), "the retired map's pin is removed");
        assertEquals(BpfMap.TYPE_PERCPU_HASH, lb.maps().connections().map().type(),
                "the old-layout connection map was replaced");
        assertEquals(Optional.of(new FrontendValue(SVC_TCP)),
                lb.maps().frontends().get(new FrontendKey(ip("198.51.100.10"), 80, L4Protocol.TCP)));
        Map<ConnectionKey, ConnectionTotals> counted = lb.maps().connections().entries();
        String again = client.call("tcp 4 198.51.100.10 80 10");
        expectOk(again);
        assertEquals("4/198.51.100.10/80", field(again, "peer"), again);
        String backend = field(again, "backend");
        ConnectionTotals m = awaitClosed(new ConnectionKey(ConnectionKey.Direction.ACTIVE, SVC_TCP, ip("192.0.2.1"),
                ip(backend.substring(0, backend.indexOf(':')))), counted);
        assertEquals(1, m.closed(), "the new connection map counts: " + m);

        // Removal detaches: the VIP is an unknown, unroutable address again.
        List<Integer> attachTypes = lb.programs().stream().map(BpfProgram::attachType).toList();
        assertEquals(9, attachTypes.stream().distinct().count(), "nine hooks: " + attachTypes);
        assertEquals(List.of(1), attachedCounts(attachTypes).stream().distinct().toList(),
                "every hook has exactly our program");
        lb.detachAndUnpin();
        lb = null;
        assertFalse(Files.exists(pinDir), "pin directory removed");
        assertEquals("ENETUNREACH", errno(client.call("tcp 4 198.51.100.10 80 10")));
        assertEquals(List.of(0), attachedCounts(attachTypes).stream().distinct().toList(),
                "nothing attached any more");
    }

    /** How many programs each attach type of the test cgroup has. */
    private List<Integer> attachedCounts(List<Integer> attachTypes) {
        int cgroupFd = Libc.openDirectory(host.cgroup.toString());
        try {
            return attachTypes.stream()
                    .map(t -> libbpf.progQuery(cgroupFd, t, host.cgroup.toString()).length)
                    .toList();
        } finally {
            Libc.close(cgroupFd);
        }
    }

    // ------------------------------------------------------------------ helpers

    private static InetAddress ip(String s) throws Exception {
        return InetAddress.getByName(s);
    }

    private static void expectOk(String answer) {
        assertTrue(answer.startsWith("ok"), answer);
    }

    private static String errno(String answer) {
        assertTrue(answer.startsWith("err "), "expected an error, got: " + answer);
        return answer.split(" ")[1];
    }

    private static String field(String answer, String name) {
        Matcher m = Pattern.compile("(?:^| )" + name + "=(\\S*)").matcher(answer);
        assertTrue(m.find(), "no " + name + " in: " + answer);
        return m.group(1);
    }
}
