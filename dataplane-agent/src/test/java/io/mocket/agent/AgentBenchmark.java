package io.mocket.agent;

import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The agent benchmark (not a test): a synthetic cluster of 10,000 pods and 1,000 services served by the real
 * control plane on loopback, applied by the real agent into pinned maps on a private bpffs, programs attached to
 * a private, empty cgroup2 directory. No traffic. Measures (1) store commit to ACK for 10,000 endpoint changes,
 * with the agent's own share read from its metrics, (2) resident memory of a separate agent process holding the
 * cluster, (3) restart to ready with existing pins. Every agent is a separate process with the shipped JVM flags
 * (system property {@code mocket.bench.agentJvmFlags} replaces them); {@code mocket.bench.applyOnly} runs 1 only.
 *
 * <p>Run by {@code scripts/bench-agent.sh}; arguments: {@code <agent runtime class path> [rounds]}. Prints a
 * Markdown table to stdout.
 */
final class AgentBenchmark {

    static final int SERVICES = 1_000;
    static final int BACKENDS_PER_SERVICE = 10;
    static final int PODS = SERVICES * BACKENDS_PER_SERVICE;
    static final int NODES = 100;
    static final Duration WAIT = Duration.ofSeconds(120);
    /** Rounds that warm the JIT (the first passes run interpreted and in C1): reported, not in the percentiles. */
    static final int WARM_UP = 3;
    /** Single-pod changes measured after the large ones. */
    static final int SINGLE_CHANGES = 20;

    /**
     * The JVM flags the agent ships with (manifests/agent.yaml, JAVA_TOOL_OPTIONS: AgentManifestTest keeps the two
     * equal); memory is measured with exactly these unless the system
     * property {@code mocket.bench.agentJvmFlags} (space separated) replaces them, to compare settings.
     */
    static final List<String> SHIPPED_JVM_FLAGS = List.of("-XX:+UseSerialGC", "-XX:+UseCompactObjectHeaders", "-Xms8m",
            "-Xmx96m", "-Xmn3m", "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=10", "-XX:-ShrinkHeapInSteps",
            "-XX:TrimNativeHeapInterval=5000", "-XX:ReservedCodeCacheSize=16m", "-Xss512k", "-XX:MaxMetaspaceSize=64m",
            "-XX:MaxDirectMemorySize=32m", "-XX:+ExitOnOutOfMemoryError", "--enable-native-access=ALL-UNNAMED",
            "--sun-misc-unsafe-memory-access=allow");

    private final List<String> agentJvmFlags = Optional.ofNullable(System.getProperty("mocket.bench.agentJvmFlags"))
            .map(AgentBenchmark::flags).orElse(SHIPPED_JVM_FLAGS);
    /**
     * Memory only ({@code mocket.bench.memoryVariants}): several flag sets separated by {@code |}, each measured
     * as in 2 in turn, round after round, so the sets are compared side by side under the same load.
     */
    private final List<List<String>> memoryVariants = Optional.ofNullable(System.getProperty(
            "mocket.bench.memoryVariants")).map(v -> Arrays.stream(v.split("\\|")).map(AgentBenchmark::flags).toList())
            .orElse(List.of());
    private final String agentClassPath;
    private final int rounds;
    private final PrintStream out;
    private final List<Process> children = new ArrayList<>();

    private AgentBenchmark(String agentClassPath, int rounds, PrintStream out) {
        this.agentClassPath = agentClassPath;
        this.rounds = rounds;
        this.out = out;
    }

    /**
     * Space separated flags; the word {@code shipped} stands for {@link #SHIPPED_JVM_FLAGS}, and a word
     * {@code NAME=value} (e.g. {@code MALLOC_ARENA_MAX=2}) sets an environment variable of the agent process.
     */
    private static List<String> flags(String spaced) {
        List<String> out = new ArrayList<>();
        for (String f : spaced.strip().split("\\s+")) {
            if (f.equals("shipped")) {
                out.addAll(SHIPPED_JVM_FLAGS);
            } else {
                out.add(f);
            }
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: AgentBenchmark <agent runtime class path> [rounds]");
            System.exit(2);
        }
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 15;
        if (rounds <= WARM_UP && System.getProperty("mocket.bench.memoryVariants") == null) {
            System.err.println("rounds must be more than the " + WARM_UP + " warm-up rounds");
            System.exit(2);
        }
        new AgentBenchmark(args[0], rounds, System.out).run();
        System.exit(0); // the control plane's gRPC threads are not all daemons
    }

    private void run() throws Exception {
        Thread killChildren = new Thread(this::stopChildren, "bench-children-cleanup");
        Runtime.getRuntime().addShutdownHook(killChildren);
        try (KernelSandbox sandbox = KernelSandbox.create(); ControlPlane cp = new ControlPlane().start()) {
            List<Object> all = new ArrayList<>(services());
            all.addAll(workloads(0));
            cp.commit(all, Set.of());
            out.printf("# agent benchmark: %d pods, %d services (%d backends each, 2 ports, v4 VIPs)%n", PODS,
                    SERVICES, BACKENDS_PER_SERVICE);
            out.println("load average at start: " + loadAverage());
            if (!memoryVariants.isEmpty()) {
                memoryVariants(sandbox, cp);
            } else if (Boolean.getBoolean("mocket.bench.applyOnly")) {
                endpointChanges(sandbox, cp);
            } else {
                endpointChanges(sandbox, cp);
                residentAndRestart(sandbox, cp);
            }
            out.println("load average at end: " + loadAverage());
        } finally {
            stopChildren();
            try {
                Runtime.getRuntime().removeShutdownHook(killChildren);
            } catch (IllegalStateException e) {
                // shutting down: the hook runs
            }
        }
    }

    // ---- the synthetic cluster ----

    static String ns(int service) {
        return "ns-" + (service % 20);
    }

    static List<Service> services() {
        List<Service> out = new ArrayList<>(SERVICES);
        for (int i = 0; i < SERVICES; i++) {
            String vip = "10.96." + (i / 250) + "." + (i % 250 + 1);
            out.add(Mesh.service(ns(i), "svc-" + i, List.of(vip), Mesh.port(80, 8080), Mesh.port(443, 8443)).build());
        }
        return out;
    }

    /**
     * Every pod, member of one service; {@code shift} moves pod j from service j/10 to (j/10 + shift) mod 1000,
     * so consecutive shifts give every service ten new backends: 10,000 endpoint changes, all pods re-sent.
     */
    static List<Workload> workloads(int shift) {
        List<Workload> out = new ArrayList<>(PODS);
        for (int j = 0; j < PODS; j++) {
            out.add(workload(j, shift));
        }
        return out;
    }

    /** Pod j, member of service (j/10 + shift) mod 1000. */
    static Workload workload(int j, int shift) {
        int service = (j / BACKENDS_PER_SERVICE + shift) % SERVICES;
        String ip = "10.244." + (j / 250) + "." + (j % 250 + 1);
        String podNs = ns(j / BACKENDS_PER_SERVICE);
        Workload.Builder w = Mesh.pod(podNs, "pod-" + j, "node-" + (j % NODES), "r1/z" + (j % 3), List.of(ip));
        return Mesh.member(w, Mesh.serviceName(ns(service), "svc-" + service)).build();
    }

    // ---- 1. endpoint changes, commit to ACK ----

    /**
     * 1 and 1b, with the agent as a separate process started with {@link #agentJvmFlags} (the shipped flags: C1
     * only, SerialGC, the small heap), as on a node. Commit to ACK is timed here (the ACK as the control plane
     * records it); the agent's own share and its parts are read from its {@code /metrics} after each ACK.
     */
    private void endpointChanges(KernelSandbox sandbox, ControlPlane cp) throws Exception {
        Path logs = Files.createTempDirectory(sandbox.id + "-apply-logs");
        int adminPort = freePort();
        List<String> cmd = agentCommand(agentJvmFlags, cp, "node-0", sandbox.bpffs.resolve("apply"), sandbox,
                adminPort);
        // {commit-to-ACK, agent total, decode, pass wall, pass CPU, desired, plan, pass writes, decode CPU,
        //  cleanup writes, cleanup wall, GC during the apply}
        List<long[]> samples = new ArrayList<>();
        List<long[]> single = new ArrayList<>(); // {commit-to-ACK, agent total, pass wall, pass CPU, pass writes}
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
            Path log = logs.resolve("agent.log");
            Process agent = start(cmd, log);
            awaitReady(http, adminPort, agent, log);
            for (int r = 1; r <= rounds; r++) {
                long[] row = change(http, adminPort, cp, agent, workloads(r));
                sleep(Duration.ofMillis(500)); // the cleanup after the ACK, then read it
                Map<String, Double> m = metrics(http, adminPort);
                long[] full = Arrays.copyOf(row, 12);
                full[11] = row[9];
                full[9] = (long) (double) m.getOrDefault("mocket_agent_last_cleanup_writes", 0.0);
                full[10] = (long) (m.getOrDefault("mocket_agent_last_cleanup_seconds", 0.0) * 1e9);
                samples.add(full);
                System.err.printf("round %d: commit to ACK %.1f ms; agent: arrival to ACK %.1f ms = decode+apply %.1f"
                                + " (CPU %.1f) + pass %.1f (desired %.1f, plan %.1f, %d writes; CPU %.1f) + rest %.1f;"
                                + " GC in it %.1f; after the ACK: %d deletes in %.1f ms%n", r, full[0] / 1e6,
                        full[1] / 1e6, full[2] / 1e6, full[8] / 1e6, full[3] / 1e6, full[5] / 1e6, full[6] / 1e6,
                        full[7], full[4] / 1e6, (full[1] - full[2] - full[3]) / 1e6, full[11] / 1e6, full[9],
                        full[10] / 1e6);
            }
            // 1b. One pod moves to the next service (2 service ports of the service it leaves, 2 of the one it
            // joins): what a single endpoint change costs once the mesh is in place.
            for (int k = 0; k < SINGLE_CHANGES; k++) {
                int j = 37 * k % PODS;
                long[] row = change(http, adminPort, cp, agent, List.of(workload(j, rounds + 1 + k)));
                single.add(new long[]{row[0], row[1], row[3], row[4], row[7]});
                sleep(Duration.ofMillis(50));
            }
            stop(agent);
        } finally {
            stopChildren();
            deleteLogs(logs);
        }
        List<long[]> warm = samples.subList(WARM_UP, samples.size());
        out.println();
        out.println("## 1. 10,000 endpoint changes (every service moved to 10 new backends), store commit to ACK");
        out.println("agent: a separate process with JVM flags: " + String.join(" ", agentJvmFlags));
        out.printf("rounds: %d after %d warm-up rounds (%s ms)%n", warm.size(), WARM_UP, samples.subList(0, WARM_UP)
                .stream().map(r -> String.format("%.0f", r[0] / 1e6)).toList());
        out.printf("commit to ACK: median %.1f ms, p90 %.1f ms, p99 %.1f ms (= max below 100 rounds)%n",
                pct(warm, 0, 50) / 1e6, pct(warm, 0, 90) / 1e6, pct(warm, 0, 99) / 1e6);
        out.printf("agent side (mocket_agent_apply_seconds: response received whole to ACK sent): median %.1f ms,"
                + " p90 %.1f ms, min %.1f ms%n", pct(warm, 1, 50) / 1e6, pct(warm, 1, 90) / 1e6, pct(warm, 1, 0) / 1e6);
        out.printf("agent CPU (decode thread + reconciler thread, not inflated by other load; GC pauses excluded):"
                + " median %.1f ms; GC pauses from arrival to ACK: median %.1f ms, max %.1f ms; CPU + GC: median"
                + " %.1f ms%n", pct(warm.stream().map(r -> new long[]{r[8] + r[4]}).toList(), 0, 50) / 1e6,
                pct(warm, 11, 50) / 1e6, pct(warm, 11, 100) / 1e6,
                pct(warm.stream().map(r -> new long[]{r[8] + r[4] + r[11]}).toList(), 0, 50) / 1e6);
        out.printf("  of which parse + checks + NodeState.apply: median %.1f ms wall, %.1f ms CPU; reconcile pass:"
                + " median %.1f ms wall, %.1f ms CPU (desired state %.1f ms, plan %.1f ms, the rest map writes); the"
                + " rest (hand-over, ACK): median %.1f ms%n", pct(warm, 2, 50) / 1e6, pct(warm, 8, 50) / 1e6,
                pct(warm, 3, 50) / 1e6, pct(warm, 4, 50) / 1e6,
                pct(warm, 5, 50) / 1e6, pct(warm, 6, 50) / 1e6,
                pct(warm.stream().map(r -> new long[]{r[1] - r[2] - r[3]}).toList(), 0, 50) / 1e6);
        out.printf("map element writes before the ACK: median %d; deleted after the ACK: median %d in %.1f ms%n",
                pct(warm, 7, 50), pct(warm, 9, 50), pct(warm, 10, 50) / 1e6);
        out.println();
        out.printf("## 1b. %d single-pod moves (one workload changes service), store commit to ACK%n", single.size());
        out.printf("commit to ACK: median %.1f ms, p90 %.1f ms; agent side median %.2f ms; pass: median %.2f ms"
                        + " (CPU %.2f ms), %d map writes before the ACK (median)%n", pct(single, 0, 50) / 1e6,
                pct(single, 0, 90) / 1e6, pct(single, 1, 50) / 1e6, pct(single, 2, 50) / 1e6,
                pct(single, 3, 50) / 1e6, pct(single, 4, 50));
    }

    private static final String ADDRESS_LABEL = "type_url=\"" + ResourceKind.ADDRESS.typeUrl() + "\"";

    /**
     * Commits {@code workloads}, waits for the agent's ACK as the control plane records it, then for the agent's
     * metrics of that response. Returns {commit-to-ACK, agent total, decode, pass wall, pass CPU, desired, plan,
     * pass writes, decode CPU, GC} in nanoseconds (writes as a count).
     */
    private static long[] change(HttpClient http, int port, ControlPlane cp, Process agent, List<Workload> workloads)
            throws Exception {
        double appliesBefore = metrics(http, port).getOrDefault("mocket_agent_apply_seconds_count{" + ADDRESS_LABEL
                + "}", 0.0);
        long acksBefore = addressAcks(cp);
        long nacksBefore = addressNacks(cp);
        long start = System.nanoTime();
        cp.commit(workloads, Set.of());
        awaitUntil("the agent ACKs " + workloads.size() + " workload updates", () -> {
            if (addressNacks(cp) > nacksBefore) {
                throw new IllegalStateException("the agent NACKed the push");
            }
            return addressAcks(cp) > acksBefore;
        });
        long took = System.nanoTime() - start;
        if (!agent.isAlive()) {
            throw new IllegalStateException("the agent exited " + agent.exitValue());
        }
        Map<String, Double> m = metrics(http, port);
        for (int i = 0; i < 1000 && m.getOrDefault("mocket_agent_apply_seconds_count{" + ADDRESS_LABEL + "}", 0.0)
                <= appliesBefore; i++) {
            sleep(Duration.ofMillis(1)); // the agent counts the apply right after sending the ACK
            m = metrics(http, port);
        }
        double generation = m.get("mocket_agent_last_apply_generation{" + ADDRESS_LABEL + "}");
        if (m.get("mocket_agent_last_reconcile_generation") < generation) {
            throw new IllegalStateException("the last pass is older than the response it answered");
        }
        Map<String, Double> read = m;
        java.util.function.ToLongFunction<String> nanos = k -> Math.round(read.get(k) * 1e9);
        return new long[]{took,
                nanos.applyAsLong("mocket_agent_last_apply_seconds{" + ADDRESS_LABEL + ",part=\"total\"}"),
                nanos.applyAsLong("mocket_agent_last_apply_seconds{" + ADDRESS_LABEL + ",part=\"decode\"}"),
                nanos.applyAsLong("mocket_agent_last_reconcile_seconds{part=\"wall\"}"),
                nanos.applyAsLong("mocket_agent_last_reconcile_seconds{part=\"cpu\"}"),
                nanos.applyAsLong("mocket_agent_last_reconcile_seconds{part=\"desired\"}"),
                nanos.applyAsLong("mocket_agent_last_reconcile_seconds{part=\"plan\"}"),
                Math.round(read.get("mocket_agent_last_reconcile_writes")),
                Math.round(read.getOrDefault("mocket_agent_last_apply_seconds{" + ADDRESS_LABEL
                        + ",part=\"decode_cpu\"}", 0.0) * 1e9),
                Math.round(read.getOrDefault("mocket_agent_last_apply_seconds{" + ADDRESS_LABEL
                        + ",part=\"gc\"}", 0.0) * 1e9)};
    }

    /** Every sample of the agent's /metrics, by its name and labels as written. */
    private static Map<String, Double> metrics(HttpClient http, int port) throws Exception {
        String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()).body();
        Map<String, Double> out = new java.util.HashMap<>();
        for (String l : body.lines().toList()) {
            if (!l.startsWith("#") && l.lastIndexOf(' ') > 0) {
                out.put(l.substring(0, l.lastIndexOf(' ')), Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)));
            }
        }
        return out;
    }

    private static long addressNacks(ControlPlane cp) {
        return cp.clients().stream().flatMap(c -> c.types().stream())
                .filter(t -> t.typeUrl().equals(ResourceKind.ADDRESS.typeUrl())).mapToLong(t -> t.nackCount()).sum();
    }

    // ---- 2 only, several flag sets side by side ----

    private void memoryVariants(KernelSandbox sandbox, ControlPlane cp) throws Exception {
        Path logs = Files.createTempDirectory(sandbox.id + "-logs");
        int adminPort = freePort();
        List<List<String>> results = new ArrayList<>();
        for (int v = 0; v < memoryVariants.size(); v++) {
            results.add(new ArrayList<>());
        }
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
            for (int r = 1; r <= rounds; r++) {
                for (int v = 0; v < memoryVariants.size(); v++) {
                    // Each variant keeps its own pins: round 1 starts empty, later rounds adopt.
                    List<String> cmd = agentCommand(memoryVariants.get(v), cp, "node-1",
                            sandbox.bpffs.resolve("variant-" + v), sandbox, adminPort);
                    Path log = logs.resolve("variant-" + v + "-" + r + ".log");
                    long t0 = System.nanoTime();
                    Process p = start(cmd, log);
                    awaitReady(http, adminPort, p, log);
                    long ready = System.nanoTime() - t0;
                    Memory m = memory(p, memoryVariants.get(v));
                    // The heap must also hold a full push of every workload beside the store it replaces.
                    long resend = fullResend(cp, p, r * memoryVariants.size() + v + 1);
                    sleep(MemoryRelease.QUIET.plusSeconds(3));
                    long rssAfterResend = status(p.pid(), "VmRSS");
                    long hwmAfterResend = status(p.pid(), "VmHWM");
                    stop(p);
                    String line = String.format("round %d: ready %.1f s, VmRSS %.1f MiB (anon %.1f, file %.1f, peak %.1f),"
                            + " after GC %.1f MiB; full resend of %d workloads ACKed in %.1f s, 5 s later VmRSS %.1f"
                            + " MiB (peak %.1f; its release waits out the minute since the last); load %s;"
                            + " heap after GC: %s", r, ready / 1e9, m.rss / 1024.0, m.anon / 1024.0, m.file / 1024.0,
                            m.hwm / 1024.0, m.rssAfterGc / 1024.0, PODS, resend / 1e9, rssAfterResend / 1024.0,
                            hwmAfterResend / 1024.0, loadAverage(), heapSummary(m.heap));
                    results.get(v).add(line);
                    System.err.println("variant " + (v + 1) + " " + line);
                }
            }
        } finally {
            stopChildren();
            deleteLogs(logs);
        }
        out.println();
        out.println("## 2. resident memory, flag sets side by side (" + rounds + " rounds, interleaved)");
        for (int v = 0; v < memoryVariants.size(); v++) {
            out.println();
            out.println("variant " + (v + 1) + ": " + String.join(" ", memoryVariants.get(v)));
            results.get(v).forEach(l -> out.println("- " + l));
        }
    }

    /**
     * Commits all 10,000 workloads again, each moved to another service, and waits for the agent's ACK (which
     * comes after the kernel has them). Fails if the agent dies (e.g. -XX:+ExitOnOutOfMemoryError) or NACKs.
     */
    private static long fullResend(ControlPlane cp, Process agent, int shift) {
        long before = addressAcks(cp);
        long start = System.nanoTime();
        cp.commit(workloads(shift), Set.of());
        awaitUntil("the agent ACKs a full resend of " + PODS + " workloads", 5_000_000, () -> {
            if (!agent.isAlive()) {
                throw new IllegalStateException("the agent died during a full resend, exit " + agent.exitValue());
            }
            return addressAcks(cp) > before;
        });
        if (cp.clients().stream().flatMap(c -> c.types().stream()).anyMatch(t -> t.nackCount() > 0)) {
            throw new IllegalStateException("the agent NACKed the full resend");
        }
        return System.nanoTime() - start;
    }

    private static long addressAcks(ControlPlane cp) {
        return cp.clients().stream().flatMap(c -> c.types().stream())
                .filter(t -> t.typeUrl().equals(ResourceKind.ADDRESS.typeUrl()))
                .mapToLong(t -> t.ackedGeneration()).max().orElse(0);
    }

    private static String heapSummary(String heapInfo) {
        return heapInfo.lines().filter(l -> l.contains("total") || l.contains("Metaspace")).map(String::strip)
                .reduce((a, b) -> a + " | " + b).orElse("?");
    }

    private record Memory(long rss, long anon, long file, long hwm, long rssAfterGc, String heap) {
    }

    /** Waits 10 s after ready, reads the status, forces a GC, reads VmRSS again (and NMT when enabled). */
    private static Memory memory(Process p, List<String> flags) throws Exception {
        sleep(Duration.ofSeconds(10)); // settle: telemetry tick, lazy JIT, no forced GC
        long rss = status(p.pid(), "VmRSS");
        long anon = status(p.pid(), "RssAnon");
        long file = status(p.pid(), "RssFile");
        long hwm = status(p.pid(), "VmHWM");
        String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
        Optional<String> nmt = flags.stream().filter(f -> f.startsWith("-XX:NativeMemoryTracking=")).findFirst();
        if (nmt.isPresent()) {
            System.err.println(KernelSandbox.runQuietly(jcmd, Long.toString(p.pid()), "VM.native_memory",
                    nmt.get().substring(nmt.get().indexOf('=') + 1)));
            System.err.println(largestMappings(p.pid(), 20));
        }
        KernelSandbox.runQuietly(jcmd, Long.toString(p.pid()), "GC.run");
        sleep(Duration.ofSeconds(3));
        long rssAfterGc = status(p.pid(), "VmRSS");
        String heap = KernelSandbox.runQuietly(jcmd, Long.toString(p.pid()), "GC.heap_info");
        if (Boolean.getBoolean("mocket.bench.histogram")) {
            // What the live heap holds (-Dmocket.bench.histogram=true in BENCH_JAVA_OPTS): the 40 largest classes.
            System.err.println(KernelSandbox.runQuietly(jcmd, Long.toString(p.pid()), "GC.class_histogram")
                    .lines().limit(44).collect(java.util.stream.Collectors.joining("\n")));
        }
        return new Memory(rss, anon, file, hwm, rssAfterGc, heap);
    }

    /** The mappings of a process with the most resident memory, from /proc/pid/smaps (to see what NMT misses). */
    private static String largestMappings(long pid, int top) throws IOException {
        record Mapping(String header, long rssKiB) {
        }
        List<Mapping> all = new ArrayList<>();
        String header = null;
        for (String l : Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps"))) {
            if (!l.isEmpty() && Character.isLetterOrDigit(l.charAt(0)) && l.indexOf('-') > 0 && !l.contains(":  ")
                    && !l.startsWith("VmFlags")) {
                header = l;
            } else if (l.startsWith("Rss:") && header != null) {
                all.add(new Mapping(header, Long.parseLong(l.replaceAll("[^0-9]", ""))));
            }
        }
        StringBuilder b = new StringBuilder("largest mappings by Rss (KiB):\n");
        all.stream().sorted((a, c) -> Long.compare(c.rssKiB, a.rssKiB)).limit(top)
                .forEach(m -> b.append(String.format("%8d  %s%n", m.rssKiB, m.header)));
        long anonNoName = all.stream().filter(m -> m.header.trim().split("\\s+").length < 6).mapToLong(Mapping::rssKiB)
                .sum();
        b.append("anonymous mappings without a name: ").append(anonNoName).append(" KiB in total\n");
        return b.toString();
    }

    /** The agent process as a node runs it: the packaged jar's class path, these JVM flags, this node. */
    private List<String> agentCommand(List<String> jvmFlags, ControlPlane cp, String nodeName, Path pinRoot,
                                      KernelSandbox sandbox, int adminPort) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmFlags);
        cmd.addAll(List.of("-cp", agentClassPath, "io.mocket.agent.Agent", "--control-plane", cp.target(),
                "--node-name", nodeName, "--pin-root", pinRoot.toString(), "--cgroup", sandbox.cgroup.toString(),
                "--admin-address", "127.0.0.1", "--admin-port", Integer.toString(adminPort)));
        return cmd;
    }

    private static void deleteLogs(Path logs) throws IOException {
        try (var files = Files.list(logs)) {
            for (Path f : files.toList()) {
                Files.deleteIfExists(f);
            }
        }
        Files.deleteIfExists(logs);
    }

    // ---- 2. resident memory of a separate agent; 3. restart to ready with existing pins ----

    private void residentAndRestart(KernelSandbox sandbox, ControlPlane cp) throws Exception {
        Path pinRoot = sandbox.bpffs.resolve("proc");
        Path logs = Files.createTempDirectory(sandbox.id + "-logs");
        int adminPort = freePort();
        List<String> cmd = agentCommand(agentJvmFlags, cp, "node-1", pinRoot, sandbox, adminPort);
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
            // First start: empty pins, full sync from the control plane.
            long t0 = System.nanoTime();
            Process first = start(cmd, logs.resolve("agent-0.log"));
            awaitReady(http, adminPort, first, logs.resolve("agent-0.log"));
            long firstReady = System.nanoTime() - t0;
            double firstWrites = metric(http, adminPort, "mocket_agent_map_writes_total");
            sleep(Duration.ofSeconds(10)); // settle: telemetry tick, lazy JIT, no forced GC
            long rss = status(first.pid(), "VmRSS");
            long anon = status(first.pid(), "RssAnon");
            long file = status(first.pid(), "RssFile");
            long hwm = status(first.pid(), "VmHWM");
            KernelSandbox.runQuietly(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                    Long.toString(first.pid()), "GC.run");
            sleep(Duration.ofSeconds(3));
            long rssAfterGc = status(first.pid(), "VmRSS");
            String heap = KernelSandbox.runQuietly(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                    Long.toString(first.pid()), "GC.heap_info");
            if (agentJvmFlags.stream().anyMatch(f -> f.startsWith("-XX:NativeMemoryTracking"))) {
                System.err.println(KernelSandbox.runQuietly(Path.of(System.getProperty("java.home"), "bin", "jcmd")
                        .toString(), Long.toString(first.pid()), "VM.native_memory", "summary"));
            }
            stop(first);

            // Restarts on the same pins: process start to /healthz/ready, and what the first reconcile wrote.
            List<long[]> restarts = new ArrayList<>();
            for (int i = 1; i <= 5; i++) {
                Path log = logs.resolve("agent-" + i + ".log");
                long s = System.nanoTime();
                Process p = start(cmd, log);
                awaitReady(http, adminPort, p, log);
                long ready = System.nanoTime() - s;
                long writes = (long) metric(http, adminPort, "mocket_agent_map_writes_total");
                restarts.add(new long[]{ready, writes});
                System.err.printf("restart %d: ready after %.0f ms, %d map writes%n", i, ready / 1e6, writes);
                stop(p);
            }
            out.println();
            out.println("## 2. resident memory of an agent process holding the cluster");
            out.println("JVM flags: " + String.join(" ", agentJvmFlags));
            out.printf("first start (empty pins) to ready: %.0f ms, %.0f map writes%n", firstReady / 1e6, firstWrites);
            out.printf("VmRSS 10 s after ready: %.1f MiB (peak VmHWM %.1f MiB); after a forced GC: %.1f MiB%n",
                    rss / 1024.0, hwm / 1024.0, rssAfterGc / 1024.0);
            out.printf("of which RssAnon %.1f MiB, RssFile %.1f MiB (mapped libjvm, libraries, CDS archive)%n",
                    anon / 1024.0, file / 1024.0);
            out.println("heap after GC: " + heap.lines().filter(l -> l.contains("total") || l.contains("Metaspace"))
                    .map(String::strip).reduce((a, b) -> a + " | " + b).orElse("?"));
            out.println();
            out.println("## 3. restart to ready with existing pins (5 restarts)");
            out.printf("process start to /healthz/ready 200: median %.0f ms, max %.0f ms; map writes: %s%n",
                    pct(restarts, 0, 50) / 1e6, pct(restarts, 0, 100) / 1e6,
                    Arrays.toString(restarts.stream().mapToLong(r -> r[1]).toArray()));
        } finally {
            stopChildren();
            deleteLogs(logs);
        }
    }

    /** Starts a child; words of the form {@code NAME=value} among the flags go to its environment instead. */
    private Process start(List<String> cmd, Path log) throws IOException {
        List<String> args = new ArrayList<>();
        java.util.Map<String, String> env = new java.util.LinkedHashMap<>();
        for (String a : cmd) {
            if (a.matches("[A-Z_][A-Z0-9_]*=.*")) {
                env.put(a.substring(0, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
            } else {
                args.add(a);
            }
        }
        ProcessBuilder pb = new ProcessBuilder(args).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        synchronized (children) {
            children.add(p);
        }
        return p;
    }

    /** SIGTERM, as a kubelet stops the pod; the pins stay. */
    private void stop(Process p) throws InterruptedException {
        p.destroy();
        if (!p.waitFor(15, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            throw new IllegalStateException("the agent did not stop within 15 s of SIGTERM");
        }
        synchronized (children) {
            children.remove(p);
        }
    }

    private void stopChildren() {
        List<Process> left;
        synchronized (children) {
            left = new ArrayList<>(children);
            children.clear();
        }
        for (Process p : left) {
            p.destroy();
            try {
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    private static void awaitReady(HttpClient http, int port, Process p, Path log) {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/healthz/ready"))
                .timeout(Duration.ofSeconds(2)).build();
        awaitUntil("the agent process answers 200 on /healthz/ready", 5_000_000, () -> {
            if (!p.isAlive()) {
                throw new IllegalStateException("the agent exited " + p.exitValue() + ":\n" + read(log));
            }
            try {
                return http.send(req, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
            } catch (IOException e) {
                return false; // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted");
            }
        });
    }

    private static double metric(HttpClient http, int port, String name) throws Exception {
        String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()).body();
        Optional<String> line = body.lines().filter(l -> l.startsWith(name + " ") || l.startsWith(name + "{"))
                .findFirst();
        return Double.parseDouble(line.orElseThrow(() -> new IllegalStateException("no " + name + " in /metrics"))
                .substring(line.get().lastIndexOf(' ') + 1));
    }

    /** A field of /proc/pid/status in KiB. */
    private static long status(long pid, String field) throws IOException {
        return Files.readAllLines(Path.of("/proc", Long.toString(pid), "status")).stream()
                .filter(l -> l.startsWith(field + ":")).map(l -> l.replaceAll("[^0-9]", ""))
                .mapToLong(Long::parseLong).findFirst().orElseThrow();
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String read(Path log) {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static XdsClient.Exchange last(List<XdsClient.Exchange> ex) {
        return ex.isEmpty() ? null : ex.getLast();
    }

    /** Nearest-rank percentile of one column. */
    private static long pct(List<long[]> rows, int column, int percentile) {
        long[] v = rows.stream().mapToLong(r -> r[column]).sorted().toArray();
        int rank = (int) Math.ceil(percentile / 100.0 * v.length);
        return v[Math.max(0, Math.min(v.length - 1, rank - 1))];
    }

    private static void sleep(Duration d) throws InterruptedException {
        Thread.sleep(d);
    }

    /** Polls every 0.2 ms (the latency measured is tens of ms) until the condition holds or {@link #WAIT} passes. */
    private static void awaitUntil(String what, java.util.function.BooleanSupplier condition) {
        awaitUntil(what, 200_000, condition);
    }

    private static void awaitUntil(String what, long pollNanos, java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("timed out after " + WAIT.toSeconds() + " s waiting until " + what);
            }
            LockSupport.parkNanos(pollNanos);
        }
    }
}
