package io.mocket.controlplane.bench;

import io.fabric8.kubernetes.api.model.Pod;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mocket.controlplane.index.AmbientIndex;
import io.mocket.controlplane.index.MeshSettings;
import io.mocket.controlplane.kube.KubeKind;
import io.mocket.controlplane.resources.Commit;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.Snapshot;
import io.mocket.controlplane.resources.XdsResource;
import io.mocket.controlplane.xds.AdsService;
import io.mocket.controlplane.xds.IndexService;
import io.mocket.controlplane.xds.XdsClientStatus;
import io.mocket.controlplane.xds.XdsServer;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The control plane's scale benchmark: a synthetic cluster goes through the real {@link AmbientIndex}, the real
 * {@link XdsServer} serves it on loopback, and a {@link DeltaClientSwarm} in a child JVM plays N ztunnels
 * (wildcard Address and Authorization, ACK on receipt). It measures the initial sync, the server heap per idle
 * client, and for K single-pod changes, one at a time, the time from the source event to the last client's ACK
 * and the bytes each client receives. Prints a table with the targets; results belong in docs/benchmarks.md.
 *
 * <p>A benchmark, not a test: it asserts nothing and is not run by the test suite. Run it with
 * {@code scripts/bench-xds.sh} (or {@code make bench}); {@code --help} lists the options.
 *
 * <p>Change convergence is the server's own {@code mocket.xds.convergence} recording, taken from a registry this
 * benchmark owns ({@link ConvergenceRecorder}): one change makes one commit and so one recording. Its clock
 * starts at the index's first event of the commit, which is the upsert call, and stops when the server
 * processes the last client's ACK.
 */
public final class XdsScaleBenchmark {
    private static final long KIB = 1024;
    static final Duration TARGET_CHANGE_P99 = Duration.ofMillis(100);
    static final long TARGET_BYTES_PER_CHANGE = KIB;
    static final long TARGET_HEAP_PER_CLIENT = 32 * KIB;

    private final ScaleOptions options;
    private final PrintStream out;

    XdsScaleBenchmark(ScaleOptions options, PrintStream out) {
        this.options = options;
        this.out = out;
    }

    public static void main(String[] args) throws Exception {
        // Before any logger exists: the benchmark's own configuration keeps per-stream INFO lines off the table.
        if (System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", "mocket-bench-logback.xml");
        }
        ScaleOptions options;
        try {
            options = ScaleOptions.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.err.println(ScaleOptions.USAGE);
            System.exit(2);
            return;
        }
        if (options == null) {
            System.out.println(ScaleOptions.USAGE);
            return;
        }
        ScaleResults results = new XdsScaleBenchmark(options, System.out).run();
        results.print(System.out);
        System.exit(results.complete() ? 0 : 1);
    }

    /**
     * Runs the whole benchmark.
     *
     * @return the results; incomplete ones say what went wrong
     */
    ScaleResults run() throws Exception {
        Machine env = Machine.capture();
        LoadSampler load = LoadSampler.start();
        ConvergenceRecorder meters = new ConvergenceRecorder();
        ResourceStore store = new ResourceStore();
        MeshSettings mesh = MeshSettings.defaults().withDebounce(options.debounceQuiet(), options.debounceMax());
        ExecutorService pushExecutor = pushExecutor();
        ScaleResults r = new ScaleResults(options, env, load);
        // Registered before the xDS service's listener, so it stamps the commit before the fan-out is handed off.
        CommitClock commits = new CommitClock();
        store.addListener(commits);
        try (AmbientIndex index = new AmbientIndex(mesh, store, meters)) {
            AdsService ads = new AdsService(store, meters, pushExecutor);
            progress("building a synthetic cluster: " + options.shape().describe());
            SyntheticCluster cluster = SyntheticCluster.build(options.shape());
            translateInitial(cluster, index, store, meters, r);

            XdsServer server = new XdsServer(XdsServer.Settings.defaults().withBindAddress("127.0.0.1").withPort(0),
                    ads, new IndexService(store));
            server.start();
            try {
                r.heapNoClients = heapAfterGc();
                r.directNoClients = directMemory();
                Path swarmLog = Files.createTempFile("mocket-bench-swarm-", ".log");
                progress("starting " + options.clients() + " delta clients in a child JVM (stderr: " + swarmLog + ")");
                long cpuBeforeSync = processCpuNanos();
                long swarmStart = System.nanoTime();
                SwarmProcess swarm = SwarmProcess.start("127.0.0.1", server.port(), options.clients(),
                        options.clientHeap(), options.syncTimeout(), swarmLog);
                Thread killer = new Thread(swarm::kill, "swarm-killer");
                Runtime.getRuntime().addShutdownHook(killer);
                try {
                    if (!initialSync(swarm, ads, store, meters, swarmStart, r)) {
                        return r;
                    }
                    r.serverCpuSync = processCpuNanos() - cpuBeforeSync;
                    r.swarmCpuSync = swarm.cpuNanos();
                    r.loadAfterSync = LoadSampler.read();
                    settle(Duration.ofSeconds(2));
                    r.heapWithClients = heapAfterGc();
                    r.directWithClients = directMemory();
                    changes(cluster, index, swarm, meters, commits, r);
                    if (!swarm.errors().isEmpty()) {
                        r.fail("the clients reported errors: " + swarm.errors().subList(0, Math.min(5, swarm.errors().size())));
                    }
                } finally {
                    swarm.close();
                    Runtime.getRuntime().removeShutdownHook(killer);
                    if (r.complete()) {
                        Files.deleteIfExists(swarmLog);
                    }
                }
            } finally {
                server.close();
            }
        } finally {
            pushExecutor.shutdownNow();
            load.stop();
        }
        return r;
    }

    /** Feeds the cluster kind by kind, as informers' initial lists arrive, and waits for the commit. */
    private void translateInitial(SyntheticCluster cluster, AmbientIndex index, ResourceStore store,
                                  SimpleMeterRegistry meters, ScaleResults r) throws InterruptedException {
        progress("translating the cluster through the ambient index");
        long start = System.nanoTime();
        index.replaceAll(KubeKind.NAMESPACE, cluster.namespaces());
        index.replaceAll(KubeKind.NODE, cluster.nodes());
        index.replaceAll(KubeKind.SERVICE, cluster.services());
        index.replaceAll(KubeKind.AUTHORIZATION_POLICY, cluster.policies());
        index.replaceAll(KubeKind.POD, cluster.pods());
        long fed = System.nanoTime();
        if (!index.awaitIdle(Duration.ofMinutes(2))) {
            throw new IllegalStateException("the ambient index did not commit the synthetic cluster within 2 minutes");
        }
        r.feedNanos = fed - start;
        r.initialCommitNanos = System.nanoTime() - start;
        r.translateNanos = (long) meters.get("mocket.index.translate").timer().totalTime(TimeUnit.NANOSECONDS);
        Snapshot snap = store.current();
        r.generation = snap.generation();
        for (XdsResource res : snap.all(ResourceType.ADDRESS)) {
            if (res.message() instanceof io.mocket.api.istio.workload.Address a && a.hasWorkload()) {
                r.workloads++;
            } else {
                r.services++;
            }
            r.addressBytes += res.wireSize();
        }
        for (XdsResource res : snap.all(ResourceType.AUTHORIZATION)) {
            r.authorizations++;
            r.authorizationBytes += res.wireSize();
        }
        int expectedWorkloads = cluster.pods().size();
        if (r.workloads != expectedWorkloads || r.services != cluster.services().size()) {
            throw new IllegalStateException("the index serves " + r.workloads + " workloads and " + r.services
                    + " services for " + expectedWorkloads + " pods and " + cluster.services().size()
                    + " Services: the synthetic cluster is not translated as intended");
        }
    }

    private boolean initialSync(SwarmProcess swarm, AdsService ads, ResourceStore store, SimpleMeterRegistry meters,
                                long swarmStart, ScaleResults r) throws InterruptedException {
        if (!swarm.awaitAllSynced(options.syncTimeout().plusSeconds(30))) {
            r.fail("initial sync: " + (swarm.errors().isEmpty() ? "not every client synced within " + options.syncTimeout()
                    : swarm.errors().subList(0, Math.min(5, swarm.errors().size()))));
            return false;
        }
        r.allSyncedNanos = System.nanoTime() - swarmStart;
        r.syncNanos = swarm.syncNanos();
        long generation = store.current().generation();
        int n = options.clients();
        boolean acked = await(Duration.ofSeconds(60), () -> ads.streamCount() == n && ads.clients().stream()
                .allMatch(c -> holds(c, generation)));
        if (!acked) {
            r.fail("initial sync: the server did not see every client ACK generation " + generation + " within 60 s");
            return false;
        }
        r.initialPushBytes = pushBytes(meters);
        progress("all " + n + " clients synced and ACKed");
        return true;
    }

    /** K single-pod changes, one at a time, each measured from the upsert to the last client's ACK. */
    private void changes(SyntheticCluster cluster, AmbientIndex index, SwarmProcess swarm, ConvergenceRecorder meters,
                         CommitClock commits, ScaleResults r) throws IOException, InterruptedException {
        Timer convergence = meters.get("mocket.xds.convergence").tag("type_url", ResourceType.ADDRESS.typeUrl()).timer();
        Timer debounce = meters.get("mocket.index.debounce.delay").timer();
        Timer translate = meters.get("mocket.index.translate").timer();
        int pods = cluster.pods().size();
        // A stride coprime with the pod count visits distinct pods spread over every namespace and node.
        int stride = coprimeStride(pods);
        swarm.mark(Duration.ofSeconds(10));
        meters.dropRecordings();
        long cpuBefore = processCpuNanos();
        long swarmCpuBefore = swarm.cpuNanos();
        progress("measuring " + options.changes() + " single-pod changes");
        for (int k = 0; k < options.changes(); k++) {
            int podIndex = (int) ((long) k * stride % pods);
            boolean readiness = k % 2 == 0;
            Pod changed = cluster.changed(podIndex, readiness);
            long count = convergence.count();
            double debounceTotal = debounce.totalTime(TimeUnit.NANOSECONDS);
            double translateTotal = translate.totalTime(TimeUnit.NANOSECONDS);
            double bytesBefore = pushBytes(meters);
            long pushesBefore = pushCount(meters);
            long wallStart = System.nanoTime();
            index.upsert(KubeKind.POD, changed);
            ConvergenceRecorder.Recording converged = meters.next(options.changeTimeout());
            long wall = System.nanoTime() - wallStart;
            String what = "change " + k + " (pod " + changed.getMetadata().getNamespace() + "/"
                    + changed.getMetadata().getName() + ")";
            if (converged == null) {
                r.fail(what + " did not converge within " + options.changeTimeout());
                return;
            }
            if (!converged.typeUrl().equals(ResourceType.ADDRESS.typeUrl()) || convergence.count() != count + 1) {
                r.fail(what + " converged as " + converged + " with " + (convergence.count() - count)
                        + " Address commits: a single-pod change must make exactly one Address commit");
                return;
            }
            SwarmProcess.Received received = swarm.mark(Duration.ofSeconds(10));
            r.changes.add(new Change(podIndex, readiness,
                    converged.nanos(),
                    (long) (debounce.totalTime(TimeUnit.NANOSECONDS) - debounceTotal),
                    (long) (translate.totalTime(TimeUnit.NANOSECONDS) - translateTotal),
                    wall,
                    (long) (pushBytes(meters) - bytesBefore),
                    pushCount(meters) - pushesBefore,
                    received.bytes(),
                    commits.lastCommitNanos() - wallStart,
                    received.firstNanos() == 0 ? -1 : received.firstNanos() - wallStart,
                    received.lastNanos() == 0 ? -1 : received.lastNanos() - wallStart));
            // One change at a time: let the last ACKs' bookkeeping finish before the next event.
            settle(options.pause());
        }
        r.serverCpuChanges = processCpuNanos() - cpuBefore;
        r.swarmCpuChanges = swarmCpuBefore < 0 ? -1 : swarm.cpuNanos() - swarmCpuBefore;
        r.loadAfterChanges = LoadSampler.read();
    }

    private static boolean holds(XdsClientStatus client, long generation) {
        return client.types().size() == ResourceType.values().length
                && client.types().stream().allMatch(t -> t.ackedGeneration() == generation);
    }

    private static double pushBytes(SimpleMeterRegistry meters) {
        return meters.get("mocket.xds.push.size").summaries().stream().mapToDouble(DistributionSummary::totalAmount).sum();
    }

    private static long pushCount(SimpleMeterRegistry meters) {
        return meters.get("mocket.xds.push.size").summaries().stream().mapToLong(DistributionSummary::count).sum();
    }

    /** The production wiring's push pool: one thread per core, at least two. */
    private static ExecutorService pushExecutor() {
        AtomicInteger n = new AtomicInteger();
        int threads = Math.max(2, Runtime.getRuntime().availableProcessors());
        return Executors.newFixedThreadPool(threads, task -> {
            Thread t = new Thread(task, "xds-push-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    static int coprimeStride(int n) {
        int stride = 7919; // a prime: coprime with n unless n is a multiple of it
        while (gcd(stride, n) != 1) {
            stride += 2;
        }
        return stride % n == 0 ? 1 : stride;
    }

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    /** Polls {@code condition} every 20 ms until it holds or {@code timeout} passes. */
    private static boolean await(Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            LockSupport.parkNanos(20_000_000);
        }
        return true;
    }

    private static void settle(Duration d) throws InterruptedException {
        Thread.sleep(d.toMillis());
    }

    /** Used heap after full collections: the lowest reading after each of five {@code System.gc()}. */
    static long heapAfterGc() throws InterruptedException {
        var memory = ManagementFactory.getMemoryMXBean();
        long min = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(200);
            min = Math.min(min, memory.getHeapMemoryUsage().getUsed());
        }
        return min;
    }

    /** Direct (off-heap) buffer memory the JDK accounts, plus what Netty allocated without the JDK's accounting. */
    static long directMemory() {
        long jdk = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(b -> b.getName().equals("direct")).mapToLong(BufferPoolMXBean::getMemoryUsed).sum();
        long netty = io.grpc.netty.shaded.io.netty.util.internal.PlatformDependent.usedDirectMemory();
        return jdk + Math.max(0, netty);
    }

    private static long processCpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return -1;
    }

    private void progress(String what) {
        out.printf(Locale.ROOT, "[%s] %s%n", ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ISO_LOCAL_TIME), what);
        out.flush();
    }

    /** When the store last published a commit, on {@link System#nanoTime()}. */
    static final class CommitClock implements Consumer<Commit> {
        private volatile long last;

        @Override
        public void accept(Commit commit) {
            last = System.nanoTime();
        }

        long lastCommitNanos() {
            return last;
        }
    }

    /**
     * One measured change. Times are nanoseconds: convergence, debounce and translation as the server's meters
     * recorded them; the others from just before the upsert call to the wall time, the commit's publication,
     * the first and the last client's receipt of the change (-1 if none arrived).
     */
    record Change(int pod, boolean readiness, long convergenceNanos, long debounceNanos, long translateNanos,
                  long wallNanos, long pushedBytes, long pushes, long clientBytes, long committedNanos,
                  long firstReceivedNanos, long lastReceivedNanos) {
    }

    /** Nearest-rank percentile of {@code values} ({@code p} in 0..1); -1 when empty. */
    static long percentile(Collection<Long> values, double p) {
        if (values.isEmpty()) {
            return -1;
        }
        List<Long> sorted = new ArrayList<>(values);
        sorted.sort(Long::compare);
        int rank = (int) Math.ceil(p * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
    }

    static double mean(Collection<Long> values) {
        return values.stream().mapToLong(Long::longValue).average().orElse(-1);
    }
}
