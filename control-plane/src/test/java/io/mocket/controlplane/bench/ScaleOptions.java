package io.mocket.controlplane.bench;

import io.mocket.controlplane.index.MeshSettings;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What one run of {@link XdsScaleBenchmark} does.
 *
 * @param clients       delta clients in the swarm
 * @param changes       single-pod changes measured, one at a time
 * @param shape         the synthetic cluster
 * @param debounceQuiet the index's debounce quiet period (production default 10 ms)
 * @param debounceMax   the index's debounce max delay (production default 100 ms)
 * @param clientHeap    the swarm JVM's -Xmx
 * @param syncTimeout   bound on the initial sync of all clients
 * @param changeTimeout bound on one change's convergence
 * @param pause         idle time after each converged change, so that changes do not overlap
 */
record ScaleOptions(int clients, int changes, SyntheticCluster.Shape shape, Duration debounceQuiet, Duration debounceMax,
                    String clientHeap, Duration syncTimeout, Duration changeTimeout, Duration pause) {

    static final String USAGE = """
            Usage: XdsScaleBenchmark [--name=value ...]
              --clients=1000        delta clients (one connection each, wildcard Address + Authorization)
              --changes=200         single-pod changes, measured one at a time (200 so that p99 is not the maximum)
              --namespaces=100      ambient namespaces
              --services=1000       Services (one Deployment each)
              --pods=10000          pods, spread evenly over the Deployments
              --nodes=100           nodes
              --zones=3             zones the nodes are spread over
              --debounce-quiet-ms=10  index debounce quiet period (production default)
              --debounce-max-ms=100   index debounce max delay (production default)
              --client-heap=1g      -Xmx of the client swarm JVM
              --sync-timeout-s=300  bound on the initial sync of all clients
              --change-timeout-s=30 bound on one change's convergence
              --pause-ms=50         idle time between changes
            """;

    private static final List<String> KEYS = List.of("clients", "changes", "namespaces", "services", "pods", "nodes",
            "zones", "debounce-quiet-ms", "debounce-max-ms", "client-heap", "sync-timeout-s", "change-timeout-s", "pause-ms");

    ScaleOptions {
        if (clients < 1) {
            throw new IllegalArgumentException("--clients must be at least 1, got " + clients);
        }
        if (changes < 1 || changes > shape.pods()) {
            throw new IllegalArgumentException("--changes must be between 1 and the pod count " + shape.pods()
                    + " (each change touches another pod), got " + changes);
        }
        if (!clientHeap.matches("\\d+[kKmMgG]?")) {
            throw new IllegalArgumentException("--client-heap takes a JVM size like 512m or 1g, got '" + clientHeap + "'");
        }
    }

    /** Parses {@code --name=value} or {@code --name value}; null for {@code --help}. */
    static ScaleOptions parse(String[] args) {
        Map<String, String> v = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                return null;
            }
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument '" + a + "': options look like --clients=1000");
            }
            String key;
            String value;
            int eq = a.indexOf('=');
            if (eq > 0) {
                key = a.substring(2, eq);
                value = a.substring(eq + 1);
            } else if (i + 1 < args.length) {
                key = a.substring(2);
                value = args[++i];
            } else {
                throw new IllegalArgumentException("option " + a + " needs a value, e.g. " + a + "=1000");
            }
            if (!KEYS.contains(key)) {
                throw new IllegalArgumentException("unknown option --" + key + "; known: " + KEYS);
            }
            v.put(key, value);
        }
        SyntheticCluster.Shape d = SyntheticCluster.Shape.defaults();
        SyntheticCluster.Shape shape = new SyntheticCluster.Shape(integer(v, "namespaces", d.namespaces()),
                integer(v, "services", d.services()), integer(v, "pods", d.pods()), integer(v, "nodes", d.nodes()),
                integer(v, "zones", d.zones()));
        return new ScaleOptions(integer(v, "clients", 1_000), integer(v, "changes", 200), shape,
                Duration.ofMillis(integer(v, "debounce-quiet-ms", (int) MeshSettings.DEFAULT_DEBOUNCE_QUIET.toMillis())),
                Duration.ofMillis(integer(v, "debounce-max-ms", (int) MeshSettings.DEFAULT_DEBOUNCE_MAX.toMillis())),
                v.getOrDefault("client-heap", "1g"),
                Duration.ofSeconds(integer(v, "sync-timeout-s", 300)),
                Duration.ofSeconds(integer(v, "change-timeout-s", 30)),
                Duration.ofMillis(integer(v, "pause-ms", 50)));
    }

    /** The options as a command line, for the results. */
    String commandLine() {
        return "--clients=%d --changes=%d --namespaces=%d --services=%d --pods=%d --nodes=%d --zones=%d --debounce-quiet-ms=%d --debounce-max-ms=%d --client-heap=%s --pause-ms=%d"
                .formatted(clients, changes, shape.namespaces(), shape.services(), shape.pods(), shape.nodes(),
                        shape.zones(), debounceQuiet.toMillis(), debounceMax.toMillis(), clientHeap, pause.toMillis());
    }

    private static int integer(Map<String, String> v, String key, int fallback) {
        String s = v.get(key);
        if (s == null) {
            return fallback;
        }
        try {
            return Integer.parseInt(s.replace("_", "").replace(",", ""));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + key + " takes a whole number, got '" + s + "'");
        }
    }
}
