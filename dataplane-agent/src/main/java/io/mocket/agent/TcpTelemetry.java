package io.mocket.agent;

import io.mocket.bpf.ConnectionKey;
import io.mocket.bpf.ConnectionMetrics;
import io.mocket.bpf.TypedMap;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Istio's TCP metrics from the sockops connection map: {@code istio_tcp_connections_opened_total},
 * {@code istio_tcp_connections_closed_total}, {@code istio_tcp_sent_bytes_total} (response direction,
 * destination to source) and {@code istio_tcp_received_bytes_total} (request direction), as Istio
 * defines them. Each collection reads the map, adds what changed per socket since the last one, and
 * deletes closed connections once counted (the map is LRU, so an agent that is away loses only the
 * oldest).
 *
 * <p>Labels filled from the node's store: reporter, source/destination workload and namespace, source
 * canonical service, destination service and its namespace (from the service id of the VIP dialled).
 * Not filled, because the socket does not carry them: source/destination principal (no identity until
 * mTLS-lite), destination service of an accepted connection (only the client side knows the VIP),
 * response flags. {@code connection_security_policy} is "unknown". Counters count TCP sequence space,
 * so SYN and FIN add up to 2 bytes per connection. Thread-safe.
 */
final class TcpTelemetry {

    private record Labels(Map<String, String> values) {
    }

    private static final class Seen {
        final Labels labels;
        long sent;
        long received;

        Seen(Labels labels) {
            this.labels = labels;
        }
    }

    private static final class Totals {
        long opened;
        long closed;
        long sentBytes;
        long receivedBytes;
    }

    private final TypedMap<ConnectionKey, ConnectionMetrics> connections;
    private final NodeState state;
    private final Supplier<Map<Integer, String>> serviceNames;
    private final Map<Long, Seen> seen = new HashMap<>();
    private final Map<Labels, Totals> totals = new LinkedHashMap<>();

    TcpTelemetry(TypedMap<ConnectionKey, ConnectionMetrics> connections, NodeState state,
                 Supplier<Map<Integer, String>> serviceNames) {
        this.connections = connections;
        this.state = state;
        this.serviceNames = serviceNames;
    }

    /** Reads the connection map once and folds it into the totals. */
    synchronized void collect() {
        Map<ConnectionKey, ConnectionMetrics> now = connections.entries();
        NodeState.Snapshot snapshot = state.snapshot();
        Map<Integer, String> services = serviceNames.get();
        List<ConnectionKey> finished = new ArrayList<>();
        Set<Long> present = new HashSet<>();
        for (Map.Entry<ConnectionKey, ConnectionMetrics> e : now.entrySet()) {
            long cookie = e.getKey().cookie();
            ConnectionMetrics m = e.getValue();
            present.add(cookie);
            Seen s = seen.get(cookie);
            if (s == null) {
                s = new Seen(labels(m, snapshot, services));
                seen.put(cookie, s);
                totals.computeIfAbsent(s.labels, l -> new Totals()).opened++;
            }
            Totals t = totals.computeIfAbsent(s.labels, l -> new Totals());
            // Istio's "received" is the request direction (client to server), "sent" the response.
            boolean client = m.direction() == ConnectionMetrics.Direction.ACTIVE;
            long request = client ? m.bytesSent() : m.bytesReceived();
            long response = client ? m.bytesReceived() : m.bytesSent();
            t.receivedBytes += Math.max(0, request - s.received);
            t.sentBytes += Math.max(0, response - s.sent);
            s.received = Math.max(s.received, request);
            s.sent = Math.max(s.sent, response);
            if (m.closed()) {
                t.closed++;
                seen.remove(cookie);
                finished.add(e.getKey());
            }
        }
        seen.keySet().retainAll(present); // evicted by the LRU before they closed: nothing more to learn
        connections.removeAll(finished);
    }

    /** Writes the four families. */
    synchronized void write(PrometheusText t) {
        t.family("istio_tcp_connections_opened_total", "counter", "TCP connections opened, seen by sockops");
        t.family("istio_tcp_connections_closed_total", "counter", "TCP connections closed, seen by sockops");
        t.family("istio_tcp_sent_bytes_total", "counter", "Bytes sent in the response direction of TCP connections");
        t.family("istio_tcp_received_bytes_total", "counter", "Bytes received in the request direction of TCP connections");
        for (Map.Entry<Labels, Totals> e : totals.entrySet()) {
            Map<String, String> l = e.getKey().values();
            Totals v = e.getValue();
            t.sample("istio_tcp_connections_opened_total", l, v.opened);
            t.sample("istio_tcp_connections_closed_total", l, v.closed);
            t.sample("istio_tcp_sent_bytes_total", l, v.sentBytes);
            t.sample("istio_tcp_received_bytes_total", l, v.receivedBytes);
        }
    }

    private static Labels labels(ConnectionMetrics m, NodeState.Snapshot snapshot, Map<Integer, String> services) {
        boolean client = m.direction() == ConnectionMetrics.Direction.ACTIVE;
        InetAddress source = client ? m.local().getAddress() : m.remote().getAddress();
        InetAddress destination = client ? m.remote().getAddress() : m.local().getAddress();
        Optional<KnownWorkload> src = snapshot.workloadByAddress(source);
        Optional<KnownWorkload> dst = snapshot.workloadByAddress(destination);
        String serviceKey = m.serviceId() == 0 ? null : services.get(m.serviceId());
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
