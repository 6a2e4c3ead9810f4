package io.mocket.agent;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Gives back the memory a large xDS push needed only while it was decoded and applied. Decoding 10,000 workloads
 * grows the heap to its maximum, and neither the serial collector nor glibc return what they grew by unless
 * asked. Once a large push is in the kernel and no other came for {@link #QUIET}, one full collection lets the
 * heap shrink to the live set plus {@code -XX:MaxHeapFreeRatio}, and {@code malloc_trim} returns the C heap's
 * free pages. A full collection of the agent's heap takes tens of milliseconds on the agent's own threads; the
 * data path is the kernel's and does not wait for it.
 */
final class MemoryRelease {
    private static final System.Logger log = System.getLogger(MemoryRelease.class.getName());

    /** A push of at least this many resources counts as large (a full sync of a small mesh is below it). */
    static final int LARGE_PUSH_RESOURCES = 1_000;
    /** How long after the last large push the memory is released: pushes in a burst release once. */
    static final Duration QUIET = Duration.ofSeconds(2);
    /** At most one release in this time: a mesh that sends large pushes all the time pays one full GC a minute. */
    static final Duration MIN_INTERVAL = Duration.ofSeconds(60);

    private final ScheduledExecutorService executor;
    private final Optional<NativeHeap> nativeHeap;
    private final Duration quiet;
    private final Duration minInterval;
    private ScheduledFuture<?> pending;
    private long releases;
    private long lastReleaseNanos;

    MemoryRelease(ScheduledExecutorService executor, Optional<NativeHeap> nativeHeap) {
        this(executor, nativeHeap, QUIET, MIN_INTERVAL);
    }

    MemoryRelease(ScheduledExecutorService executor, Optional<NativeHeap> nativeHeap, Duration quiet,
                  Duration minInterval) {
        this.executor = Objects.requireNonNull(executor, "executor");
        this.nativeHeap = Objects.requireNonNull(nativeHeap, "nativeHeap");
        this.quiet = Objects.requireNonNull(quiet, "quiet");
        this.minInterval = Objects.requireNonNull(minInterval, "minInterval");
    }

    /** Told after each xDS response is in the kernel; a large one (re)starts the quiet period. */
    void pushApplied(int resources) {
        if (resources >= LARGE_PUSH_RESOURCES) {
            schedule(quiet);
        }
    }

    /** Returns the C heap's free pages now (after loading the BPF objects: libbpf freed the parsed kernel BTF). */
    void trimNativeHeap() {
        nativeHeap.ifPresent(NativeHeap::trim);
    }

    /** How many times memory was released after a large push. */
    synchronized long releases() {
        return releases;
    }

    private synchronized void schedule(Duration delay) {
        if (pending != null) {
            pending.cancel(false);
        }
        long delayNanos = delay.toNanos();
        if (releases > 0) {
            delayNanos = Math.max(delayNanos, lastReleaseNanos + minInterval.toNanos() - System.nanoTime());
        }
        try {
            pending = executor.schedule(this::release, delayNanos, TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            pending = null; // the agent is stopping
        }
    }

    private void release() {
        long start = System.nanoTime();
        Runtime rt = Runtime.getRuntime();
        long committedBefore = rt.totalMemory();
        System.gc();
        boolean trimmed = nativeHeap.map(NativeHeap::trim).orElse(false);
        synchronized (this) {
            releases++;
            lastReleaseNanos = System.nanoTime();
        }
        log.log(System.Logger.Level.DEBUG, "after a large push: heap committed {0} -> {1} KiB, C heap trimmed: {2},"
                + " {3} ms", committedBefore >> 10, rt.totalMemory() >> 10, trimmed,
                (System.nanoTime() - start) / 1_000_000);
    }
}
