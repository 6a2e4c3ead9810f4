package io.mocket.agent;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * The agent's own meters, updated by the xDS client and the reconciler and written as Prometheus text at
 * scrape time. Gauges that are cheaper to compute on demand (resources held, map occupancy, TCP
 * telemetry) are added as collectors that run at each scrape. Thread-safe.
 */
public final class AgentMetrics {

    private final AtomicBoolean xdsConnected = new AtomicBoolean();
    private final LongAdder xdsStreams = new LongAdder();
    private final Map<ResourceKind, LongAdder> responses = new EnumMap<>(ResourceKind.class);
    private final Map<ResourceKind, LongAdder> nacks = new EnumMap<>(ResourceKind.class);
    private final LongAdder reconciles = new LongAdder();
    private final LongAdder reconcileErrors = new LongAdder();
    private final DoubleAdder reconcileSeconds = new DoubleAdder();
    private final LongAdder mapWrites = new LongAdder();
    private final AtomicLong failingResources = new AtomicLong();
    private final Map<String, LongAdder> mapFull = new ConcurrentHashMap<>();
    private final List<Consumer<PrometheusText>> collectors = new CopyOnWriteArrayList<>();
    private final Map<ResourceKind, java.time.Instant> lastResponseAt = new ConcurrentHashMap<>();
    /** Upper bounds of the apply time histogram, in seconds. */
    static final double[] APPLY_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    private final Map<ResourceKind, Applies> applies = new EnumMap<>(ResourceKind.class);
    private volatile ServiceReconciler.Pass lastPass;
    private volatile ServiceReconciler.Cleanup lastCleanup;

    /** The apply times of one resource kind: a histogram and the last one with its parts. */
    private static final class Applies {
        final long[] buckets = new long[APPLY_BUCKETS.length];
        long count;
        double sum;
        long lastGeneration;
        double lastSeconds;
        double lastDecodeSeconds;
        double lastDecodeCpuSeconds;
        double lastGcSeconds;

        synchronized void add(long generation, double seconds, double decodeSeconds, double decodeCpuSeconds,
                              double gcSeconds) {
            for (int i = 0; i < APPLY_BUCKETS.length; i++) {
                if (seconds <= APPLY_BUCKETS[i]) {
                    buckets[i]++;
                }
            }
            count++;
            sum += seconds;
            lastGeneration = generation;
            lastSeconds = seconds;
            lastDecodeSeconds = decodeSeconds;
            lastDecodeCpuSeconds = decodeCpuSeconds;
            lastGcSeconds = gcSeconds;
        }

        synchronized void write(PrometheusText t, String typeUrl) {
            for (int i = 0; i < APPLY_BUCKETS.length; i++) {
                t.sample("mocket_agent_apply_seconds_bucket", labels(typeUrl, "le", Double.toString(APPLY_BUCKETS[i])),
                        buckets[i]);
            }
            t.sample("mocket_agent_apply_seconds_bucket", labels(typeUrl, "le", "+Inf"), count);
            t.sample("mocket_agent_apply_seconds_sum", Map.of("type_url", typeUrl), sum);
            t.sample("mocket_agent_apply_seconds_count", Map.of("type_url", typeUrl), count);
        }

        synchronized void writeLast(PrometheusText t, String typeUrl) {
            if (count == 0) {
                return;
            }
            t.sample("mocket_agent_last_apply_seconds", labels(typeUrl, "part", "total"), lastSeconds);
            t.sample("mocket_agent_last_apply_seconds", labels(typeUrl, "part", "decode"), lastDecodeSeconds);
            t.sample("mocket_agent_last_apply_seconds", labels(typeUrl, "part", "decode_cpu"), lastDecodeCpuSeconds);
            t.sample("mocket_agent_last_apply_seconds", labels(typeUrl, "part", "gc"), lastGcSeconds);
            t.sample("mocket_agent_last_apply_generation", Map.of("type_url", typeUrl), lastGeneration);
        }

        private static Map<String, String> labels(String typeUrl, String name, String value) {
            Map<String, String> m = new java.util.LinkedHashMap<>();
            m.put("type_url", typeUrl);
            m.put(name, value);
            return m;
        }
    }

    public AgentMetrics() {
        for (ResourceKind k : ResourceKind.values()) {
            responses.put(k, new LongAdder());
            nacks.put(k, new LongAdder());
            applies.put(k, new Applies());
        }
    }

    void xdsConnected(boolean connected) {
        xdsConnected.set(connected);
    }

    boolean xdsConnected() {
        return xdsConnected.get();
    }

    void xdsStreamOpened() {
        xdsStreams.increment();
    }

    void xdsResponse(ResourceKind kind) {
        lastResponseAt.put(kind, java.time.Instant.now());
        responses.get(kind).increment();
    }

    /**
     * When the last response of a kind reached the agent (the xDS client counts it before decoding it); with the
     * time of its ACK in {@link XdsClient.Exchange#at()} this gives the agent's own share of a change.
     */
    public java.util.Optional<java.time.Instant> lastResponseAt(ResourceKind kind) {
        return java.util.Optional.ofNullable(lastResponseAt.get(kind));
    }

    /**
     * One response answered: {@code seconds} from its arrival (the whole message received, before it is parsed)
     * to its answer going out, after the data path applied it; of which {@code decodeSeconds} until the store
     * published it (parse, checks, {@link NodeState#apply}), which took {@code decodeCpuSeconds} of the thread's CPU
     * time (the collector's pauses in it are not CPU time of that thread); {@code gcSeconds} of collections
     * (pauses, with the serial collector) from arrival to answer.
     */
    void applied(ResourceKind kind, long generation, double seconds, double decodeSeconds, double decodeCpuSeconds,
                 double gcSeconds) {
        applies.get(kind).add(generation, seconds, decodeSeconds, decodeCpuSeconds, gcSeconds);
    }

    void xdsNack(ResourceKind kind) {
        nacks.get(kind).increment();
    }

    long nacks(ResourceKind kind) {
        return nacks.get(kind).sum();
    }

    void reconciled(double seconds, int writes, int failing) {
        reconciles.increment();
        reconcileSeconds.add(seconds);
        mapWrites.add(writes);
        failingResources.set(failing);
    }

    void passed(ServiceReconciler.Pass pass) {
        lastPass = pass;
    }

    void cleanedUp(ServiceReconciler.Cleanup cleanup) {
        mapWrites.add(cleanup.writes());
        lastCleanup = cleanup;
    }

    void reconcileFailed(double seconds) {
        reconcileErrors.increment();
        reconcileSeconds.add(seconds);
    }

    void mapFull(String map) {
        mapFull.computeIfAbsent(map, m -> new LongAdder()).increment();
    }

    long mapFullCount(String map) {
        LongAdder a = mapFull.get(map);
        return a == null ? 0 : a.sum();
    }

    /** Adds a collector that writes more families at every scrape. */
    public void addCollector(Consumer<PrometheusText> collector) {
        collectors.add(collector);
    }

    /** The whole exposition. */
    public String scrape() {
        PrometheusText t = new PrometheusText();
        t.family("mocket_agent_xds_connected", "gauge", "1 while the ADS stream to the control plane is up")
                .sample("mocket_agent_xds_connected", xdsConnected.get() ? 1 : 0);
        t.family("mocket_agent_xds_streams_total", "counter", "ADS streams opened (the first and every reconnect)")
                .sample("mocket_agent_xds_streams_total", xdsStreams.sum());
        t.family("mocket_agent_xds_responses_total", "counter", "xDS responses received, by type");
        responses.forEach((k, v) -> t.sample("mocket_agent_xds_responses_total", Map.of("type_url", k.typeUrl()), v.sum()));
        t.family("mocket_agent_xds_nacks_total", "counter", "xDS responses rejected (NACK), by type");
        nacks.forEach((k, v) -> t.sample("mocket_agent_xds_nacks_total", Map.of("type_url", k.typeUrl()), v.sum()));
        t.family("mocket_agent_reconciles_total", "counter", "Reconcile passes that completed")
                .sample("mocket_agent_reconciles_total", reconciles.sum());
        t.family("mocket_agent_reconcile_errors_total", "counter", "Reconcile passes that failed on a kernel error")
                .sample("mocket_agent_reconcile_errors_total", reconcileErrors.sum());
        t.family("mocket_agent_reconcile_seconds_total", "counter", "Time spent in reconcile passes")
                .sample("mocket_agent_reconcile_seconds_total", reconcileSeconds.sum());
        t.family("mocket_agent_map_writes_total", "counter", "BPF map elements written or deleted by reconciles")
                .sample("mocket_agent_map_writes_total", mapWrites.sum());
        t.family("mocket_agent_failing_resources", "gauge", "Resources the last reconcile could not apply")
                .sample("mocket_agent_failing_resources", failingResources.get());
        t.family("mocket_agent_apply_seconds", "histogram", "xDS responses from arrival (whole message received) to"
                + " the answer sent, after the data path applied them, by type");
        applies.forEach((k, a) -> a.write(t, k.typeUrl()));
        t.family("mocket_agent_last_apply_seconds", "gauge", "The last xDS response of a type: arrival to answer"
                + " (total), and of that, parse and store update (decode) and the CPU time of its threads in it"
                + " (decode_cpu), and the garbage collections from arrival to answer (gc)");
        t.family("mocket_agent_last_apply_generation", "gauge", "The store generation the last response of a type"
                + " produced");
        applies.forEach((k, a) -> a.writeLast(t, k.typeUrl()));
        ServiceReconciler.Pass p = lastPass;
        if (p != null) {
            t.family("mocket_agent_last_reconcile_seconds", "gauge", "The last reconcile pass: wall time (wall),"
                    + " its thread's CPU time (cpu), and of the wall time the desired state (desired) and the plan"
                    + " (plan); the rest is map writes");
            t.sample("mocket_agent_last_reconcile_seconds", Map.of("part", "wall"), p.took().toNanos() / 1e9);
            t.sample("mocket_agent_last_reconcile_seconds", Map.of("part", "cpu"), p.cpu().toNanos() / 1e9);
            t.sample("mocket_agent_last_reconcile_seconds", Map.of("part", "desired"), p.desiredTook().toNanos() / 1e9);
            t.sample("mocket_agent_last_reconcile_seconds", Map.of("part", "plan"), p.planTook().toNanos() / 1e9);
            t.family("mocket_agent_last_reconcile_generation", "gauge", "The store generation of the last pass")
                    .sample("mocket_agent_last_reconcile_generation", p.generation());
            t.family("mocket_agent_last_reconcile_writes", "gauge", "Map elements the last pass wrote before its"
                    + " answer").sample("mocket_agent_last_reconcile_writes", p.writes());
        }
        ServiceReconciler.Cleanup cleanup = lastCleanup;
        if (cleanup != null) {
            t.family("mocket_agent_last_cleanup_seconds", "gauge", "The deletes after the last answered pass (old"
                    + " revisions, unreferenced backends): wall time").sample("mocket_agent_last_cleanup_seconds",
                    cleanup.took().toNanos() / 1e9);
            t.family("mocket_agent_last_cleanup_writes", "gauge", "Map elements the last cleanup deleted")
                    .sample("mocket_agent_last_cleanup_writes", cleanup.writes());
        }
        t.family("mocket_agent_map_full_total", "counter", "Service ports left out because a BPF map was full, by map");
        mapFull.forEach((m, v) -> t.sample("mocket_agent_map_full_total", Map.of("map", m), v.sum()));
        for (Consumer<PrometheusText> c : collectors) {
            c.accept(t);
        }
        return t.toString();
    }
}
