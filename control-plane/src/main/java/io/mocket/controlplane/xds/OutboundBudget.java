package io.mocket.controlplane.xds;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bounds the bytes of large responses (full states) that have been handed to the transport and are not
 * yet written to the socket, over all streams. A response, once handed over, sits in the transport's
 * buffers until the client reads it; when a thousand clients connect at once and each is owed the full
 * state, those buffers would otherwise hold every full state at the same time (a thousand times the
 * cluster's serialized size). Small responses (single changes) never wait here.
 *
 * <p>A stream holds budget for its large response until its call is ready again (the transport took the
 * bytes), or until it is gone. A stream that finds no room parks its response and waits in line; each
 * release wakes the next waiting stream. A response larger than the whole budget is sent when nothing
 * else is in flight, so nothing waits forever. Thread safe.
 */
final class OutboundBudget {
    /** Default bytes in flight: 32 full states of a 10,000-pod cluster. */
    static final long DEFAULT_LIMIT_BYTES = 128L << 20;
    /** Default size from which a response counts: a single-pod change is about 0.5 KiB, a full state MiBs. */
    static final int DEFAULT_LARGE_BYTES = 64 << 10;

    private final long limitBytes;
    private final int largeBytes;
    private final AtomicLong inFlight = new AtomicLong();
    private final ConcurrentLinkedQueue<AdsStream<?, ?, ?>> waiting = new ConcurrentLinkedQueue<>();

    OutboundBudget(long limitBytes, int largeBytes) {
        if (limitBytes <= 0 || largeBytes <= 0) {
            throw new IllegalArgumentException("outbound budget needs a positive limit and large-response size, got "
                    + limitBytes + " and " + largeBytes);
        }
        this.limitBytes = limitBytes;
        this.largeBytes = largeBytes;
    }

    /** True when a response of {@code size} bytes must hold budget while it is in flight. */
    boolean counts(int size) {
        return size >= largeBytes;
    }

    /** Takes {@code size} bytes of budget if they fit (or if nothing is in flight). */
    boolean tryAcquire(int size) {
        while (true) {
            long cur = inFlight.get();
            if (!fits(cur, size)) {
                return false;
            }
            if (inFlight.compareAndSet(cur, cur + size)) {
                if (cur + size < limitBytes) {
                    wakeNext(); // room left: let the next one in line try as well
                }
                return true;
            }
        }
    }

    /** Gives back what {@link #tryAcquire} took and wakes the next waiting stream. */
    void release(int size) {
        inFlight.addAndGet(-size);
        wakeNext();
    }

    /**
     * {@code stream} found no room for {@code size} bytes: it is scheduled again after a release. Checks
     * once more after queueing, so a release that happened in between is not missed.
     */
    void await(AdsStream<?, ?, ?> stream, int size) {
        if (stream.awaitingBudget.compareAndSet(false, true)) {
            waiting.add(stream);
        }
        if (fits(inFlight.get(), size)) {
            wakeNext();
        }
    }

    /** Schedules the first waiting stream that is still open. */
    void wakeNext() {
        for (AdsStream<?, ?, ?> s; (s = waiting.poll()) != null; ) {
            s.awaitingBudget.set(false);
            if (!s.isGone()) {
                s.schedule();
                return;
            }
        }
    }

    /** Bytes of large responses in flight now (for tests and debugging). */
    long inFlight() {
        return inFlight.get();
    }

    private boolean fits(long cur, int size) {
        return cur == 0 || cur + size <= limitBytes;
    }
}
