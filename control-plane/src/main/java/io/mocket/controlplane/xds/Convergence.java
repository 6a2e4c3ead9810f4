package io.mocket.controlplane.xds;

import io.micrometer.core.instrument.Timer;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Convergence time of one resource type: from the first source event of a commit to the moment the
 * last connected subscriber of the type has that commit's generation (ACKed, or needed nothing from
 * it). Thread safe; every method is short and never blocks on I/O.
 *
 * <p>Each subscription has a position: the newest generation it is known to hold. Positions are kept
 * as a counted multiset, so the slowest subscriber is the first key and an update costs O(log n)
 * whatever the number of clients. A commit waits in {@code pending} until the slowest position
 * reaches it; subscribers that disconnect leave the multiset and so stop holding it back.
 */
final class Convergence {
    /** Commits waiting for a stuck client (one that NACKs and gets no further change) are dropped past this. */
    static final int MAX_PENDING = 1024;

    private final Timer timer;
    private final LongSupplier clock;
    private final TreeMap<Long, Integer> positions = new TreeMap<>();
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();

    private static final class Pending {
        final long generation;
        final long firstEventNanos;
        long passedNanos; // when the last subscriber that had to move past it did; 0 while none has

        Pending(long generation, long firstEventNanos) {
            this.generation = generation;
            this.firstEventNanos = firstEventNanos;
        }
    }

    Convergence(Timer timer, LongSupplier clock) {
        this.timer = timer;
        this.clock = clock;
    }

    /** A subscription starts; it does not hold back commits up to {@code generation}. */
    synchronized void join(long generation) {
        positions.merge(generation, 1, Integer::sum);
    }

    /** A subscription now holds everything up to {@code to}. */
    synchronized void move(long from, long to) {
        if (to <= from) {
            return;
        }
        drop(from);
        positions.merge(to, 1, Integer::sum);
        long now = clock.getAsLong();
        for (Pending p : pending) {
            if (p.generation > from && p.generation <= to) {
                p.passedNanos = now;
            }
        }
        release();
    }

    /** A subscription ends (client gone); it no longer holds anything back. */
    synchronized void leave(long generation) {
        drop(generation);
        release();
    }

    /**
     * A commit touched this type. With no subscriber there is nobody to converge and nothing is recorded;
     * a zero {@code firstEventNanos} means the source did not stamp the commit.
     */
    synchronized void committed(long generation, long firstEventNanos) {
        if (positions.isEmpty() || firstEventNanos == 0) {
            return;
        }
        Pending p = new Pending(generation, firstEventNanos);
        if (positions.firstKey() >= generation) {
            // Commits are announced after their snapshot is visible, so a subscriber can be past it already.
            p.passedNanos = clock.getAsLong();
        }
        // Listeners of concurrent commits may run out of order: keep the queue sorted by generation.
        ArrayDeque<Pending> later = new ArrayDeque<>();
        while (!pending.isEmpty() && pending.peekLast().generation > generation) {
            later.addFirst(pending.removeLast());
        }
        pending.addLast(p);
        pending.addAll(later);
        if (pending.size() > MAX_PENDING) {
            pending.removeFirst();
        }
        release();
    }

    /** Number of commits still waiting for a subscriber (for tests and debugging). */
    synchronized int pendingCount() {
        return pending.size();
    }

    private void drop(long generation) {
        positions.computeIfPresent(generation, (g, n) -> n == 1 ? null : n - 1);
    }

    private void release() {
        long slowest = positions.isEmpty() ? Long.MAX_VALUE : positions.firstKey();
        Iterator<Pending> it = pending.iterator();
        while (it.hasNext()) {
            Pending p = it.next();
            if (p.generation > slowest) {
                break;
            }
            it.remove();
            if (p.passedNanos != 0) {
                timer.record(Math.max(0, p.passedNanos - p.firstEventNanos), TimeUnit.NANOSECONDS);
            }
        }
    }
}
