package io.mocket.agent;

import io.mocket.api.istio.workload.Locality;
import io.mocket.bpf.SocketLoadBalancer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The agent's settings, from command-line flags or environment variables (a flag wins). Every setting
 * has a documented default except the node name, which Kubernetes passes as NODE_NAME through the
 * downward API.
 */
public record AgentConfig(String controlPlane, String nodeName, String podIp, String podName, String podNamespace,
                          String clusterId, String network, Optional<Locality> locality, Path pinRoot, Path cgroup,
                          String adminAddress, int adminPort, int maxResourceBytes, Duration debounce,
                          boolean checkHostOnly) {

    /** A flag, its environment variable, default and meaning: the one table usage text and parsing share. */
    private record Option(String flag, String env, String defaultValue, String help) {
    }

    private static final List<Option> OPTIONS = List.of(
            new Option("--control-plane", "MOCKET_CONTROL_PLANE", "localhost:15110",
                    "control plane xDS address, host:port (plaintext delta ADS)"),
            new Option("--node-name", "NODE_NAME", null, "Kubernetes node this agent runs on (required)"),
            new Option("--pod-ip", "POD_IP", "127.0.0.1", "this agent's pod IP, part of the xDS node id"),
            new Option("--pod-name", "POD_NAME", "mocket-agent-<node name>", "this agent's pod name, part of the node id"),
            new Option("--pod-namespace", "POD_NAMESPACE", "istio-system", "this agent's namespace, part of the node id"),
            new Option("--cluster-id", "CLUSTER_ID", "Kubernetes", "cluster id, for the CLUSTER routing preference"),
            new Option("--network", "NETWORK", "", "network of this node; only VIPs and workloads on it are programmed"),
            new Option("--locality", "MOCKET_LOCALITY", "(learned from the workloads on this node)",
                    "region/zone/subzone of this node, for routing preferences"),
            new Option("--pin-root", "MOCKET_PIN_ROOT", SocketLoadBalancer.DEFAULT_PIN_ROOT.toString(),
                    "bpffs directory; maps and links are pinned under <pin root>/<node name>"),
            new Option("--cgroup", "MOCKET_CGROUP", "/sys/fs/cgroup", "cgroup2 directory the programs attach to"),
            new Option("--admin-address", "MOCKET_ADMIN_ADDRESS", "0.0.0.0", "bind address of the admin endpoint"),
            new Option("--admin-port", "MOCKET_ADMIN_PORT", "15120", "admin endpoint port (0: any free port)"),
            new Option("--max-resource-bytes", "MOCKET_MAX_RESOURCE_BYTES",
                    Integer.toString(ResourceDecoder.DEFAULT_MAX_RESOURCE_BYTES), "larger xDS resources are NACKed"),
            new Option("--debounce-ms", "MOCKET_DEBOUNCE_MS", "20",
                    "quiet time before a reconcile for a burst of changes (a change after a quiet period goes at once)"),
            new Option("--check-host", null, null, "only check that this host can run the agent, then exit"));

    /** A configuration problem; the message says which setting and how to fix it. */
    public static final class UsageException extends Exception {
        public UsageException(String message) {
            super(message);
        }
    }

    /** Parses flags ({@code --name value} or {@code --name=value}) over environment variables. */
    public static AgentConfig parse(String[] args, Map<String, String> env) throws UsageException {
        Map<String, String> values = new LinkedHashMap<>();
        for (Option o : OPTIONS) {
            if (o.env() != null && env.containsKey(o.env()) && !env.get(o.env()).isEmpty()) {
                values.put(o.flag(), env.get(o.env()));
            }
        }
        boolean checkHost = false;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("--check-host")) {
                checkHost = true;
                continue;
            }
            String flag = arg;
            String value = null;
            int eq = arg.indexOf('=');
            if (eq > 0) {
                flag = arg.substring(0, eq);
                value = arg.substring(eq + 1);
            }
            String f = flag;
            if (OPTIONS.stream().noneMatch(o -> o.flag().equals(f))) {
                throw new UsageException("unknown flag " + flag);
            }
            if (value == null) {
                if (i + 1 >= args.length) {
                    throw new UsageException(flag + " needs a value");
                }
                value = args[++i];
            }
            values.put(flag, value);
        }
        String node = values.get("--node-name");
        if (node == null || node.isBlank()) {
            throw new UsageException("the node name is not set: set NODE_NAME (in Kubernetes from the downward API,"
                    + " fieldRef spec.nodeName) or pass --node-name");
        }
        Optional<Locality> locality = Optional.empty();
        if (values.containsKey("--locality")) {
            String[] parts = values.get("--locality").split("/", -1);
            if (parts.length > 3) {
                throw new UsageException("--locality must be region[/zone[/subzone]], got " + values.get("--locality"));
            }
            Locality.Builder l = Locality.newBuilder().setRegion(parts[0]);
            if (parts.length > 1) {
                l.setZone(parts[1]);
            }
            if (parts.length > 2) {
                l.setSubzone(parts[2]);
            }
            locality = Optional.of(l.build());
        }
        String controlPlane = values.getOrDefault("--control-plane", "localhost:15110");
        try {
            AdsConnection.Target.parse(controlPlane);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--control-plane (MOCKET_CONTROL_PLANE): " + e.getMessage());
        }
        return new AgentConfig(
                controlPlane,
                node,
                values.getOrDefault("--pod-ip", "127.0.0.1"),
                values.getOrDefault("--pod-name", "mocket-agent-" + node),
                values.getOrDefault("--pod-namespace", "istio-system"),
                values.getOrDefault("--cluster-id", "Kubernetes"),
                values.getOrDefault("--network", ""),
                locality,
                Path.of(values.getOrDefault("--pin-root", SocketLoadBalancer.DEFAULT_PIN_ROOT.toString())),
                Path.of(values.getOrDefault("--cgroup", "/sys/fs/cgroup")),
                values.getOrDefault("--admin-address", "0.0.0.0"),
                integer(values, "--admin-port", 15120, 0, 65535),
                integer(values, "--max-resource-bytes", ResourceDecoder.DEFAULT_MAX_RESOURCE_BYTES, 1, Integer.MAX_VALUE),
                Duration.ofMillis(integer(values, "--debounce-ms", 20, 0, 60_000)),
                checkHost);
    }

    private static int integer(Map<String, String> values, String flag, int dflt, int min, int max)
            throws UsageException {
        String v = values.get(flag);
        if (v == null) {
            return dflt;
        }
        try {
            int n = Integer.parseInt(v.trim());
            if (n < min || n > max) {
                throw new UsageException(flag + " must be between " + min + " and " + max + ", got " + v);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException(flag + " must be a number, got '" + v + "'");
        }
    }

    /** Where this node's maps and links are pinned. */
    public Path pinDirectory() {
        return SocketLoadBalancer.pinDirectory(pinRoot, nodeName);
    }

    /** The usage text: every flag with its environment variable and default. */
    public static String usage() {
        List<String> lines = new ArrayList<>();
        lines.add("usage: mocket-agent [flags]   (each flag can also come from the environment variable shown)");
        for (Option o : OPTIONS) {
            String env = o.env() == null ? "" : " [" + o.env() + "]";
            String dflt = o.defaultValue() == null ? "" : " (default: " + (o.defaultValue().isEmpty() ? "\"\""
                    : o.defaultValue()) + ")";
            lines.add(String.format("  %-22s %s%s%s", o.flag(), o.help(), env, dflt));
        }
        lines.add("exit codes: 0 stopped normally (or host check passed), 1 failed while running, 2 bad flags,"
                + " 3 host cannot run the agent");
        return String.join("\n", lines) + "\n";
    }
}
