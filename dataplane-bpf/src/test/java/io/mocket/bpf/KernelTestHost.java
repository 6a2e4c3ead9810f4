package io.mocket.bpf;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The private world of one kernel test class: a bpffs mount for pins, a cgroup2 mount with one test
 * cgroup, and optionally two network namespaces (client, server) joined by a veth pair, all named
 * {@code mkbpf<random>}. The client namespace has only its link route: a packet that escapes the BPF
 * rewrite has nowhere to go. Everything is removed on close, by a shutdown hook if the JVM is stopped,
 * and by the next run if the JVM was killed.
 *
 * <p>Addresses: client 192.0.2.1, 2001:db8:1::1; server (two backends) 192.0.2.2, 192.0.2.3,
 * 2001:db8:1::2, 2001:db8:1::3. VIPs live in 198.51.100.0/24 and 2001:db8:100::/64, routed nowhere.
 */
final class KernelTestHost implements AutoCloseable {

    static final String PREFIX = "mkbpf";
    private static final Duration STALE = Duration.ofHours(1);

    final String id;
    final Path workDir;
    final Path bpffs;
    final Path cgroupMount;
    final Path cgroup;
    final String clientNs;
    final String serverNs;
    private final boolean network;
    private final List<Probe> probes = new ArrayList<>();
    private final Thread shutdownHook;
    private boolean closed;

    private KernelTestHost(boolean network) {
        this.network = network;
        byte[] random = new byte[3];
        new SecureRandom().nextBytes(random);
        this.id = PREFIX + HexFormat.of().formatHex(random);
        this.workDir = Path.of(System.getProperty("java.io.tmpdir")).resolve(id);
        this.bpffs = workDir.resolve("bpffs");
        this.cgroupMount = workDir.resolve("cgroup2");
        this.cgroup = cgroupMount.resolve(id);
        this.clientNs = id + "-c";
        this.serverNs = id + "-s";
        this.shutdownHook = new Thread(this::cleanup, id + "-cleanup");
    }

    /** Creates the mounts (and the namespaces if {@code network}); fails the test with the reason if it cannot. */
    static KernelTestHost create(boolean network) {
        requireRoot();
        removeStaleLeftovers();
        KernelTestHost host = new KernelTestHost(network);
        Runtime.getRuntime().addShutdownHook(host.shutdownHook);
        try {
            host.setUp();
        } catch (RuntimeException | Error e) {
            host.close();
            throw e;
        }
        return host;
    }

    private void setUp() {
        try {
            Files.createDirectories(bpffs);
            Files.createDirectories(cgroupMount);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        run("mount", "-t", "bpf", "bpf", bpffs.toString());
        run("mount", "-t", "cgroup2", "none", cgroupMount.toString());
        run("mkdir", cgroup.toString());
        if (!network) {
            return;
        }
        run("ip", "netns", "add", clientNs);
        run("ip", "netns", "add", serverNs);
        run("ip", "link", "add", "name", id + "c", "netns", clientNs, "type", "veth",
                "peer", "name", id + "s", "netns", serverNs);
        for (String ns : List.of(clientNs, serverNs)) {
            run("ip", "-n", ns, "link", "set", "lo", "up");
        }
        run("ip", "-n", clientNs, "addr", "add", "192.0.2.1/24", "dev", id + "c");
        run("ip", "-n", clientNs, "addr", "add", "2001:db8:1::1/64", "dev", id + "c", "nodad");
        run("ip", "-n", clientNs, "link", "set", id + "c", "up");
        for (String a : List.of("192.0.2.2/24", "192.0.2.3/24")) {
            run("ip", "-n", serverNs, "addr", "add", a, "dev", id + "s");
        }
        for (String a : List.of("2001:db8:1::2/64", "2001:db8:1::3/64")) {
            run("ip", "-n", serverNs, "addr", "add", a, "dev", id + "s", "nodad");
        }
        run("ip", "-n", serverNs, "link", "set", id + "s", "up");
    }

    /** A client process in the client namespace and the test cgroup (so the programs apply to it). */
    Probe startClient() {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", clientNs, "sh", "-c",
                "echo $$ > '" + cgroup.resolve("cgroup.procs") + "' && exec \"$@\"", "probe"));
        cmd.addAll(probeJvm(java));
        return start("client", cmd);
    }

    /** A server process in the server namespace, outside the test cgroup. */
    Probe startServer() {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", serverNs));
        cmd.addAll(probeJvm(java));
        return start("server", cmd);
    }

    private static List<String> probeJvm(String java) {
        String classes = System.getProperty("mocket.bpf.testClasses", "target/test-classes");
        return List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx64m", "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1", "-cp", classes + ":" + classes.replace("test-classes", "classes"),
                SocketProbe.class.getName());
    }

    private Probe start(String name, List<String> cmd) {
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .redirectError(workDir.resolve(name + ".stderr").toFile());
            Probe probe = new Probe(name, pb.start(), workDir.resolve(name + ".stderr"));
            probes.add(probe);
            probe.awaitReady();
            return probe;
        } catch (IOException e) {
            throw new UncheckedIOException("starting probe " + cmd, e);
        }
    }

    /** One probe process: a command per line in, an answer per line out, every wait bounded. */
    static final class Probe implements AutoCloseable {
        private final String name;
        private final Process process;
        private final Path stderr;
        private final Writer stdin;
        private final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();

        Probe(String name, Process process, Path stderr) {
            this.name = name;
            this.process = process;
            this.stderr = stderr;
            this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            Thread.ofPlatform().daemon().name("probe-" + name).start(() -> {
                try (BufferedReader r = new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        lines.add(l);
                    }
                } catch (IOException e) {
                    // process gone
                }
            });
        }

        void awaitReady() {
            String first = poll(Duration.ofSeconds(30));
            if (!"ready".equals(first)) {
                fail("probe " + name + " did not start: " + first + "\n" + stderrTail());
            }
        }

        /** Sends a command and returns the answer line. */
        String call(String command) {
            return call(command, Duration.ofSeconds(30));
        }

        String call(String command, Duration timeout) {
            try {
                stdin.write(command + "\n");
                stdin.flush();
            } catch (IOException e) {
                fail("probe " + name + " is gone: " + stderrTail());
            }
            String answer = poll(timeout);
            if (answer == null) {
                fail("probe " + name + " did not answer '" + command + "' within " + timeout + "\n" + stderrTail());
            }
            return answer;
        }

        private String poll(Duration timeout) {
            try {
                return lines.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }

        private String stderrTail() {
            try {
                List<String> all = Files.readAllLines(stderr);
                return String.join("\n", all.subList(Math.max(0, all.size() - 20), all.size()));
            } catch (IOException e) {
                return "(no stderr)";
            }
        }

        @Override
        public void close() {
            try {
                stdin.close();
            } catch (IOException e) {
                // already closed
            }
            try {
                if (!process.waitFor(3, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Removes everything this host created; safe to call twice. */
    @Override
    public void close() {
        cleanup();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down and runs the hook
        }
    }

    private synchronized void cleanup() {
        if (closed) {
            return;
        }
        closed = true;
        probes.forEach(Probe::close);
        removeAll(id, workDir);
    }

    /** Best-effort removal of everything named after {@code id}; used for this host and for stale ones. */
    private static void removeAll(String id, Path workDir) {
        Path cgroupMount = workDir.resolve("cgroup2");
        Path cgroup = cgroupMount.resolve(id);
        // Processes left in the test cgroup (a killed run) go first: a cgroup with members cannot be removed.
        if (Files.exists(cgroup.resolve("cgroup.procs"))) {
            try {
                for (String pid : Files.readAllLines(cgroup.resolve("cgroup.procs"))) {
                    runQuietly("kill", "-9", pid.trim());
                }
            } catch (IOException e) {
                // gone meanwhile
            }
        }
        // Unmounting bpffs drops every pin: links are detached and maps freed once no fd holds them.
        runQuietly("umount", workDir.resolve("bpffs").toString());
        for (int i = 0; i < 50 && Files.exists(cgroup); i++) {
            runQuietly("rmdir", cgroup.toString());
            if (Files.exists(cgroup)) {
                sleep(100);
            }
        }
        runQuietly("umount", cgroupMount.toString());
        runQuietly("ip", "netns", "del", id + "-c");
        runQuietly("ip", "netns", "del", id + "-s");
        if (Files.isDirectory(workDir)) {
            try (Stream<Path> files = Files.walk(workDir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    // Never recurse into a mount that is still there: only plain files and empty dirs go.
                    if (Files.isDirectory(p)) {
                        runQuietly("rmdir", p.toString());
                    } else {
                        Files.deleteIfExists(p);
                    }
                }
            } catch (IOException e) {
                // left for the next run's stale cleanup
            }
        }
    }

    /** Removes hosts of earlier runs that were killed before they could clean up. */
    private static void removeStaleLeftovers() {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        try (Stream<Path> dirs = Files.list(tmp)) {
            Instant cutoff = Instant.now().minus(STALE);
            for (Path dir : dirs.filter(p -> p.getFileName().toString().matches(PREFIX + "[0-9a-f]{6}")).toList()) {
                FileTime modified = Files.getLastModifiedTime(dir);
                if (modified.toInstant().isBefore(cutoff)) {
                    removeAll(dir.getFileName().toString(), dir);
                }
            }
        } catch (IOException e) {
            // nothing to clean
        }
        // A namespace whose work directory is gone belongs to no live run.
        for (String line : runQuietly("ip", "netns", "list").split("\n")) {
            String ns = line.split(" ")[0];
            if (ns.matches(PREFIX + "[0-9a-f]{6}-[cs]") && !Files.exists(tmp.resolve(ns.substring(0, ns.length() - 2)))) {
                runQuietly("ip", "netns", "del", ns);
            }
        }
    }

    private static void requireRoot() {
        try {
            String uid = Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:")).findFirst().orElse("Uid: -1").split("\\s+")[1];
            if (!uid.equals("0")) {
                fail("kernel tests need root (uid 0, got " + uid + "): they mount bpffs and cgroup2, create network"
                        + " namespaces and load BPF programs. Run the build as root (CI does).");
            }
        } catch (IOException e) {
            fail("cannot read /proc/self/status: kernel tests need Linux with /proc");
        }
        if (runQuietly("ip", "-V").isEmpty()) {
            fail("the 'ip' command is missing: apt-get install iproute2");
        }
    }

    /** Runs a command, failing the test with its output if it does not exit 0 within 20 s. */
    static String run(String... cmd) {
        Result r = exec(cmd);
        if (r.exit != 0) {
            fail(String.join(" ", cmd) + " exited " + r.exit + ": " + r.output);
        }
        return r.output;
    }

    static String runQuietly(String... cmd) {
        return exec(cmd).output;
    }

    private record Result(int exit, String output) {
    }

    private static Result exec(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getOutputStream().close();
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(-1, "timed out");
            }
            return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new Result(-1, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, "interrupted");
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
