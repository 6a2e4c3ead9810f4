package io.mocket.controlplane.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A {@link DeltaClientSwarm} running as a child JVM on this JVM's classpath, and what it reported. The
 * clients live in another process so that they do not count in the control plane's heap; they still share
 * the machine's cores with it.
 */
final class SwarmProcess implements AutoCloseable {
    private final Process process;
    private final Writer commands;
    private final Path stderr;
    private final List<Long> syncNanos = new CopyOnWriteArrayList<>();
    private final List<String> errors = new CopyOnWriteArrayList<>();
    private final CountDownLatch finished = new CountDownLatch(1);
    private final BlockingQueue<Received> received = new LinkedBlockingQueue<>();
    private final Thread reader;
    private volatile boolean allSynced;

    private SwarmProcess(Process process, Path stderr) {
        this.process = process;
        this.stderr = stderr;
        this.commands = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        this.reader = Thread.ofPlatform().daemon().name("swarm-reports").start(this::readReports);
    }

    /**
     * Starts {@code clients} clients against {@code host:port}.
     *
     * @param heap        the child's -Xmx (e.g. "1g")
     * @param syncTimeout how long the child waits for every client's initial state before it reports an error
     * @param stderr      where the child's stderr goes
     */
    /** Direct memory cap of the swarm: a bound, not a reservation; the machine has far more. */
    static final String SWARM_DIRECT_MEMORY = "8g";

    static SwarmProcess start(String host, int port, int clients, String heap, Duration syncTimeout, Path stderr)
            throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java,
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-Xmx" + heap, "-XX:+UseG1GC",
                // Receive buffers are direct memory, by default capped at -Xmx. During the initial sync every
                // client holds a 4 MiB full state in flight at about the same time, which real clients do on
                // their own nodes; here they share one process, so the cap is a limit of the harness only.
                "-XX:MaxDirectMemorySize=" + SWARM_DIRECT_MEMORY,
                "-cp", System.getProperty("java.class.path"),
                DeltaClientSwarm.class.getName(), host, Integer.toString(port), Integer.toString(clients),
                Long.toString(syncTimeout.toSeconds())));
        Process p = new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.to(stderr.toFile()))
                .start();
        return new SwarmProcess(p, stderr);
    }

    /**
     * Waits for ALL_SYNCED (or an error report, or the child's exit).
     *
     * @return true when every client reported its initial state
     */
    boolean awaitAllSynced(Duration timeout) throws InterruptedException {
        return finished.await(timeout.toMillis(), TimeUnit.MILLISECONDS) && errors.isEmpty() && allSynced;
    }

    /** Per-client nanoseconds from opening its stream to holding the full initial state of both types. */
    List<Long> syncNanos() {
        return List.copyOf(syncNanos);
    }

    List<String> errors() {
        return List.copyOf(errors);
    }

    /**
     * What the clients received since the previous mark.
     *
     * @param bytes      response bytes, summed over all clients
     * @param firstNanos {@link System#nanoTime()} when the first of those responses arrived, 0 if none did
     * @param lastNanos  when the last one arrived, 0 if none did
     */
    record Received(long bytes, long firstNanos, long lastNanos) {
    }

    /** What the clients received since the previous mark. */
    Received mark(Duration timeout) throws IOException, InterruptedException {
        send("MARK");
        Received b = received.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (b == null) {
            throw new IllegalStateException("the client swarm did not answer MARK within " + timeout
                    + (process.isAlive() ? "" : " (it exited with " + process.exitValue() + ")")
                    + "; its stderr is in " + stderr);
        }
        return b;
    }

    /** CPU time the child used so far, or -1 when the platform does not say. */
    long cpuNanos() {
        return process.toHandle().info().totalCpuDuration().map(Duration::toNanos).orElse(-1L);
    }

    /** Asks the swarm to close its connections and exit; kills it if it does not within 15 s. */
    @Override
    public void close() throws InterruptedException {
        try {
            send("STOP");
            commands.close();
        } catch (IOException e) {
            // Already gone: nothing to ask.
        }
        if (!process.waitFor(15, TimeUnit.SECONDS)) {
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        }
        reader.join(TimeUnit.SECONDS.toMillis(5));
    }

    /** Kills the child without asking; for a shutdown hook. */
    void kill() {
        process.destroyForcibly();
    }

    private void send(String command) throws IOException {
        synchronized (commands) {
            commands.write(command + "\n");
            commands.flush();
        }
    }

    private void readReports() {
        try (var in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                if (line.startsWith("SYNCED ")) {
                    syncNanos.add(Long.parseLong(line.substring(line.lastIndexOf(' ') + 1)));
                } else if (line.equals("ALL_SYNCED")) {
                    allSynced = true;
                    finished.countDown();
                } else if (line.startsWith("BYTES ")) {
                    String[] f = line.split(" "); // BYTES b FIRST f LAST l
                    received.add(new Received(Long.parseLong(f[1]), Long.parseLong(f[3]), Long.parseLong(f[5])));
                } else if (line.startsWith("ERROR")) {
                    errors.add(line);
                    finished.countDown();
                }
            }
        } catch (IOException | RuntimeException e) {
            errors.add("ERROR reading the swarm's reports: " + e);
        } finally {
            if (!allSynced) {
                errors.add("ERROR the client swarm exited before all clients synced; its stderr is in " + stderr);
            }
            finished.countDown();
        }
    }
}
