package io.mocket.it;

import io.mocket.bpf.ConnectionKey;
import io.mocket.bpf.ConnectionTotals;
import io.mocket.bpf.L4Protocol;
import io.mocket.bpf.Libbpf;
import io.mocket.bpf.LoadBalancerMaps;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The data-path benchmark: short-connection HTTP requests per second and latency percentiles, and TCP
 * throughput, from a client pod on node-0 to a server pod on node-1 of a {@link TestCluster}, over six paths
 * measured side by side in one run, with the same client (wrk, iperf3) and the same server process:
 *
 * <ol>
 *   <li>{@code direct}: to the pod IP, no service layer (the baseline);</li>
 *   <li>{@code mocket}: to a service VIP through Mocket's socket load balancer (client and server pods
 *       enrolled: the programs of both nodes run, sockops included);</li>
 *   <li>{@code nftables}: to a VIP DNATed by an nftables rule in node-0's prerouting hook, as kube-proxy's
 *       nftables mode does (the table exists only during these runs, so conntrack is off for the others);</li>
 *   <li>{@code haproxy}: through haproxy in TCP mode in node-0's namespace, a userspace L4 hop standing in
 *       for a node proxy such as ztunnel, dialled directly at its address (one hop, no TLS, no traffic
 *       redirection: the cheapest userspace hop possible);</li>
 *   <li>{@code haproxy-capture}: the client dials a service VIP and an nftables {@code redirect} rule in node-0's
 *       prerouting hook hands the connection to that haproxy, which connects to the pod: how a node proxy
 *       captures traffic the application sends to a service (still one hop and no TLS; the table exists only
 *       during these runs).</li>
 *   <li>{@code haproxy-two-hop}: captured the same way, then relayed by a second haproxy in node-1's namespace,
 *       which connects to the pod: the shape of a ztunnel path (a proxy on each node), without its mTLS.</li>
 * </ol>
 *
 * Runs are interleaved, odd rounds in the listed order and even rounds in reverse (a, b, c, c, b, a, ...), so
 * drift of a shared machine spreads evenly over all paths. The report gives medians over rounds, and each
 * path's ratio to the baseline as the median of per-round ratios (each pairs two runs made minutes apart at
 * most) with a distribution-free confidence interval of that median. Not a test: nothing is asserted on
 * speed. Every run has a duration and a deadline; the cluster is removed at the end, on error and on
 * interruption.
 *
 * <p>Usage: {@code DatapathBenchmark [--rounds 11] [--seconds 4] [--threads 2] [--connections 32]
 * [--iperf-rounds 3] [--iperf-seconds 3] [--paths all] [--output BENCHMARKS-datapath.md]
 * [--command "<how it was run>"]}. {@code --paths direct,mocket} measures only those paths (to profile one path
 * at a time); the verdicts against the targets need every path.
 */
public final class DatapathBenchmark {

    /** The paths, in the order of odd rounds (even rounds run them in reverse). */
    enum DataPath {
        DIRECT("direct to the pod IP (baseline)"),
        MOCKET("service VIP, Mocket BPF socket LB"),
        NFTABLES("service VIP, nftables DNAT (kube-proxy style)"),
        HAPROXY("haproxy TCP hop on the client node, dialled directly (cheapest userspace hop)"),
        HAPROXY_CAPTURE("service VIP redirected by nftables on the client node to haproxy (node-proxy capture)"),
        HAPROXY_TWO_HOP("captured as above, relayed by a second haproxy on the server node (ztunnel-shaped, no TLS)");

        final String description;

        DataPath(String description) {
            this.description = description;
        }

        String label() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    record Options(int rounds, int seconds, int threads, int connections, int iperfRounds, int iperfSeconds,
                   String server, List<DataPath> paths, Path output, String command) {

        static Options parse(String[] args) {
            Map<String, String> values = new java.util.HashMap<>(Map.of("--rounds", "11", "--seconds", "4",
                    "--threads", "2", "--connections", "32", "--iperf-rounds", "3", "--iperf-seconds", "3",
                    "--server", "java", "--paths", "all", "--output", "BENCHMARKS-datapath.md", "--command",
                    "DatapathBenchmark"));
            for (int i = 0; i < args.length; i += 2) {
                if (!values.containsKey(args[i])) {
                    throw new IllegalArgumentException("unknown option " + args[i] + "; options: " + values.keySet());
                }
                if (i + 1 == args.length) {
                    throw new IllegalArgumentException("option " + args[i] + " needs a value");
                }
                values.put(args[i], args[i + 1]);
            }
            Function<String, Integer> number = k -> Integer.parseInt(values.get(k));
            Options o = new Options(number.apply("--rounds"), number.apply("--seconds"), number.apply("--threads"),
                    number.apply("--connections"), number.apply("--iperf-rounds"), number.apply("--iperf-seconds"),
                    values.get("--server"), paths(values.get("--paths")), Path.of(values.get("--output")),
                    values.get("--command"));
            if (!Set.of("java", "haproxy").contains(o.server)) {
                throw new IllegalArgumentException("--server java|haproxy, not " + o.server);
            }
            if (o.rounds < 1 || o.rounds > 50 || o.seconds < 1 || o.seconds > 120 || o.iperfRounds < 0
                    || o.iperfRounds > 20 || o.iperfSeconds < 1 || o.iperfSeconds > 60) {
                throw new IllegalArgumentException("rounds 1..50, seconds 1..120, iperf rounds 0..20, iperf seconds 1..60");
            }
            return o;
        }

        /** {@code all}, or labels separated by commas ({@code direct,mocket}), kept in the order of {@link DataPath}. */
        private static List<DataPath> paths(String spec) {
            if (spec.equals("all")) {
                return List.of(DataPath.values());
            }
            Set<String> wanted = Set.of(spec.split(","));
            List<DataPath> paths = java.util.Arrays.stream(DataPath.values()).filter(p -> wanted.contains(p.label()))
                    .toList();
            if (paths.size() != wanted.size()) {
                throw new IllegalArgumentException("--paths all or a comma-separated subset of "
                        + java.util.Arrays.stream(DataPath.values()).map(DataPath::label).toList() + ", not " + spec);
            }
            if (!paths.contains(DataPath.DIRECT)) {
                throw new IllegalArgumentException("--paths " + spec + " lacks direct: every ratio is to the baseline,"
                        + " add it (for example --paths direct," + spec + ")");
            }
            return paths;
        }

        boolean allPaths() {
            return paths.size() == DataPath.values().length;
        }
    }

    /**
     * One wrk run: requests per second, latency percentiles in milliseconds, errors of any kind, and the CPU
     * time all processes of the cluster (client, server, proxy, and the kernel work done in their context)
     * used per request, in microseconds: on a shared machine this moves far less with the neighbours' load
     * than requests per second do.
     */
    record WrkRun(double requestsPerSecond, double p50, double p75, double p90, double p99, long requests,
                  long errors, double cpuMicrosPerRequest) {

        WrkRun withCpu(Duration cpu) {
            return new WrkRun(requestsPerSecond, p50, p75, p90, p99, requests, errors,
                    requests == 0 ? Double.NaN : cpu.toNanos() / 1000.0 / requests);
        }
    }

    private static final String SERVICE_VIP = "10.252.0.80";
    private static final String NFT_VIP = "10.253.0.80";
    private static final String NFT_VIP_CIDR = "10.253.0.0/16";
    private static final int IPERF_PLAIN = 5201;
    private static final int IPERF_MESHED = 5202;
    private static final int PROXY_HTTP = 15001;
    private static final int PROXY_IPERF = 15201;
    private static final String NFT_TABLE = "mocket_bench_kubeproxy";
    private static final String CAPTURE_VIP = "10.254.0.80";
    private static final String CAPTURE_VIP_CIDR = "10.254.0.0/16";
    private static final int CAPTURE_HTTP = 15002;
    private static final String TWO_HOP_VIP = "10.255.0.80";
    private static final String TWO_HOP_VIP_CIDR = "10.255.0.0/16";
    private static final String TWO_HOP_TABLE = "mocket_bench_two_hop";
    private static final int TWO_HOP_HTTP = 15003;
    private static final int TWO_HOP_IPERF = 15203;
    /** The server node's proxy: the port a ztunnel accepts tunnelled connections on (HBONE's 15008). */
    private static final int INBOUND_HTTP = 15008;
    private static final int INBOUND_IPERF = 15209;
    private static final int CAPTURE_IPERF = 15202;
    private static final String CAPTURE_TABLE = "mocket_bench_capture";

    private final Options options;
    private final TestCluster cluster;
    private final Pod client;
    private final Pod server;
    private final Map<DataPath, Path> nftRules;
    private final LoadBalancerMaps clientMaps;
    private final LoadBalancerMaps serverMaps;
    private final List<String> checks = new ArrayList<>();

    private DatapathBenchmark(Options options, TestCluster cluster, Pod client, Pod server, Map<DataPath, Path> nftRules,
                              LoadBalancerMaps clientMaps, LoadBalancerMaps serverMaps) {
        this.options = options;
        this.cluster = cluster;
        this.client = client;
        this.server = server;
        this.nftRules = nftRules;
        this.clientMaps = clientMaps;
        this.serverMaps = serverMaps;
    }

    public static void main(String[] args) throws Exception {
        Options options = Options.parse(args);
        Prerequisites.requireClusterHost();
        Prerequisites.requirePrograms(List.of("wrk", "wrk", "iperf3", "iperf3", "haproxy", "haproxy",
                "nft", "nftables"));
        String loadBefore = loadAverage();
        Instant started = Instant.now();
        Libbpf libbpf = Libbpf.load();
        try (TestCluster cluster = TestCluster.create("mkdpb", 2);
             MapsDataPlane dataPlane = new MapsDataPlane(libbpf)) {
            ClusterNode node0 = cluster.node(0);
            ClusterNode node1 = cluster.node(1);
            Pod client = cluster.addPod(node0, "client");
            Pod server = cluster.addPod(node1, "server");
            // Only for the nftables path: the client pod sends that VIP range to its node, where the DNAT rule
            // is; while the rule is absent the node has no route for it and drops the packets.
            cluster.ip(client.netns(), "route", "add", NFT_VIP_CIDR, "via", node0.podGateway().getHostAddress());
            // The same for the captured haproxy path: without its redirect rule nothing answers on that range.
            cluster.ip(client.netns(), "route", "add", CAPTURE_VIP_CIDR, "via", node0.podGateway().getHostAddress());
            cluster.ip(client.netns(), "route", "add", TWO_HOP_VIP_CIDR, "via", node0.podGateway().getHostAddress());
            // wrk often closes before the server's FIN arrives (always a race, most with one connection), which
            // leaves a TIME_WAIT socket in the client per request: within seconds one destination has no free
            // port left and every connect scans the whole range (measured: 2 ms of kernel CPU per connect, 14 x
            // the path's cost). Reusing TIME_WAIT ports (safe with TCP timestamps) and the full port range keep
            // every path clear of it; both are settings of the client pod's own namespace.
            cluster.inNetns(client.netns(), "sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1",
                    "net.ipv4.ip_local_port_range=1024 65535");
            dataPlane.startNode(node0);
            dataPlane.startNode(node1);
            dataPlane.publish(new MeshService("http", InetAddress.getByName(SERVICE_VIP), List.of(
                    new MeshService.Port(80, serverPort(DataPath.MOCKET), L4Protocol.TCP),
                    new MeshService.Port(IPERF_PLAIN, IPERF_MESHED, L4Protocol.TCP)), List.of(server)));

            Map<DataPath, Path> nftRules = new EnumMap<>(DataPath.class);
            nftRules.put(DataPath.NFTABLES, cluster.logDirectory().resolve("kube-proxy.nft"));
            Files.writeString(nftRules.get(DataPath.NFTABLES), nftTable(server));
            nftRules.put(DataPath.HAPROXY_CAPTURE, cluster.logDirectory().resolve("capture.nft"));
            Files.writeString(nftRules.get(DataPath.HAPROXY_CAPTURE), captureTable());
            nftRules.put(DataPath.HAPROXY_TWO_HOP, cluster.logDirectory().resolve("two-hop.nft"));
            Files.writeString(nftRules.get(DataPath.HAPROXY_TWO_HOP), twoHopTable());
            try (LoadBalancerMaps clientMaps = LoadBalancerMaps.openPinned(libbpf, node0.pinDirectory());
                 LoadBalancerMaps serverMaps = LoadBalancerMaps.openPinned(libbpf, node1.pinDirectory())) {
                DatapathBenchmark bench = new DatapathBenchmark(options, cluster, client, server, nftRules,
                        clientMaps, serverMaps);
                bench.startServers(node1, node0);
                Map<Load, Map<DataPath, List<WrkRun>>> wrk = bench.measureRequests();
                Map<DataPath, List<Double>> iperf = bench.measureThroughput();
                String report = bench.report(started, loadBefore, loadAverage(), wrk, iperf);
                Files.writeString(options.output(), report);
                System.out.println(report);
            }
        }
    }

    // ------------------------------------------------------------------ set-up

    private void startServers(ClusterNode serverNode, ClusterNode proxyNode) throws IOException {
        if (options.server().equals("java")) {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            PodProcess http = cluster.start(server, Enrollment.NONE, "http", List.of(java, "-Xmx256m",
                    "-XX:+UseSerialGC", "-cp", PodProbe.ownClassPath(), ShortHttpServer.class.getName(),
                    "--port", plainPorts(), "--meshed-port", Integer.toString(serverPort(DataPath.MOCKET)),
                    "--join-cgroup", serverNode.cgroupProcs().toString(), "--threads", "2"));
            http.awaitLine("ready"::equals, Duration.ofSeconds(30));
        } else {
            // Two processes of one configuration: a process cannot move its listeners into a cgroup.
            for (Enrollment enrollment : Enrollment.values()) {
                String ports = enrollment == Enrollment.AMBIENT ? Integer.toString(serverPort(DataPath.MOCKET)) : plainPorts();
                Path config = cluster.logDirectory().resolve("origin-" + enrollment + ".cfg");
                Files.writeString(config, haproxyOrigin(ports));
                PodProcess origin = cluster.start(server, enrollment, "origin-" + enrollment,
                        List.of("haproxy", "-db", "-f", config.toString()));
                for (String port : ports.split(",")) {
                    awaitListening(server.netns(), Integer.parseInt(port), origin);
                }
            }
        }
        PodProcess iperfPlain = cluster.start(server, Enrollment.NONE, "iperf3-plain",
                List.of("iperf3", "-s", "-p", Integer.toString(IPERF_PLAIN)));
        PodProcess iperfMeshed = cluster.start(server, Enrollment.AMBIENT, "iperf3-meshed",
                List.of("iperf3", "-s", "-p", Integer.toString(IPERF_MESHED)));
        // iperf3 buffers its stdout when it is not a terminal: ask the kernel instead.
        awaitListening(server.netns(), IPERF_PLAIN, iperfPlain);
        awaitListening(server.netns(), IPERF_MESHED, iperfMeshed);

        Path config = cluster.logDirectory().resolve("haproxy.cfg");
        Files.writeString(config, haproxyConfig(proxyNode, serverNode));
        PodProcess haproxy = cluster.startOnNode(proxyNode, "haproxy",
                List.of("haproxy", "-db", "-f", config.toString()));
        for (int port : new int[] {PROXY_HTTP, PROXY_IPERF, CAPTURE_HTTP, CAPTURE_IPERF, TWO_HOP_HTTP, TWO_HOP_IPERF}) {
            awaitListening(proxyNode.netns(), port, haproxy);
        }
        Path inbound = cluster.logDirectory().resolve("haproxy-inbound.cfg");
        Files.writeString(inbound, inboundProxyConfig(serverNode));
        PodProcess inboundProxy = cluster.startOnNode(serverNode, "haproxy-inbound",
                List.of("haproxy", "-db", "-f", inbound.toString()));
        awaitListening(serverNode.netns(), INBOUND_HTTP, inboundProxy);
        awaitListening(serverNode.netns(), INBOUND_IPERF, inboundProxy);
    }

    private void awaitListening(String netns, int port, PodProcess process) {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                break;
            }
            if (cluster.inNetns(netns, "ss", "-Hltn", "sport = :" + port).contains(":" + port)) {
                return;
            }
            sleep(100);
        }
        throw new IllegalStateException("nothing listens on port " + port + " in " + netns + " after 20 s; "
                + process.name() + (process.isAlive() ? " runs" : " exited") + ", stderr: " + process.stderrTail());
    }

    private String haproxyConfig(ClusterNode node, ClusterNode serverNode) {
        String listen = node.podGateway().getHostAddress();
        String inbound = serverNode.podGateway().getHostAddress();
        return """
                # A plain TCP relay: one userspace hop per connection, as a node proxy adds.
                global
                    # 2 fds per relayed connection must fit the open-files limit (often 20000 in containers)
                    maxconn 8000
                defaults
                    mode tcp
                    timeout connect 5s
                    timeout client 30s
                    timeout server 30s
                listen http
                    bind %1$s:%2$d
                    server backend %3$s:%4$d
                listen iperf
                    bind %1$s:%5$d
                    server backend %3$s:%6$d
                # What the node's redirect rule captures (any local address: redirect picks the incoming one).
                listen capture-http
                    bind :%7$d
                    server backend %3$s:%8$d
                listen capture-iperf
                    bind :%9$d
                    server backend %3$s:%6$d
                # The client node's half of a two-hop path: on to the server node's proxy, as ztunnel tunnels
                # to the destination node's ztunnel.
                listen two-hop-http
                    bind :%10$d
                    server inbound %11$s:%12$d
                listen two-hop-iperf
                    bind :%13$d
                    server inbound %11$s:%14$d
                """.formatted(listen, PROXY_HTTP, server.ip(), serverPort(DataPath.HAPROXY), PROXY_IPERF, IPERF_PLAIN,
                CAPTURE_HTTP, serverPort(DataPath.HAPROXY_CAPTURE), CAPTURE_IPERF, TWO_HOP_HTTP, inbound, INBOUND_HTTP,
                TWO_HOP_IPERF, INBOUND_IPERF);
    }

    /** The server node's half of the two-hop path: accepts from the client node's proxy, connects to the pod. */
    private String inboundProxyConfig(ClusterNode node) {
        return """
                global
                    maxconn 8000
                defaults
                    mode tcp
                    timeout connect 5s
                    timeout client 30s
                    timeout server 30s
                listen inbound-http
                    bind %1$s:%2$d
                    server pod %3$s:%4$d
                listen inbound-iperf
                    bind %1$s:%5$d
                    server pod %3$s:%6$d
                """.formatted(node.podGateway().getHostAddress(), INBOUND_HTTP, server.ip(),
                serverPort(DataPath.HAPROXY_TWO_HOP), INBOUND_IPERF, IPERF_PLAIN);
    }

    /**
     * The server port of each path: one listener per path, so that the TIME_WAIT sockets one path leaves in the
     * server never meet another path's new connections from the same client address (a DNATed connection's
     * TCP timestamps and initial sequence are derived from the VIP, a direct one's from the pod IP; if they
     * met on one port, PAWS would drop some SYNs and a 1 s retransmission would be charged to the wrong path).
     */
    private static int serverPort(DataPath path) {
        return 8080 + path.ordinal();
    }

    private static String plainPorts() {
        return java.util.Arrays.stream(DataPath.values()).filter(p -> p != DataPath.MOCKET)
                .map(p -> Integer.toString(serverPort(p))).collect(java.util.stream.Collectors.joining(","));
    }

    /** haproxy as the origin: answers every request itself (no backend), an efficient C HTTP/1.1 server. */
    private static String haproxyOrigin(String ports) {
        StringBuilder binds = new StringBuilder();
        for (String port : ports.split(",")) {
            binds.append("    bind :").append(port).append('\n');
        }
        return """
                global
                    maxconn 8000
                defaults
                    mode http
                    timeout client 30s
                    timeout connect 5s
                    timeout server 30s
                frontend origin
                %s    http-request return status 200 content-type text/plain string ok
                """.formatted(binds);
    }

    private static String nftTable(Pod server) {
        return """
                table ip %1$s {
                    chain prerouting {
                        type nat hook prerouting priority dstnat; policy accept;
                        ip daddr %2$s tcp dport 80 dnat to %3$s:%4$d
                        ip daddr %2$s tcp dport %5$d dnat to %3$s:%5$d
                    }
                }
                """.formatted(NFT_TABLE, NFT_VIP, server.ip(), serverPort(DataPath.NFTABLES), IPERF_PLAIN);
    }

    /**
     * A node proxy's capture: node-0 redirects connections to the capture VIP to haproxy's local listeners, as
     * a node proxy's redirect rules send pod traffic to itself (conntrack and NAT on every connection).
     */
    private static String captureTable() {
        return """
                table ip %1$s {
                    chain prerouting {
                        type nat hook prerouting priority dstnat; policy accept;
                        ip daddr %2$s tcp dport 80 redirect to :%3$d
                        ip daddr %2$s tcp dport %4$d redirect to :%5$d
                    }
                }
                """.formatted(CAPTURE_TABLE, CAPTURE_VIP, CAPTURE_HTTP, IPERF_PLAIN, CAPTURE_IPERF);
    }

    /** The two-hop path's capture on node-0: the same redirect as {@link #captureTable()}, to the relaying listeners. */
    private static String twoHopTable() {
        return """
                table ip %1$s {
                    chain prerouting {
                        type nat hook prerouting priority dstnat; policy accept;
                        ip daddr %2$s tcp dport 80 redirect to :%3$d
                        ip daddr %2$s tcp dport %4$d redirect to :%5$d
                    }
                }
                """.formatted(TWO_HOP_TABLE, TWO_HOP_VIP, TWO_HOP_HTTP, IPERF_PLAIN, TWO_HOP_IPERF);
    }

    /**
     * The nftables and captured paths exist only while they are measured: their nat tables turn conntrack on
     * for the node, which would tax every other path.
     */
    private void withPath(DataPath path, Runnable run) {
        Path rules = nftRules.get(path);
        if (rules == null) {
            run.run();
            return;
        }
        String table = switch (path) {
            case NFTABLES -> NFT_TABLE;
            case HAPROXY_CAPTURE -> CAPTURE_TABLE;
            default -> TWO_HOP_TABLE;
        };
        String node = client.node().netns();
        cluster.inNetns(node, "nft", "-f", rules.toString());
        try {
            run.run();
        } finally {
            cluster.inNetns(node, "nft", "delete", "table", "ip", table);
        }
    }

    private String httpTarget(DataPath path) {
        return switch (path) {
            case DIRECT -> "http://" + server.ip() + ":" + serverPort(DataPath.DIRECT) + "/";
            case MOCKET -> "http://" + SERVICE_VIP + ":80/";
            case NFTABLES -> "http://" + NFT_VIP + ":80/";
            case HAPROXY -> "http://" + client.node().podGateway().getHostAddress() + ":" + PROXY_HTTP + "/";
            case HAPROXY_CAPTURE -> "http://" + CAPTURE_VIP + ":80/";
            case HAPROXY_TWO_HOP -> "http://" + TWO_HOP_VIP + ":80/";
        };
    }

    private List<String> iperfTarget(DataPath path) {
        return switch (path) {
            case DIRECT -> List.of(server.ip(), Integer.toString(IPERF_PLAIN));
            case MOCKET -> List.of(SERVICE_VIP, Integer.toString(IPERF_PLAIN));
            case NFTABLES -> List.of(NFT_VIP, Integer.toString(IPERF_PLAIN));
            case HAPROXY -> List.of(client.node().podGateway().getHostAddress(), Integer.toString(PROXY_IPERF));
            case HAPROXY_CAPTURE -> List.of(CAPTURE_VIP, Integer.toString(IPERF_PLAIN));
            case HAPROXY_TWO_HOP -> List.of(TWO_HOP_VIP, Integer.toString(IPERF_PLAIN));
        };
    }

    private static Enrollment enrollment(DataPath path) {
        return path == DataPath.MOCKET ? Enrollment.AMBIENT : Enrollment.NONE;
    }

    // ------------------------------------------------------------------ measurement

    /** How wrk loads a path: saturating (many connections) for throughput, one connection for latency. */
    record Load(String name, int threads, int connections) {
    }

    private List<Load> loads() {
        return List.of(new Load("saturated", options.threads(), options.connections()), new Load("one connection", 1, 1));
    }

    /**
     * Every round runs every load on every path, paths interleaved, before the next round starts; odd rounds in
     * the listed order, even rounds in reverse, so that a machine that speeds up or slows down during a round
     * favours no path over a pair of rounds.
     */
    private Map<Load, Map<DataPath, List<WrkRun>>> measureRequests() {
        warmUpAndCheck();
        Map<Load, Map<DataPath, List<WrkRun>>> runs = new java.util.LinkedHashMap<>();
        for (int round = 1; round <= options.rounds(); round++) {
            for (Load load : loads()) {
                for (DataPath path : roundOrder(round)) {
                    WrkRun run = wrk(path, options.seconds(), load);
                    runs.computeIfAbsent(load, l -> new EnumMap<>(DataPath.class))
                            .computeIfAbsent(path, p -> new ArrayList<>()).add(run);
                    System.err.printf(Locale.ROOT, "round %d %-14s %-15s %9.0f req/s  p50 %.3f ms  p99 %.3f ms"
                                    + "  %.1f us CPU/req  errors %d%n", round, load.name(), path.label(),
                            run.requestsPerSecond(), run.p50(), run.p99(), run.cpuMicrosPerRequest(), run.errors());
                }
            }
        }
        return runs;
    }

    /** The paths in the order round {@code round} (from 1) runs them. */
    private List<DataPath> roundOrder(int round) {
        return round % 2 == 1 ? options.paths() : options.paths().reversed();
    }

    /**
     * A short run per path before measuring, which also proves each path is what it claims: every request
     * answered, and only the Mocket path seen by the programs of both nodes (sockops counted the client's
     * connections to the service on node-0 and the server's accepts on node-1).
     */
    private void warmUpAndCheck() {
        for (DataPath path : options.paths()) {
            Map<ConnectionKey, ConnectionTotals> clientBefore = clientMaps.connections().entries();
            Map<ConnectionKey, ConnectionTotals> serverBefore = serverMaps.connections().entries();
            WrkRun run = wrk(path, 2, loads().getFirst());
            if (run.requests() == 0 || run.errors() > 0) {
                throw new IllegalStateException("path " + path.label() + " does not work: " + run);
            }
            long toService = openedSince(clientMaps, clientBefore, k -> k.serviceId() != 0
                    && k.direction() == ConnectionKey.Direction.ACTIVE);
            long accepted = openedSince(serverMaps, serverBefore,
                    k -> k.direction() == ConnectionKey.Direction.PASSIVE);
            boolean mocket = path == DataPath.MOCKET;
            if (mocket != (toService > 0) || mocket != (accepted > 0)) {
                throw new IllegalStateException("path " + path.label() + " is not what it claims: " + toService
                        + " service connections seen on node-0, " + accepted + " accepts on node-1");
            }
            checks.add(String.format(Locale.ROOT, "%s: %d requests in 2 s, no errors; sockops counted %d service"
                    + " connections on node-0 and %d accepts on node-1", path.label(), run.requests(), toService,
                    accepted));
        }
    }

    /** Connections the matching counters gained since {@code before}. */
    private static long openedSince(LoadBalancerMaps maps, Map<ConnectionKey, ConnectionTotals> before,
                                    java.util.function.Predicate<ConnectionKey> matching) {
        return maps.connections().entries().entrySet().stream()
                .filter(e -> matching.test(e.getKey()))
                .mapToLong(e -> e.getValue().opened() - before.getOrDefault(e.getKey(), ConnectionTotals.ZERO).opened())
                .sum();
    }

    /** One wrk run of a path. */
    private WrkRun wrk(DataPath path, int seconds, Load load) {
        List<String> command = List.of("wrk", "-t", Integer.toString(load.threads()), "-c",
                Integer.toString(load.connections()), "-d", seconds + "s", "--timeout", "2s", "--latency",
                "-H", "Connection: close", httpTarget(path));
        WrkRun[] result = new WrkRun[1];
        withPath(path, () -> {
            Duration cpuBefore = cluster.cpuUsage();
            PodProcess wrk = cluster.start(client, enrollment(path), "wrk-" + path.label(), command);
            int exit = wrk.awaitExit(Duration.ofSeconds(seconds + 30L));
            Duration cpu = cluster.cpuUsage().minus(cpuBefore);
            if (exit != 0) {
                throw new IllegalStateException("wrk exited " + exit + ": " + wrk.stderrTail());
            }
            result[0] = parseWrk(wrk.output()).withCpu(cpu);
        });
        return result[0];
    }

    static WrkRun parseWrk(String out) {
        double rps = number(out, "Requests/sec:\\s+([0-9.]+)");
        long requests = (long) number(out, "([0-9]+) requests in");
        long errors = 0;
        Matcher socket = Pattern.compile("Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)")
                .matcher(out);
        if (socket.find()) {
            for (int g = 1; g <= 4; g++) {
                errors += Long.parseLong(socket.group(g));
            }
        }
        Matcher non2xx = Pattern.compile("Non-2xx or 3xx responses: (\\d+)").matcher(out);
        if (non2xx.find()) {
            errors += Long.parseLong(non2xx.group(1));
        }
        return new WrkRun(rps, percentile(out, "50"), percentile(out, "75"), percentile(out, "90"),
                percentile(out, "99"), requests, errors, Double.NaN);
    }

    /** A latency percentile line of wrk's distribution ({@code 99%    1.23ms}) in milliseconds. */
    private static double percentile(String out, String p) {
        Matcher m = Pattern.compile("\\s" + p + "%\\s+([0-9.]+)(us|ms|s)").matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("no " + p + "% latency in wrk's output:\n" + out);
        }
        double value = Double.parseDouble(m.group(1));
        return switch (m.group(2)) {
            case "us" -> value / 1000;
            case "s" -> value * 1000;
            default -> value;
        };
    }

    private static double number(String out, String regex) {
        Matcher m = Pattern.compile(regex).matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("no match for " + regex + " in:\n" + out);
        }
        return Double.parseDouble(m.group(1));
    }

    private Map<DataPath, List<Double>> measureThroughput() {
        Map<DataPath, List<Double>> runs = new EnumMap<>(DataPath.class);
        for (int round = 1; round <= options.iperfRounds(); round++) {
            for (DataPath path : options.paths()) {
                List<String> target = iperfTarget(path);
                List<String> command = List.of("iperf3", "-c", target.get(0), "-p", target.get(1), "-t",
                        Integer.toString(options.iperfSeconds()), "-J");
                double[] gbps = new double[1];
                withPath(path, () -> {
                    PodProcess iperf = cluster.start(client, enrollment(path), "iperf3-" + path.label(), command);
                    int exit = iperf.awaitExit(Duration.ofSeconds(options.iperfSeconds() + 30L));
                    if (exit != 0) {
                        throw new IllegalStateException("iperf3 exited " + exit + ": " + iperf.output());
                    }
                    gbps[0] = number(iperf.output(),
                            "\"sum_received\":\\s*\\{[^}]*?\"bits_per_second\":\\s*([0-9.eE+]+)") / 1e9;
                });
                runs.computeIfAbsent(path, p -> new ArrayList<>()).add(gbps[0]);
                System.err.printf(Locale.ROOT, "iperf3 round %d %-15s %.2f Gbit/s%n", round, path.label(), gbps[0]);
            }
        }
        return runs;
    }

    // ------------------------------------------------------------------ report

    private String report(Instant started, String loadBefore, String loadAfter,
                          Map<Load, Map<DataPath, List<WrkRun>>> wrk, Map<DataPath, List<Double>> iperf) {
        StringBuilder md = new StringBuilder();
        md.append("# Data-path benchmark: Mocket socket LB vs. direct, nftables DNAT and a userspace hop\n\n");
        md.append("| | |\n| --- | --- |\n");
        md.append("| date | ").append(started).append(" |\n");
        md.append("| machine | ").append(machine()).append(" |\n");
        md.append("| command | `").append(options.command()).append("` |\n");
        md.append("| load average before / after | ").append(loadBefore).append(" / ").append(loadAfter).append(" |\n");
        md.append("| client | ").append(firstLine("wrk", "--version").split(" \\[")[0]).append(": `wrk -t T -c C -d ")
                .append(options.seconds()).append("s --latency -H 'Connection: close'` (one TCP connection per"
                        + " request), saturated `-t ").append(options.threads()).append(" -c ")
                .append(options.connections()).append("` and one connection `-t 1 -c 1` |\n");
        md.append("| server | ").append(options.server().equals("java")
                ? "`ShortHttpServer` (this module): 2 platform threads per port blocking in accept, fixed 2-byte 200"
                + " answer, closes after each response; one process, one port per path"
                : "haproxy `http-request return` (answers itself), one port per path; the enrolled port in a second"
                + " process of the same configuration").append(" |\n");
        md.append("| proxy | ").append(firstLine("haproxy", "-v").split(" - ")[0]).append(", TCP mode, default threads |\n");
        md.append("| rounds | ").append(options.rounds()).append(" rounds; each runs both loads on every path in"
                + " turn, odd rounds in the order below and even rounds in reverse; iperf3 ")
                .append(options.iperfRounds()).append(" rounds of ").append(options.iperfSeconds()).append(" s |\n");
        md.append("| ratios | `vs. direct`: the median over rounds of the path's req/s divided by direct's in the same"
                + " round; `interval`: a distribution-free confidence interval of that median (order statistics;"
                + " its coverage is given); `CPU vs. direct`: the same for CPU per request |\n\n");

        for (Map.Entry<Load, Map<DataPath, List<WrkRun>>> entry : wrk.entrySet()) {
            Load load = entry.getKey();
            Map<DataPath, List<WrkRun>> runs = entry.getValue();
            md.append("## Short connections, ").append(load.name()).append(" (`-t ").append(load.threads())
                    .append(" -c ").append(load.connections()).append("`)\n\n");
            md.append("| path | req/s (median) | vs. direct | interval | p50 ms | p75 ms | p90 ms | p99 ms |"
                    + " CPU us/req | CPU vs. direct | errors |\n");
            md.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
            List<WrkRun> direct = runs.get(DataPath.DIRECT);
            for (DataPath path : options.paths()) {
                List<WrkRun> of = runs.get(path);
                List<Double> ratios = ratios(of, direct, WrkRun::requestsPerSecond);
                Interval interval = Interval.ofMedian(ratios);
                md.append(String.format(Locale.ROOT,
                        "| %s: %s | %.0f | %.3f | %.3f-%.3f | %.3f | %.3f | %.3f | %.3f | %.1f | %.3f | %d |%n",
                        path.label(), path.description, median(of, WrkRun::requestsPerSecond), median(ratios, d -> d),
                        interval.low(), interval.high(), median(of, WrkRun::p50), median(of, WrkRun::p75),
                        median(of, WrkRun::p90), median(of, WrkRun::p99), median(of, WrkRun::cpuMicrosPerRequest),
                        median(ratios(of, direct, WrkRun::cpuMicrosPerRequest), d -> d),
                        of.stream().mapToLong(WrkRun::errors).sum()));
            }
            md.append(String.format(Locale.ROOT, "%nIntervals: %.1f %% coverage (%d rounds).%n",
                    Interval.ofMedian(ratios(direct, direct, WrkRun::requestsPerSecond)).coverage() * 100,
                    direct.size()));
            if (options.allPaths()) {
                targets(md, runs);
            }

            md.append("req/s and CPU us/req of every round (odd rounds ran the paths top to bottom, even rounds"
                    + " bottom to top):\n\n| path |");
            for (int r = 1; r <= options.rounds(); r++) {
                md.append(" r").append(r).append(" |");
            }
            md.append("\n| --- |").append(" ---: |".repeat(options.rounds())).append('\n');
            for (DataPath path : options.paths()) {
                md.append("| ").append(path.label()).append(" |");
                for (WrkRun run : runs.get(path)) {
                    md.append(String.format(Locale.ROOT, " %.0f / %.1f |", run.requestsPerSecond(),
                            run.cpuMicrosPerRequest()));
                }
                md.append('\n');
            }
            md.append('\n');
        }

        if (!iperf.isEmpty()) {
            md.append("## Throughput (iperf3, one TCP stream, secondary)\n\n");
            md.append("| path | Gbit/s (median) | vs. direct | rounds |\n| --- | ---: | ---: | --- |\n");
            double baseGbps = median(iperf.get(DataPath.DIRECT), d -> d);
            for (DataPath path : options.paths()) {
                double g = median(iperf.get(path), d -> d);
                md.append(String.format(Locale.ROOT, "| %s | %.2f | %.3f | %s |%n", path.label(), g, g / baseGbps,
                        iperf.get(path).stream().map(d -> String.format(Locale.ROOT, "%.2f", d)).toList()));
            }
        }

        md.append("\n## Checks made before measuring\n\n");
        checks.forEach(c -> md.append("- ").append(c).append('\n'));
        md.append("""

                ## Set-up

                Two nodes of a `TestCluster` (network namespaces on one kernel): client pod on node-0, server pod on
                node-1; every path crosses pod veth -> node-0 bridge -> routed -> underlay bridge -> node-1 -> pod veth.
                The Mocket path runs with both pods enrolled (client and server sockets in their nodes' cgroups, all
                nine programs attached on both nodes, sockops counting every connection), the others with no
                program on the path. The server listens on one port per path (a DNATed connection derives its TCP
                timestamps and initial sequence from the VIP, a direct one from the pod IP; sharing a port, their
                TIME_WAIT leftovers made PAWS drop SYNs and cost the nftables path 1 s retransmissions), and opens the
                Mocket port after joining node-1's cgroup, so one server process serves every path. The nftables
                table (`prerouting`, `dnat to` the pod) is added to node-0 only for its own runs, so conntrack is on
                only then, as on a kube-proxy node and unlike a node without kube-proxy. haproxy runs in node-0's
                namespace. On the `haproxy` path the client dials its pod gateway address directly: one userspace hop
                without redirect rules, the cheapest a userspace proxy can be. On the `haproxy-capture` path the
                client dials a service VIP and a `redirect` rule in node-0's prerouting hook (a table added only for
                its runs) hands the connection to haproxy, as a node proxy captures pod traffic; haproxy then
                connects to the pod. Both lack the second (server-side) hop and the mTLS of a ztunnel path, so both
                flatter the userspace proxy; the 2 x target is judged against the captured path. The
                `haproxy-two-hop` path is captured the same way (its own VIP and table), and node-0's haproxy
                relays to a second haproxy in node-1's namespace (port 15008, as ztunnel's tunnel port), which
                connects to the pod: the shape of a ztunnel path, still without mTLS.
                The client pod reuses TIME_WAIT ports (`tcp_tw_reuse=1`, ports 1024-65535): wrk often closes before
                the server's FIN arrives, and without reuse the client ran out of ports for one destination within
                seconds, after which each connect spent about 2 ms of kernel CPU scanning for a port.

                CPU us/req is the CPU time of every process of the cluster (wrk, server, haproxy, and the kernel's
                network work done on their behalf: without IRQ time accounting, softirqs are charged to the task they
                run on top of, and on veth they mostly run on top of the sender) divided
                by the requests served; it is measured from the cluster's cgroup tree, so neighbours' load on a
                shared machine moves it far less than req/s. req/s on a shared 2-CPU machine mostly tracks how much
                CPU the neighbours leave; the CPU cost per request is the number to read first.
                """);
        return md.toString();
    }

    /**
     * The verdicts against the targets; only a run of every path has them. Every ratio pairs the runs of one
     * round. The 2 x target is judged against the captured hop: a node proxy sees pod traffic only through
     * redirection; the directly dialled hop (the floor no node proxy can go below) and the two-hop path (the
     * shape of a ztunnel path) are reported beside it.
     */
    private static void targets(StringBuilder md, Map<DataPath, List<WrkRun>> runs) {
        List<WrkRun> mocket = runs.get(DataPath.MOCKET);
        md.append("\nTargets by req/s: Mocket >= 0.97 x direct: ")
                .append(verdict(ratios(mocket, runs.get(DataPath.DIRECT), WrkRun::requestsPerSecond), 0.97))
                .append("; Mocket >= 2 x userspace hop (haproxy-capture): ")
                .append(verdict(ratios(mocket, runs.get(DataPath.HAPROXY_CAPTURE), WrkRun::requestsPerSecond), 2.0))
                .append("; vs. haproxy dialled directly: ")
                .append(ratio(ratios(mocket, runs.get(DataPath.HAPROXY), WrkRun::requestsPerSecond)))
                .append("; vs. the two-hop path: ")
                .append(ratio(ratios(mocket, runs.get(DataPath.HAPROXY_TWO_HOP), WrkRun::requestsPerSecond)))
                .append("; vs. nftables DNAT: ")
                .append(ratio(ratios(mocket, runs.get(DataPath.NFTABLES), WrkRun::requestsPerSecond))).append(".\n");
        // Requests per CPU-second: what a node whose CPUs are the limit could serve over each path.
        md.append("Targets by requests per CPU-second (1 / CPU us/req): Mocket >= 0.97 x direct: ")
                .append(verdict(ratios(runs.get(DataPath.DIRECT), mocket, WrkRun::cpuMicrosPerRequest), 0.97))
                .append("; Mocket >= 2 x userspace hop (haproxy-capture): ")
                .append(verdict(ratios(runs.get(DataPath.HAPROXY_CAPTURE), mocket, WrkRun::cpuMicrosPerRequest), 2.0))
                .append("; vs. haproxy dialled directly: ")
                .append(ratio(ratios(runs.get(DataPath.HAPROXY), mocket, WrkRun::cpuMicrosPerRequest)))
                .append("; vs. the two-hop path: ")
                .append(ratio(ratios(runs.get(DataPath.HAPROXY_TWO_HOP), mocket, WrkRun::cpuMicrosPerRequest)))
                .append("; vs. nftables DNAT: ")
                .append(ratio(ratios(runs.get(DataPath.NFTABLES), mocket, WrkRun::cpuMicrosPerRequest)))
                .append(".\n\n");
    }

    /** Round by round, {@code f} of {@code of}'s run divided by {@code f} of {@code base}'s run. */
    static List<Double> ratios(List<WrkRun> of, List<WrkRun> base, java.util.function.ToDoubleFunction<WrkRun> f) {
        List<Double> ratios = new ArrayList<>();
        for (int r = 0; r < Math.min(of.size(), base.size()); r++) {
            ratios.add(f.applyAsDouble(of.get(r)) / f.applyAsDouble(base.get(r)));
        }
        return ratios;
    }

    private static String ratio(List<Double> ratios) {
        Interval interval = Interval.ofMedian(ratios);
        return String.format(Locale.ROOT, "%.3f x (%.3f-%.3f)", median(ratios, d -> d), interval.low(),
                interval.high());
    }

    /**
     * The median ratio against a target, with its interval. When the interval holds the target (or there are
     * too few rounds for a 95 % interval), this run cannot tell whether the target is met, and says so.
     */
    static String verdict(List<Double> ratios, double target) {
        double median = median(ratios, d -> d);
        Interval interval = Interval.ofMedian(ratios);
        String verdict;
        if (interval.coverage() < 0.95) {
            verdict = (median >= target ? "met" : "NOT met") + " by the median; too few rounds for a 95 % interval";
        } else if (interval.low() >= target) {
            verdict = "met";
        } else if (interval.high() < target) {
            verdict = "NOT met";
        } else {
            verdict = (median >= target ? "met" : "NOT met") + " by the median; the interval holds the target";
        }
        return String.format(Locale.ROOT, "%.3f x, interval %.3f-%.3f (%s)", median, interval.low(), interval.high(),
                verdict);
    }

    /**
     * A distribution-free confidence interval for the median of independent samples: the k-th smallest and
     * k-th largest value, with k the largest for which the interval still covers the median with at least
     * 95 % probability (binomial with p = 1/2). With fewer than 6 samples no such k exists; then the whole
     * range, with its lower coverage.
     */
    record Interval(double low, double high, double coverage) {

        static Interval ofMedian(List<Double> values) {
            double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            int n = sorted.length;
            if (n == 0) {
                return new Interval(Double.NaN, Double.NaN, 0);
            }
            int k = 1;
            double coverage = 1 - 2 * binomialCdf(n, 0);
            while (k + 1 <= (n + 1) / 2 && 1 - 2 * binomialCdf(n, k) >= 0.95) {
                k++;
                coverage = 1 - 2 * binomialCdf(n, k - 1);
            }
            return new Interval(sorted[k - 1], sorted[n - k], coverage);
        }

        /** P(X <= x) for X ~ Binomial(n, 1/2). */
        private static double binomialCdf(int n, int x) {
            double sum = 0;
            double term = Math.pow(0.5, n); // C(n, 0) / 2^n
            for (int i = 0; i <= x; i++) {
                sum += term;
                term = term * (n - i) / (i + 1);
            }
            return sum;
        }
    }

    /** The median, or NaN for a path that was not measured. */
    private static <T> double median(List<T> values, java.util.function.ToDoubleFunction<T> f) {
        if (values == null || values.isEmpty()) {
            return Double.NaN;
        }
        double[] sorted = values.stream().mapToDouble(f).sorted().toArray();
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static String machine() {
        String cpu = "unknown CPU";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse(cpu);
        } catch (IOException e) {
            // keep "unknown"
        }
        return cpu + ", " + Runtime.getRuntime().availableProcessors() + " CPUs, kernel "
                + HostCommand.runQuietly("uname", "-r").trim() + ", Java " + Runtime.version();
    }

    private static String firstLine(String... command) {
        return HostCommand.runQuietly(command).lines().findFirst().orElse("?").trim();
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "?";
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
