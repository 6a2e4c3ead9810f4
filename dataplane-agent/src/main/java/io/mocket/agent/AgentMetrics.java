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

    public AgentMetrics() {
        for (ResourceKind k : ResourceKind.values()) {
            responses.put(k, new LongAdder());
            nacks.put(k, new LongAdder());
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
        t.family("mocket_agent_map_full_total", "counter", "Service ports left out because a BPF map was full, by map");
        mapFull.forEach((m, v) -> t.sample("mocket_agent_map_full_total", Map.of("map", m), v.sum()));
        for (Consumer<PrometheusText> c : collectors) {
            c.accept(t);
        }
        return t.toString();
    }
}
