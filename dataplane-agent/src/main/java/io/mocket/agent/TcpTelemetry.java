package io.mocket.agent;

import io.mocket.bpf.ConnectionKey;
import io.mocket.bpf.ConnectionTotals;
import io.mocket.bpf.TypedMap;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Istio's TCP metrics from the sockops connection counters: {@code istio_tcp_connections_opened_total},
 * {@code istio_tcp_connections_closed_total}, {@code istio_tcp_sent_bytes_total} (response direction,
 * destination to source) and {@code istio_tcp_received_bytes_total} (request direction), as Istio
 * defines them.
 *
 * <p>The kernel keeps one per-CPU counter element per direction, service and address pair; each collection
 * reads them, adds what grew since the last read to the totals of the element's labels, and deletes elements
 * that stayed unchanged for {@link #DEFAULT_IDLE_BEFORE_DELETE} with every opened connection closed (read
 * and deleted in one call, so nothing counted before the delete is lost). The kernel's counters outlive the
 * agent, so a restarted agent reports what they hold since they were created. Bytes of a connection are
 * added when it closes.
 *
 * <p>Labels filled from the node's store: reporter, source/destination workload and namespace, source
 * canonical service, destination service and its namespace (from the service id of the VIP dialled).
 * Not filled, because the socket does not carry them: source/destination principal (no identity until
 * mTLS-lite), destination service of an accepted connection (only the client side knows the VIP),
 * response flags. {@code connection_security_policy} is "unknown". Counters count TCP sequence space,
 * so SYN and FIN add up to 2 bytes per connection. Thread-safe.
 */
final class TcpTelemetry {

    /** How long an element must stay unchanged, with no connection open, before it is deleted. */
    static final Duration DEFAULT_IDLE_BEFORE_DELETE = Duration.ofMinutes(2);

    private record Labels(Map<String, String> values) {

        boolean knowsBothWorkloads() {
            return !values.get("source_workload").equals("unknown")
                    && !values.get("destination_workload").equals("unknown");
        }
    }

    /** What the last collection saw of one kernel element. */
    private static final class Seen {
        Labels labels;
        ConnectionTotals last = ConnectionTotals.ZERO;
        long changedAt;

        Seen(Labels labels, long now) {
            this.labels = labels;
            this.changedAt = now;
        }
    }

    private static final class Totals {
        long opened;
        long closed;
        long sentBytes;
        long receivedBytes;
    }

    private final TypedMap<ConnectionKey, ConnectionTotals> counters;
    private final NodeState state;
    private final Supplier<Map<Integer, String>> serviceNames;
    private final long idleNanos;
    private final LongSupplier clock;
    private final Map<ConnectionKey, Seen> seen = new HashMap<>();
    private final Map<Labels, Totals> totals = new LinkedHashMap<>();

    TcpTelemetry(TypedMap<ConnectionKey, ConnectionTotals> counters, NodeState state,
                 Supplier<Map<Integer, String>> serviceNames) {
        this(counters, state, serviceNames, DEFAULT_IDLE_BEFORE_DELETE, System::nanoTime);
    }

    TcpTelemetry(TypedMap<ConnectionKey, ConnectionTotals> counters, NodeState state,
                 Supplier<Map<Integer, String>> serviceNames, Duration idleBeforeDelete, LongSupplier clock) {
        this.counters = counters;
        this.state = state;
        this.serviceNames = serviceNames;
        this.idleNanos = idleBeforeDelete.toNanos();
        this.clock = clock;
    }

    /** Reads the counters once and folds what grew into the totals. */
    synchronized void collect() {
        Map<ConnectionKey, ConnectionTotals> now = counters.entries();
        NodeState.Snapshot snapshot = state.snapshot();
        Map<Integer, String> services = serviceNames.get();
        long time = clock.getAsLong();
        seen.keySet().retainAll(now.keySet()); // deleted by someone else: a new element starts from zero
        for (Map.Entry<ConnectionKey, ConnectionTotals> e : now.entrySet()) {
            ConnectionKey key = e.getKey();
            ConnectionTotals value = e.getValue();
            Seen s = seen.get(key);
            if (s == null) {
                s = new Seen(labels(key, snapshot, services), time);
                seen.put(key, s);
            } else if (!s.labels.knowsBothWorkloads() && s.last.balanced()) {
                // Learnt before the store knew a workload; with no connection open, later ones go to the new labels.
                s.labels = labels(key, snapshot, services);
            }
            if (!value.atLeast(s.last)) {
                s.last = ConnectionTotals.ZERO; // deleted and created again between two reads
            }
            if (!value.equals(s.last)) {
                add(key, s.labels, value.minus(s.last));
                s.last = value;
                s.changedAt = time;
            } else if (value.balanced() && time - s.changedAt >= idleNanos) {
                ConnectionTotals last = s.last;
                Labels labels = s.labels;
                seen.remove(key);
                counters.take(key).ifPresent(fin -> {
                    if (fin.atLeast(last)) {
                        add(key, labels, fin.minus(last)); // what arrived between the read and the delete
                    }
                });
            }
        }
    }

    private void add(ConnectionKey key, Labels labels, ConnectionTotals delta) {
        Totals t = totals.computeIfAbsent(labels, l -> new Totals());
        t.opened += delta.opened();
        t.closed += delta.closed();
        // Istio's "received" is the request direction (client to server), "sent" the response.
        boolean client = key.direction() == ConnectionKey.Direction.ACTIVE;
        t.receivedBytes += client ? delta.bytesSent() : delta.bytesReceived();
        t.sentBytes += client ? delta.bytesReceived() : delta.bytesSent();
    }

    /** Writes the four families. */
    synchronized void write(PrometheusText t) {
        t.family("istio_tcp_connections_opened_total", "counter", "TCP connections opened, seen by sockops");
        t.family("istio_tcp_connections_closed_total", "counter", "TCP connections closed, seen by sockops");
        t.family("istio_tcp_sent_bytes_total", "counter", "Bytes sent in the response direction of closed TCP connections");
        t.family("istio_tcp_received_bytes_total", "counter", "Bytes received in the request direction of closed TCP connections");
        for (Map.Entry<Labels, Totals> e : totals.entrySet()) {
            Map<String, String> l = e.getKey().values();
            Totals v = e.getValue();
            t.sample("istio_tcp_connections_opened_total", l, v.opened);
            t.sample("istio_tcp_connections_closed_total", l, v.closed);
            t.sample("istio_tcp_sent_bytes_total", l, v.sentBytes);
            t.sample("istio_tcp_received_bytes_total", l, v.receivedBytes);
        }
    }

    /** Kernel elements currently tracked (for tests). */
    synchronized int tracked() {
        return seen.size();
    }

    private static Labels labels(ConnectionKey key, NodeState.Snapshot snapshot, Map<Integer, String> services) {
        boolean client = key.direction() == ConnectionKey.Direction.ACTIVE;
        InetAddress source = client ? key.local() : key.remote();
        InetAddress destination = client ? key.remote() : key.local();
        Optional<KnownWorkload> src = snapshot.workloadByAddress(source);
        Optional<KnownWorkload> dst = snapshot.workloadByAddress(destination);
        String serviceKey = key.serviceId() == 0 ? null : services.get(key.serviceId());
        String serviceNamespace = "unknown";
        String serviceHost = "unknown";
        if (serviceKey != null) {
            int slash = serviceKey.indexOf('/');
            int colon = serviceKey.lastIndexOf(':');
            serviceNamespace = serviceKey.substring(0, slash);
            serviceHost = serviceKey.substring(slash + 1, colon);
        }
        Map<String, String> l = new LinkedHashMap<>();
        l.put("reporter", client ? "source" : "destination");
        l.put("source_workload", src.map(TcpTelemetry::workloadName).orElse("unknown"));
        l.put("source_workload_namespace", src.map(KnownWorkload::namespace).orElse("unknown"));
        l.put("source_canonical_service", src.map(w -> orUnknown(w.canonicalName())).orElse("unknown"));
        l.put("destination_service", serviceHost);
        l.put("destination_service_namespace", serviceNamespace);
        l.put("destination_workload", dst.map(TcpTelemetry::workloadName).orElse("unknown"));
        l.put("destination_workload_namespace", dst.map(KnownWorkload::namespace).orElse("unknown"));
        l.put("request_protocol", "tcp");
        l.put("connection_security_policy", "unknown");
        return new Labels(Collections.unmodifiableMap(l));
    }

    private static String workloadName(KnownWorkload w) {
        return orUnknown(w.workloadName().isEmpty() ? w.name() : w.workloadName());
    }

    private static String orUnknown(String s) {
        return s.isEmpty() ? "unknown" : s;
    }
}
