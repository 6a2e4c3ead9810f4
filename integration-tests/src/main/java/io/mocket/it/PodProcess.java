package io.mocket.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A process started in a pod by {@link TestCluster#start}. Its stdout is kept line by line (for line-protocol
 * programs such as {@link PodProbe}, and for tools whose report is parsed after they exit) and copied to a
 * log file; stderr goes to a second log file. Every wait is bounded.
 */
public final class PodProcess implements AutoCloseable {

    private final String name;
    private final Process process;
    private final Path stdoutLog;
    private final Path stderrLog;
    private final Writer stdin;
    private final LinkedBlockingQueue<String> unread = new LinkedBlockingQueue<>();
    private final List<String> all = new ArrayList<>();
    private final Thread reader;

    PodProcess(String name, Process process, Path stdoutLog, Path stderrLog) {
        this.name = name;
        this.process = process;
        this.stdoutLog = stdoutLog;
        this.stderrLog = stderrLog;
        this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        this.reader = Thread.ofPlatform().daemon().name("stdout-" + name).start(this::readStdout);
    }

    private void readStdout() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
             Writer log = Files.newBufferedWriter(stdoutLog, StandardCharsets.UTF_8,
                     StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            for (String line; (line = r.readLine()) != null; ) {
                synchronized (all) {
                    all.add(line);
                }
                unread.add(line);
                log.write(line);
                log.write('\n');
                log.flush();
            }
        } catch (IOException e) {
            // the process is gone; what was read stays available
        }
    }

    public String name() {
        return name;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Writes one line to the process's stdin. */
    public void send(String line) {
        try {
            stdin.write(line + "\n");
            stdin.flush();
        } catch (IOException e) {
            throw new IllegalStateException("process " + name + " no longer reads its input: " + stderrTail(), e);
        }
    }

    /** The next stdout line not yet returned, or an exception naming the process after {@code timeout}. */
    public String nextLine(Duration timeout) {
        try {
            String line = unread.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (line == null) {
                throw new IllegalStateException("process " + name + (process.isAlive() ? " printed nothing within "
                        + timeout : " exited " + process.exitValue()) + "; stderr: " + stderrTail());
            }
            return line;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + name, e);
        }
    }

    /** Skips stdout lines until one matches, within one overall deadline. */
    public String awaitLine(Predicate<String> matches, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            String line = nextLine(Duration.ofNanos(Math.max(left, 1)));
            if (matches.test(line)) {
                return line;
            }
        }
    }

    /** Sends a command and returns the next line: the request/answer protocol of {@link PodProbe}. */
    public String call(String command, Duration timeout) {
        send(command);
        return nextLine(timeout);
    }

    /** Waits for the process to exit by itself; destroys it after {@code timeout}. Returns the exit code. */
    public int awaitExit(Duration timeout) {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                destroy();
                throw new IllegalStateException("process " + name + " did not exit within " + timeout
                        + "; stderr: " + stderrTail());
            }
            reader.join(5_000);
            return process.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + name, e);
        }
    }

    /** Everything the process printed on stdout so far. */
    public String output() {
        synchronized (all) {
            return String.join("\n", all);
        }
    }

    /** The last lines of stderr, for error messages. */
    public String stderrTail() {
        try {
            List<String> lines = Files.readAllLines(stderrLog);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(no stderr)";
        } catch (UncheckedIOException e) {
            return "(stderr unreadable)";
        }
    }

    private void destroy() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(3, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }

    /** Asks the process to stop (stdin closed, SIGTERM) without waiting: for stopping many at once. */
    void terminate() {
        try {
            stdin.close();
        } catch (IOException e) {
            // already closed
        }
        process.destroy();
    }

    /** Closes stdin (line-protocol programs exit on it), then terminates, then kills, each step bounded. */
    @Override
    public void close() {
        try {
            stdin.close();
        } catch (IOException e) {
            // already closed
        }
        try {
            if (!process.waitFor(2, TimeUnit.SECONDS)) {
                destroy();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
