package io.mocket.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mocket.bpf.BpfMap;
import io.mocket.bpf.ConnectionKey;
import io.mocket.bpf.ConnectionTotals;
import io.mocket.bpf.TypedMap;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The agent's reading of the kernel's per-CPU connection counters: what grew is added once, under the labels of
 * the workloads; idle, balanced elements are deleted without losing a count; a recreated element starts over.
 * Runs against a real per-CPU hash map of the layout sockops writes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TcpTelemetryTest extends KernelTestBase {

    private static final Duration IDLE = Duration.ofSeconds(60);
    private static final String WEB = Mesh.serviceName("default", "web");

    private BpfMap map;
    private TypedMap<ConnectionKey, ConnectionTotals> counters;
    private final AtomicLong clock = new AtomicLong(1_000_000_000L);
    private TcpTelemetry telemetry;

    @BeforeEach
    void newMap() throws Exception {
        Path pin = sandbox.bpffs.resolve("mk_connection");
        Files.deleteIfExists(pin);
        int fd = libbpf.mapCreate(BpfMap.TYPE_PERCPU_HASH, "mk_connection", (int) ConnectionKey.CODEC.byteSize(),
                (int) ConnectionTotals.CODEC.byteSize(), 64);
        try {
            libbpf.objPin(fd, pin.toString()); // the pin holds the map from here
        } finally {
            closeFd(fd);
        }
        map = BpfMap.openPinned(libbpf, pin);
        counters = map.typed(ConnectionKey.CODEC, ConnectionTotals.PER_CPU);
        NodeState state = Mesh.store(List.of(), List.of(
                Mesh.member(Mesh.pod("default", "web-1", "node-1", "r1/z1", List.of("192.0.2.2")), WEB).build(),
                Mesh.pod("default", "api-1", "node-2", "r1/z1", List.of("192.0.2.4")).build()));
        telemetry = new TcpTelemetry(counters, state, () -> Map.of(7, WEB + ":80"), IDLE, clock::get);
    }

    @AfterEach
    void closeMap() throws Exception {
        map.close();
        Files.deleteIfExists(sandbox.bpffs.resolve("mk_connection"));
    }

    private static void closeFd(int fd) {
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle close = linker.downcallHandle(linker.defaultLookup().find("close").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            int ignored = (int) close.invokeExact(fd);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static ConnectionKey webToApi() {
        return new ConnectionKey(ConnectionKey.Direction.ACTIVE, 7, InetAddress.ofLiteral("192.0.2.2"),
                InetAddress.ofLiteral("192.0.2.4"));
    }

    private String scrape() {
        telemetry.collect();
        PrometheusText t = new PrometheusText();
        telemetry.write(t);
        return t.toString();
    }

    private static final String SOURCE = "{reporter=\"source\",source_workload=\"web\","
            + "source_workload_namespace=\"default\",source_canonical_service=\"unknown\","
            + "destination_service=\"web.default.svc.cluster.local\",destination_service_namespace=\"default\","
            + "destination_workload=\"api\",destination_workload_namespace=\"default\",request_protocol=\"tcp\","
            + "connection_security_policy=\"unknown\"}";

    private static void expect(String scraped, String labels, long opened, long closed, long received, long sent) {
        assertTrue(scraped.contains("istio_tcp_connections_opened_total" + labels + " " + opened), scraped);
        assertTrue(scraped.contains("istio_tcp_connections_closed_total" + labels + " " + closed), scraped);
        assertTrue(scraped.contains("istio_tcp_received_bytes_total" + labels + " " + received), scraped);
        assertTrue(scraped.contains("istio_tcp_sent_bytes_total" + labels + " " + sent), scraped);
    }

    @Test
    void whatGrewIsAddedOnceAndIdleBalancedElementsAreDeletedWithoutLosingCounts() {
        String labels = SOURCE;
        counters.put(webToApi(), new ConnectionTotals(2, 1, 10, 20));
        expect(scrape(), labels, 2, 1, 10, 20);
        expect(scrape(), labels, 2, 1, 10, 20); // read again: nothing grew, nothing added

        counters.put(webToApi(), new ConnectionTotals(3, 3, 15, 30));
        clock.addAndGet(IDLE.toNanos());
        expect(scrape(), labels, 3, 3, 15, 30); // it changed: not idle yet
        assertTrue(counters.get(webToApi()).isPresent());

        clock.addAndGet(IDLE.toNanos());
        expect(scrape(), labels, 3, 3, 15, 30);
        assertEquals(Optional.empty(), counters.get(webToApi()), "idle and balanced: deleted");
        assertEquals(0, telemetry.tracked());

        // sockops creates the element again for the next connection; it is counted from zero.
        counters.put(webToApi(), new ConnectionTotals(1, 0, 0, 0));
        expect(scrape(), labels, 4, 3, 15, 30);
    }

    @Test
    void anElementWithAnOpenConnectionIsNeverDeleted() {
        counters.put(webToApi(), new ConnectionTotals(2, 1, 10, 20));
        scrape();
        for (int i = 0; i < 3; i++) {
            clock.addAndGet(IDLE.toNanos() * 2);
            scrape();
        }
        assertEquals(Optional.of(new ConnectionTotals(2, 1, 10, 20)), counters.get(webToApi()));
    }

    @Test
    void acceptedConnectionsCountTheRequestDirectionAsReceived() {
        ConnectionKey accepted = new ConnectionKey(ConnectionKey.Direction.PASSIVE, 0,
                InetAddress.ofLiteral("192.0.2.4"), InetAddress.ofLiteral("192.0.2.2"));
        counters.put(accepted, new ConnectionTotals(1, 1, 500, 40));
        String labels = "{reporter=\"destination\",source_workload=\"web\",source_workload_namespace=\"default\","
                + "source_canonical_service=\"unknown\",destination_service=\"unknown\","
                + "destination_service_namespace=\"unknown\",destination_workload=\"api\","
                + "destination_workload_namespace=\"default\",request_protocol=\"tcp\","
                + "connection_security_policy=\"unknown\"}";
        // The server's socket received the request (40) and sent the response (500).
        expect(scrape(), labels, 1, 1, 40, 500);
    }
}
