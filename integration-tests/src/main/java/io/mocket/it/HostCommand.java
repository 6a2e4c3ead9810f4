package io.mocket.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One short administrative command (ip, mount, nft, sysctl) run to completion with a bounded wait. The
 * harness builds the cluster from these; their output is kept so a failure says what the kernel answered.
 */
public record HostCommand(List<String> argv, Duration timeout) {

    private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(20);

    /** What a finished command produced: exit code (-1 if it could not run or timed out) and merged output. */
    public record Result(int exit, String output) {
        public boolean ok() {
            return exit == 0;
        }
    }

    public HostCommand {
        argv = List.copyOf(argv);
        if (argv.isEmpty()) {
            throw new IllegalArgumentException("empty command");
        }
    }

    public static HostCommand of(String... argv) {
        return new HostCommand(List.of(argv), DEFAULT_TIMEOUT);
    }

    /** Runs the command and throws with its output unless it exits 0. */
    public static String run(String... argv) {
        return of(argv).orThrow();
    }

    /** Runs the command and returns its output whatever the exit code: for cleanup, which must go on. */
    public static String runQuietly(String... argv) {
        return of(argv).execute().output();
    }

    public String orThrow() {
        Result r = execute();
        if (!r.ok()) {
            throw new IllegalStateException(String.join(" ", argv) + " exited " + r.exit() + ": " + r.output().strip());
        }
        return r.output();
    }

    public Result execute() {
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            p.getOutputStream().close();
            // Read while it runs: a command that fills the pipe would otherwise never exit.
            CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return e.toString();
                }
            }, Thread::startVirtualThread);
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                return new Result(-1, "timed out after " + timeout);
            }
            return new Result(p.exitValue(), output.get(5, TimeUnit.SECONDS));
        } catch (IOException | ExecutionException | TimeoutException e) {
            return new Result(-1, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, "interrupted");
        }
    }

    /** Whether a program can be found on the PATH (without running it). */
    public static boolean onPath(String program) {
        String path = System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        for (String dir : path.split(":")) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }
}
