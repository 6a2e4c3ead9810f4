package io.mocket.agent;

import static org.junit.jupiter.api.Assertions.fail;

import io.mocket.bpf.BpfMap;
import io.mocket.bpf.Libbpf;
import io.mocket.bpf.LoadBalancerMaps;
import io.mocket.bpf.SocketLoadBalancer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A private bpffs and cgroup2 for one kernel test class, named {@code mkagt<random>} under the temp
 * directory: pins and attachments live only there, and the agent's cgroup has no processes, so nothing
 * on the machine is balanced by what the tests load. No network namespace and no traffic: these tests
 * check what the agent writes into the maps. Everything is removed on close, by a shutdown hook if the
 * JVM is stopped, and by the next run if one was killed.
 */
final class KernelSandbox implements AutoCloseable {

    static final String PREFIX = "mkagt";
    private static final Duration STALE = Duration.ofHours(1);

    final String id;
    final Path workDir;
    final Path bpffs;
    final Path cgroupMount;
    final Path cgroup;
    private final Thread shutdownHook;
    private boolean closed;

    private KernelSandbox() {
        byte[] random = new byte[3];
        new SecureRandom().nextBytes(random);
        id = PREFIX + HexFormat.of().formatHex(random);
        workDir = Path.of(System.getProperty("java.io.tmpdir")).resolve(id);
        bpffs = workDir.resolve("bpffs");
        cgroupMount = workDir.resolve("cgroup2");
        cgroup = cgroupMount.resolve(id);
        shutdownHook = new Thread(this::cleanup, id + "-cleanup");
    }

    static KernelSandbox create() {
        requireRoot();
        removeStale();
        KernelSandbox s = new KernelSandbox();
        Runtime.getRuntime().addShutdownHook(s.shutdownHook);
        try {
            Files.createDirectories(s.bpffs);
            Files.createDirectories(s.cgroupMount);
            run("mount", "-t", "bpf", "bpf", s.bpffs.toString());
            run("mount", "-t", "cgroup2", "none", s.cgroupMount.toString());
            run("mkdir", s.cgroup.toString());
        } catch (IOException e) {
            s.close();
            throw new UncheckedIOException(e);
        } catch (RuntimeException | Error e) {
            s.close();
            throw e;
        }
        return s;
    }

    /**
     * Creates the load balancer maps that have a capacity with the layouts this build expects but small capacities, and pins
     * them in {@code pinDir} (a full map is then a few entries away).
     */
    static void pinSmallMaps(Path pinDir, Map<String, Integer> maxEntries) {
        try {
            Files.createDirectories(pinDir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Libbpf libbpf = Libbpf.load();
        Linker linker = Linker.nativeLinker();
        SymbolLookup lib = SymbolLookup.libraryLookup(Libbpf.LIBRARY, Arena.global());
        MethodHandle create = linker.downcallHandle(lib.find("bpf_map_create").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
        MethodHandle close = linker.downcallHandle(linker.defaultLookup().find("close").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        for (LoadBalancerMaps.MapSpec spec : LoadBalancerMaps.SPECS) {
            if (spec.mapType() == BpfMap.TYPE_SK_STORAGE) {
                continue; // socket storage has no capacity and needs BTF: the load creates it
            }
            try (Arena arena = Arena.ofConfined()) {
                int fd = (int) create.invokeExact(spec.mapType(), arena.allocateFrom(spec.mapName(), StandardCharsets.UTF_8),
                        (int) spec.key().byteSize(), (int) spec.value().byteSize(),
                        (int) maxEntries.getOrDefault(spec.mapName(), 64), MemorySegment.NULL);
                if (fd < 0) {
                    fail("bpf_map_create " + spec.mapName() + " failed: " + fd);
                }
                try {
                    libbpf.objPin(fd, pinDir.resolve(spec.mapName()).toString());
                } finally {
                    int ignored = (int) close.invokeExact(fd);
                }
            } catch (Throwable t) {
                throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
            }
        }
        // Socket storage has no capacity to shrink and needs BTF: take the one a full load creates elsewhere.
        Path scratch = pinDir.resolveSibling(pinDir.getFileName() + "-scratch");
        try {
            SocketLoadBalancer.load(libbpf, scratch).close();
            int fd = libbpf.objGet(scratch.resolve(LoadBalancerMaps.SOCKET).toString());
            try {
                libbpf.objPin(fd, pinDir.resolve(LoadBalancerMaps.SOCKET).toString());
            } finally {
                int ignored = (int) close.invokeExact(fd);
            }
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        } finally {
            SocketLoadBalancer.remove(libbpf, scratch);
        }
    }

    @Override
    public void close() {
        cleanup();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // shutting down: the hook runs
        }
    }

    private synchronized void cleanup() {
        if (closed) {
            return;
        }
        closed = true;
        removeAll(id, workDir);
    }

    /** Unmounting bpffs drops every pin (links detach, maps are freed); then the cgroup and the directories go. */
    private static void removeAll(String id, Path workDir) {
        runQuietly("umount", workDir.resolve("bpffs").toString());
        Path cgroup = workDir.resolve("cgroup2").resolve(id);
        for (int i = 0; i < 50 && Files.exists(cgroup); i++) {
            runQuietly("rmdir", cgroup.toString());
            if (Files.exists(cgroup)) {
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        runQuietly("umount", workDir.resolve("cgroup2").toString());
        if (Files.isDirectory(workDir)) {
            try (Stream<Path> files = Files.walk(workDir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    // Never recurse into a mount that is still there: only plain files and empty directories go.
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

    private static void removeStale() {
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
    }

    private static void requireRoot() {
        try {
            String uid = Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:")).findFirst().orElse("Uid: -1").split("\\s+")[1];
            if (!uid.equals("0")) {
                fail("the agent's kernel tests need root (uid 0, got " + uid + "): they mount bpffs and cgroup2 and"
                        + " load BPF programs. Run the build as root (CI does).");
            }
        } catch (IOException e) {
            fail("cannot read /proc/self/status: kernel tests need Linux with /proc");
        }
    }

    static String run(String... cmd) {
        String[] result = exec(cmd);
        if (!result[0].equals("0")) {
            fail(String.join(" ", cmd) + " exited " + result[0] + ": " + result[1]);
        }
        return result[1];
    }

    static String runQuietly(String... cmd) {
        return exec(cmd)[1];
    }

    private static String[] exec(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getOutputStream().close();
            // Read while it runs: an output larger than the pipe would otherwise block it until the timeout.
            java.util.concurrent.CompletableFuture<byte[]> out = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return p.getInputStream().readAllBytes();
                } catch (IOException e) {
                    return e.toString().getBytes(StandardCharsets.UTF_8);
                }
            });
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new String[]{"-1", "timed out"};
            }
            return new String[]{Integer.toString(p.exitValue()),
                    new String(out.get(5, TimeUnit.SECONDS), StandardCharsets.UTF_8)};
        } catch (IOException | java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            return new String[]{"-1", e.toString()};
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new String[]{"-1", "interrupted"};
        }
    }
}
