package io.mocket.controlplane.bench;

import static io.mocket.controlplane.bench.XdsScaleBenchmark.mean;
import static io.mocket.controlplane.bench.XdsScaleBenchmark.percentile;

import io.mocket.controlplane.bench.XdsScaleBenchmark.Change;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToLongFunction;

/**
 * What one run of {@link XdsScaleBenchmark} measured, filled in as the run goes, and the table it prints.
 * Written by the benchmark's main thread only.
 */
final class ScaleResults {
    private static final double MS = 1e6;
    private static final double KIB = 1024;
    private static final double MIB = 1024 * 1024;

    final ScaleOptions options;
    final Machine machine;
    final LoadSampler load;
    private final List<String> failures = new ArrayList<>();

    // Initial translation and what it produced.
    long feedNanos;
    long initialCommitNanos;
    long translateNanos;
    long generation;
    int workloads;
    int services;
    long addressBytes;
    int authorizations;
    long authorizationBytes;

    // Initial sync.
    long allSyncedNanos = -1;
    List<Long> syncNanos = List.of();
    double initialPushBytes;
    long serverCpuSync = -1;
    long swarmCpuSync = -1;
    String loadAfterSync = "";

    // Memory.
    long heapNoClients = -1;
    long heapWithClients = -1;
    long directNoClients = -1;
    long directWithClients = -1;

    // Changes.
    final List<Change> changes = new ArrayList<>();
    long serverCpuChanges = -1;
    long swarmCpuChanges = -1;
    String loadAfterChanges = "";

    ScaleResults(ScaleOptions options, Machine machine, LoadSampler load) {
        this.options = options;
        this.machine = machine;
        this.load = load;
    }

    void fail(String why) {
        failures.add(why);
    }

    /** True when every phase ran; targets may still be missed. */
    boolean complete() {
        return failures.isEmpty() && changes.size() == options.changes();
    }

    long heapPerClient() {
        return heapWithClients < 0 ? -1 : (heapWithClients - heapNoClients) / options.clients();
    }

    long changeP99() {
        return percentile(values(Change::convergenceNanos), 0.99);
    }

    /** Bytes each client received for the change that cost the most, per the server's push sizes. */
    long maxBytesPerClient() {
        return changes.stream().mapToLong(c -> c.pushedBytes() / options.clients()).max().orElse(-1);
    }

    void print(PrintStream out) {
        int n = options.clients();
        Machine m = machine;
        out.println();
        out.println("## Control plane: workload xDS at scale");
        out.println();
        out.printf(Locale.ROOT, "- Date: %s%n", m.date());
        out.printf(Locale.ROOT, "- Machine: %d cores (%s), %.1f GiB memory, %s, %s%n", m.cores(), m.cpu(),
                m.memoryBytes() / MIB / 1024, m.kernel(), m.jdk());
        out.printf(Locale.ROOT, "- Server JVM: max heap %.0f MiB, flags %s%n", m.serverHeap() / MIB, m.jvmFlags());
        out.printf(Locale.ROOT, "- Client swarm: separate JVM on the same machine, -Xmx%s, -XX:MaxDirectMemorySize=%s, %d clients%n", options.clientHeap(), SwarmProcess.SWARM_DIRECT_MEMORY, n);
        out.printf(Locale.ROOT, "- Options: %s%n", options.commandLine());
        List<Double> samples = load.samples();
        List<Long> centi = samples.stream().map(d -> Math.round(d * 100)).toList();
        out.printf(Locale.ROOT, "- Load average (1/5/15 min): at start %s; after the initial sync %s; after the changes %s; "
                        + "1-min samples during the run: median %.2f, max %.2f (%d samples)%n",
                load.atStart(), loadAfterSync, loadAfterChanges, percentile(centi, 0.5) / 100.0,
                centi.isEmpty() ? -1 : centi.stream().mapToLong(Long::longValue).max().getAsLong() / 100.0, samples.size());
        out.printf(Locale.ROOT, "- Cluster: %s%n", options.shape().describe());
        out.printf(Locale.ROOT, "- Served: %,d Address (%,d workloads + %,d services, %.1f MiB serialized), "
                        + "%,d Authorization (%.1f KiB)%n",
                workloads + services, workloads, services, addressBytes / MIB, authorizations, authorizationBytes / KIB);
        out.println();
        out.println("| Measurement | Value | Target | Result |");
        out.println("|---|---|---|---|");
        row(out, "Initial translation: first event to commit (index translate time)",
                "%.2f s (%.2f s)".formatted(initialCommitNanos / 1e9, translateNanos / 1e9), "", "");
        row(out, "Initial sync per client: stream open to full state, p50 / p99 / max",
                msTriple(syncNanos), "", "");
        row(out, "All %,d clients synced, from child JVM start".formatted(n),
                allSyncedNanos < 0 ? "n/a" : "%.1f s".formatted(allSyncedNanos / 1e9), "", "");
        row(out, "Initial sync bytes per client (both types)",
                allSyncedNanos < 0 ? "n/a" : "%.2f MiB".formatted(initialPushBytes / n / MIB), "", "");
        row(out, "Server CPU / client swarm CPU for the initial sync",
                cpu(serverCpuSync, 1e9, "s") + " / " + cpu(swarmCpuSync, 1e9, "s"), "", "");
        row(out, "Server heap after GC: 0 clients / %,d idle clients".formatted(n),
                heapWithClients < 0 ? "n/a" : "%.1f MiB / %.1f MiB".formatted(heapNoClients / MIB, heapWithClients / MIB), "", "");
        row(out, "**Server heap per idle client**",
                heapWithClients < 0 ? "n/a" : "%.1f KiB".formatted(heapPerClient() / KIB),
                "<= %d KiB".formatted(XdsScaleBenchmark.TARGET_HEAP_PER_CLIENT / 1024),
                verdict(heapWithClients >= 0, heapPerClient() <= XdsScaleBenchmark.TARGET_HEAP_PER_CLIENT));
        row(out, "Server direct (off-heap) memory per idle client",
                directWithClients < 0 ? "n/a" : "%.1f KiB".formatted((directWithClients - directNoClients) / KIB / n), "", "");
        String k = "n=" + changes.size();
        row(out, "**Pod change to last client's ACK**, p50 / p99 / max (" + k + ")",
                msTriple(values(Change::convergenceNanos)),
                "p99 <= %d ms".formatted(XdsScaleBenchmark.TARGET_CHANGE_P99.toMillis()),
                verdict(!changes.isEmpty(), changeP99() <= XdsScaleBenchmark.TARGET_CHANGE_P99.toNanos()));
        row(out, "... of which debounce (first event to commit start), p50 / p99 / max",
                msTriple(values(Change::debounceNanos)), "", "");
        row(out, "... of which translation, p50 / p99 / max", msTriple(values(Change::translateNanos)), "", "");
        row(out, "... of which the store's commit (commit published - debounce - translation), p50 / p99 / max",
                msTriple(values(c -> c.committedNanos() - c.debounceNanos() - c.translateNanos())), "", "");
        row(out, "... timeline from the upsert, p50: commit published / first client has it / last client has it / last ACK processed",
                changes.isEmpty() ? "n/a" : "%.1f / %.1f / %.1f / %.1f ms".formatted(
                        percentile(values(Change::committedNanos), 0.5) / MS, percentile(values(Change::firstReceivedNanos), 0.5) / MS,
                        percentile(values(Change::lastReceivedNanos), 0.5) / MS, percentile(values(Change::convergenceNanos), 0.5) / MS),
                "", "");
        row(out, "... the same timeline, p99",
                changes.isEmpty() ? "n/a" : "%.1f / %.1f / %.1f / %.1f ms".formatted(
                        percentile(values(Change::committedNanos), 0.99) / MS, percentile(values(Change::firstReceivedNanos), 0.99) / MS,
                        percentile(values(Change::lastReceivedNanos), 0.99) / MS, percentile(values(Change::convergenceNanos), 0.99) / MS),
                "", "");
        row(out, "**Bytes per client per single-pod change** (server push sizes), mean / max",
                changes.isEmpty() ? "n/a" : "%.0f B / %d B".formatted(mean(values(c -> c.pushedBytes() / n)), maxBytesPerClient()),
                "<= %d B".formatted(XdsScaleBenchmark.TARGET_BYTES_PER_CHANGE),
                verdict(!changes.isEmpty(), maxBytesPerClient() <= XdsScaleBenchmark.TARGET_BYTES_PER_CHANGE));
        row(out, "... cross-check: bytes the clients received per client per change, mean / max",
                changes.isEmpty() ? "n/a" : "%.0f B / %d B".formatted(mean(values(c -> c.clientBytes() / n)),
                        percentile(values(c -> c.clientBytes() / n), 1.0)), "", "");
        row(out, "Responses per client per change (min / max over changes)",
                changes.isEmpty() ? "n/a" : "%.2f / %.2f".formatted(
                        percentile(values(Change::pushes), 0.0) / (double) n, percentile(values(Change::pushes), 1.0) / (double) n),
                "", "");
        row(out, "Server CPU / client swarm CPU per change",
                changes.isEmpty() ? "n/a" : cpu(serverCpuChanges / Math.max(1, changes.size()), MS, "ms") + " / "
                        + cpu(swarmCpuChanges < 0 ? -1 : swarmCpuChanges / Math.max(1, changes.size()), MS, "ms"), "", "");
        out.println();
        if (!changes.isEmpty()) {
            List<Long> sorted = new ArrayList<>(values(Change::convergenceNanos));
            sorted.sort(Long::compare);
            out.println("Pod change to last ACK, every change sorted (ms): "
                    + String.join(" ", sorted.stream().map(v -> "%.1f".formatted(v / MS)).toList()));
        }
        if (failures.isEmpty()) {
            long failed = targetsMissed();
            out.println(failed == 0 ? "All targets met." : failed + " target(s) missed.");
        } else {
            out.println("INCOMPLETE RUN:");
            failures.forEach(f -> out.println("  - " + f));
        }
    }

    private long targetsMissed() {
        int missed = 0;
        if (heapPerClient() > XdsScaleBenchmark.TARGET_HEAP_PER_CLIENT) {
            missed++;
        }
        if (changeP99() > XdsScaleBenchmark.TARGET_CHANGE_P99.toNanos()) {
            missed++;
        }
        if (maxBytesPerClient() > XdsScaleBenchmark.TARGET_BYTES_PER_CHANGE) {
            missed++;
        }
        return missed;
    }

    private List<Long> values(ToLongFunction<Change> f) {
        return changes.stream().map(c -> f.applyAsLong(c)).toList();
    }

    private static String msTriple(List<Long> nanos) {
        if (nanos.isEmpty()) {
            return "n/a";
        }
        return "%.1f / %.1f / %.1f ms".formatted(percentile(nanos, 0.5) / MS, percentile(nanos, 0.99) / MS,
                percentile(nanos, 1.0) / MS);
    }

    private static String cpu(long nanos, double unit, String name) {
        return nanos < 0 ? "n/a" : "%.1f %s".formatted(nanos / unit, name);
    }

    private static String verdict(boolean measured, boolean met) {
        return !measured ? "n/a" : met ? "PASS" : "FAIL";
    }

    private static void row(PrintStream out, String what, String value, String target, String result) {
        out.printf(Locale.ROOT, "| %s | %s | %s | %s |%n", what, value, target, result);
    }
}
