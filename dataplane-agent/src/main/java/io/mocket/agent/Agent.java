package io.mocket.agent;

import io.mocket.bpf.HostCheck;
import io.mocket.bpf.Libbpf;
import io.mocket.bpf.LoadBalancerMaps;
import io.mocket.bpf.SocketLoadBalancer;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The node agent: checks the host, loads or adopts the pinned socket load balancer, subscribes to the
 * control plane and keeps the maps in step with what it says, and serves the admin endpoint.
 *
 * <p>Restarts are hitless: programs, links and maps stay pinned when the agent stops or dies, so the
 * kernel keeps balancing with what it holds; a new agent adopts the pins (links are switched to its
 * programs in one step), reads the maps back, and after the first full sync rewrites only what changed.
 * Shutdown never detaches anything; removing Mocket from a node is a separate, deliberate act.
 */
public final class Agent implements AutoCloseable {
    private static final System.Logger log = System.getLogger(Agent.class.getName());

    /** Exit code: stopped normally, or the host check passed. */
    public static final int EXIT_OK = 0;
    /** Exit code: a failure after start-up. */
    public static final int EXIT_FAILED = 1;
    /** Exit code: bad flags or environment. */
    public static final int EXIT_USAGE = 2;
    /** Exit code: the host lacks something the agent needs (bpffs, cgroup2, BTF, program types, privileges). */
    public static final int EXIT_HOST = 3;

    private final AgentConfig config;
    private final SocketLoadBalancer loadBalancer;
    private final NodeState state = new NodeState();
    private final AgentMetrics metrics = new AgentMetrics();
    private final ServiceReconciler reconciler;
    private final XdsClient xds;
    private final TcpTelemetry telemetry;
    private final AdminServer admin;
    private final ScheduledExecutorService collector;
    private final MemoryRelease memory;

    private Agent(AgentConfig config, SocketLoadBalancer loadBalancer) {
        this.config = config;
        this.loadBalancer = loadBalancer;
        LoadBalancerMaps maps = loadBalancer.maps();
        NodeTopology topology = new NodeTopology(config.nodeName(), config.network(), config.clusterId(),
                config.locality());
        ServiceReconciler.Settings rs = ServiceReconciler.Settings.defaults();
        this.collector = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("mocket-telemetry").daemon().factory());
        this.memory = new MemoryRelease(collector, NativeHeap.ofThisProcess());
        this.reconciler = new ServiceReconciler(state, maps, topology, metrics,
                new ServiceReconciler.Settings(config.debounce(), rs.maxDelay(), rs.retry()));
        this.xds = new XdsClient(new XdsClient.Settings(config.controlPlane(),
                XdsClient.ztunnelNode(config.podIp(), config.podName(), config.podNamespace(), config.nodeName(),
                        config.clusterId(), config.network()),
                Duration.ofMillis(500), Duration.ofSeconds(30), config.maxResourceBytes()),
                state, reconciler, metrics).onAnswered(memory::pushApplied);
        this.telemetry = new TcpTelemetry(maps.connections(), state, reconciler::serviceNames);
        metrics.addCollector(t -> {
            t.family("mocket_agent_resources", "gauge", "Resources the node holds, by type");
            NodeState.Snapshot s = state.snapshot();
            for (ResourceKind k : ResourceKind.values()) {
                t.sample("mocket_agent_resources", Map.of("type_url", k.typeUrl()), s.count(k));
            }
            t.family("mocket_agent_ready", "gauge", "1 once the first full sync is in the kernel")
                    .sample("mocket_agent_ready", notReady().isEmpty() ? 1 : 0);
        });
        metrics.addCollector(t -> occupancy(t, maps));
        metrics.addCollector(t -> {
            telemetry.collect();
            telemetry.write(t);
        });
        this.admin = new AdminServer(new InetSocketAddress(config.adminAddress(), config.adminPort()), this::notReady,
                metrics::scrape, () -> DebugState.of(topology, state, reconciler, xds, maps));
    }

    /** Starts everything; returns once the admin endpoint listens (sync happens in the background). */
    private Agent start() {
        // libbpf parsed the kernel's BTF to load the programs and freed it: give those pages back.
        memory.trimNativeHeap();
        reconciler.start();
        xds.start();
        admin.start();
        // Closed connections are counted and deleted between scrapes too, before the LRU can evict them.
        collector.scheduleWithFixedDelay(() -> {
            try {
                telemetry.collect();
            } catch (RuntimeException e) {
                log.log(System.Logger.Level.WARNING, "reading the connection map failed", e);
            }
        }, 5, 5, TimeUnit.SECONDS);
        return this;
    }

    private static void occupancy(PrometheusText t, LoadBalancerMaps maps) {
        t.family("mocket_agent_map_entries", "gauge", "Entries in each BPF map, read from the kernel");
        t.family("mocket_agent_map_capacity", "gauge", "max_entries of each BPF map");
        record M(String name, io.mocket.bpf.TypedMap<?, ?> map) {
        }
        for (M m : new M[]{new M(LoadBalancerMaps.FRONTEND, maps.frontends()), new M(LoadBalancerMaps.SERVICE,
                maps.services()), new M(LoadBalancerMaps.ENDPOINT, maps.endpoints()),
                new M(LoadBalancerMaps.BACKEND, maps.backends()), new M(LoadBalancerMaps.REVERSE_NAT, maps.reverseNat()),
                new M(LoadBalancerMaps.CONNECTION, maps.connections())}) {
            t.sample("mocket_agent_map_entries", Map.of("map", m.name()), m.map().count());
            t.sample("mocket_agent_map_capacity", Map.of("map", m.name()), m.map().map().maxEntries());
        }
    }

    /** Why the agent is not ready, empty once the first full sync is in the kernel. */
    public Optional<String> notReady() {
        NodeState.Snapshot s = state.snapshot();
        for (ResourceKind k : ResourceKind.values()) {
            if (!s.synced(k)) {
                return Optional.of("waiting for the first " + k.typeUrl() + " response from " + config.controlPlane());
            }
        }
        if (!reconciler.fullSyncApplied()) {
            return Optional.of("the first full sync is not in the BPF maps yet");
        }
        return Optional.empty();
    }

    public NodeState state() {
        return state;
    }

    public ServiceReconciler reconciler() {
        return reconciler;
    }

    public XdsClient xds() {
        return xds;
    }

    public AgentMetrics metrics() {
        return metrics;
    }

    /** How many times the agent released memory after a large push. */
    public long memoryReleases() {
        return memory.releases();
    }

    /** The admin endpoint's address (its real port when 0 was configured). */
    public InetSocketAddress adminAddress() {
        return admin.address();
    }

    /** Stops the agent; programs, links and maps stay in the kernel and keep serving. */
    @Override
    public void close() {
        collector.shutdownNow();
        admin.close();
        xds.close();
        reconciler.close();
        loadBalancer.close();
        log.log(System.Logger.Level.INFO, "agent stopped; the kernel keeps balancing with what it holds");
    }

    public static void main(String[] args) {
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.countDown();
            try {
                stopped.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "mocket-shutdown"));
        int code = run(args, System.getenv(), System.out, System.err, agent -> {
            try {
                stop.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        stopped.countDown();
        if (stop.getCount() > 0) {
            System.exit(code); // not stopped by a signal: a check, a usage error or a failure ends here
        }
    }

    /**
     * Runs the agent: parses the settings, checks the host, starts, calls {@code whileRunning} and stops
     * when it returns. Returns the exit code; messages for the operator go to {@code err}.
     */
    public static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err,
                          Consumer<Agent> whileRunning) {
        if (java.util.Arrays.asList(args).contains("--help")) {
            out.print(AgentConfig.usage());
            return EXIT_OK;
        }
        AgentConfig config;
        try {
            config = AgentConfig.parse(args, env);
        } catch (AgentConfig.UsageException e) {
            err.println("mocket-agent: " + e.getMessage());
            err.print(AgentConfig.usage());
            return EXIT_USAGE;
        }
        Libbpf libbpf;
        try {
            libbpf = Libbpf.load();
        } catch (RuntimeException e) {
            err.println("mocket-agent: host cannot run the agent: " + e.getMessage());
            return EXIT_HOST;
        }
        HostCheck.Report report = HostCheck.ofThisHost(libbpf).run(config.pinRoot(), config.cgroup());
        int code = hostCheckExit(report, err);
        if (code != EXIT_OK || config.checkHostOnly()) {
            if (code == EXIT_OK) {
                out.println("host check passed: this host can run the Mocket agent");
            }
            return code;
        }
        SocketLoadBalancer lb;
        try {
            lb = SocketLoadBalancer.load(libbpf, config.pinDirectory());
            lb.attach(config.cgroup());
        } catch (RuntimeException e) {
            err.println("mocket-agent: cannot load or adopt the socket load balancer in " + config.pinDirectory()
                    + " for cgroup " + config.cgroup() + ": " + e.getMessage());
            return EXIT_FAILED;
        }
        Agent agent;
        try {
            agent = new Agent(config, lb).start();
        } catch (RuntimeException e) {
            lb.close();
            err.println("mocket-agent: cannot start: " + e.getMessage());
            return EXIT_FAILED;
        }
        log.log(System.Logger.Level.INFO, "agent of node {0} running: pins {1}, cgroup {2}, control plane {3},"
                + " admin {4}", config.nodeName(), config.pinDirectory(), config.cgroup(), config.controlPlane(),
                agent.adminAddress());
        try {
            whileRunning.accept(agent);
            return EXIT_OK;
        } catch (RuntimeException e) {
            err.println("mocket-agent: failed: " + e);
            return EXIT_FAILED;
        } finally {
            agent.close();
        }
    }

    /**
     * Prints every failed host check with its fix and returns {@link #EXIT_HOST}, or returns
     * {@link #EXIT_OK} when all passed.
     */
    static int hostCheckExit(HostCheck.Report report, PrintStream err) {
        if (report.ok()) {
            return EXIT_OK;
        }
        err.println("mocket-agent: this host cannot run the agent; missing:");
        for (HostCheck.Finding f : report.failures()) {
            err.println("  " + f.check() + ": " + f.detail() + "\n    fix: " + f.fix());
        }
        return EXIT_HOST;
    }
}
