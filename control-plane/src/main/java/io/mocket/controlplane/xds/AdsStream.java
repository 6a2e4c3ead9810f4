package io.mocket.controlplane.xds;

import com.google.protobuf.Message;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.mocket.controlplane.resources.Commit;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.Snapshot;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One ADS stream: applies the client's requests and sends responses, one type at a time.
 *
 * <p>Threading: state changes only under {@link #lock}. Requests arrive on the transport's threads
 * (the server's event loops), which must never wait: when the lock is free a request is applied at once,
 * and a plain ACK that leaves nothing to send ends there, without a drain; when a drain holds the lock the
 * request is queued and that drain applies it. Everything that writes to the call (responses, the final
 * status) runs in {@link #drain}, one drain at a time per stream, on the push executor (or inline on a
 * push thread running the commit fan-out, see {@link #drainHere}). A drain sends only while the call is
 * ready: when the transport backs up, changes pile up as a newer current snapshot, and the drain run by
 * the next on-ready signal sends one combined response per type from the snapshot last sent.
 */
abstract sealed class AdsStream<Q extends Message, R, S extends Subscription>
        permits DeltaStream, SotwStream {
    private static final Logger log = LoggerFactory.getLogger(AdsStream.class);

    final long id;
    final XdsProtocol protocol;
    final String peer;
    final Instant connectedAt;
    final AdsService service;
    private final ServerCallStreamObserver<R> call;
    final Map<ResourceType, S> subscriptions = new EnumMap<>(ResourceType.class);

    private final ReentrantLock lock = new ReentrantLock();
    /** Requests that found the lock taken, in arrival order; applied before anything else under the lock. */
    private final ConcurrentLinkedQueue<Q> queued = new ConcurrentLinkedQueue<>();
    private final AtomicInteger wip = new AtomicInteger();
    /** Bit per subscribed type (ordinal), read without the lock by the commit fan-out. */
    private volatile int subscribedTypes;
    private String nodeId = "";
    private boolean sawFirstRequest;
    private long seq;
    private Status terminal;
    private boolean closed;
    /** Set with {@link #closed}, readable without the lock by the {@link OutboundBudget}'s queue. */
    private volatile boolean gone;
    /** A large response computed while the outbound budget had no room; sent before anything newer. */
    private R parked;
    /** Bytes of outbound budget this stream holds for a large response still in the transport's buffers. */
    private int budgetHeld;
    /** In the budget's line; at most once, so that every wake-up goes to a stream that waits. */
    final AtomicBoolean awaitingBudget = new AtomicBoolean();

    AdsStream(long id, XdsProtocol protocol, String peer, AdsService service, ServerCallStreamObserver<R> call) {
        this.id = id;
        this.protocol = protocol;
        this.peer = peer;
        this.connectedAt = Instant.now();
        this.service = service;
        this.call = call;
    }

    /**
     * Applies one client request; invalid requests end the stream with INVALID_ARGUMENT. Never waits for
     * the lock: when a drain holds it, the request is queued for that drain.
     */
    final void onRequest(Q request) {
        if (!lock.tryLock()) {
            queued.add(request);
            schedule();
            return;
        }
        boolean drain;
        try {
            // Earlier requests queued while a drain held the lock go first: requests apply in order.
            applyQueued();
            apply(request);
            drain = needsDrain();
        } finally {
            lock.unlock();
        }
        if (drain) {
            schedule();
        }
    }

    private void applyQueued() {
        for (Q q; (q = queued.poll()) != null; ) {
            apply(q);
        }
    }

    private void apply(Q request) {
        if (closed || terminal != null) {
            return;
        }
        if (!sawFirstRequest) {
            sawFirstRequest = true;
            nodeId = nodeIdOf(request);
            log.info("xDS {} stream {} opened by node '{}' from {}", protocol.tag(), id, nodeId, peer);
        }
        try {
            ResourceType type = service.typeOf(typeUrlOf(request));
            S sub = subscriptions.get(type);
            boolean first = sub == null;
            if (first) {
                long position = service.store().current().generation();
                sub = newSubscription(type, position);
                subscriptions.put(type, sub);
                subscribedTypes |= 1 << type.ordinal();
                service.metrics().subscribed(protocol, type);
                service.metrics().convergence(type).join(position);
            }
            apply(sub, request, first);
        } catch (StatusRuntimeException e) {
            terminal = e.getStatus();
            log.warn("xDS {} stream {} of node '{}' from {} rejected: {}", protocol.tag(), id, nodeId, peer,
                    e.getStatus().getDescription());
        }
    }

    /**
     * False when a drain would find nothing to do: every type was computed from the current snapshot and
     * no request waits for an answer (the common case after an ACK). Runs under the lock.
     */
    private boolean needsDrain() {
        if (closed) {
            return false;
        }
        if (terminal != null) {
            return true;
        }
        if (parked != null) {
            return false; // waits for outbound budget; a release schedules it
        }
        long generation = service.store().current().generation();
        for (S sub : subscriptions.values()) {
            if (sub.sent == null || sub.sent.generation() != generation || owesResponse(sub)) {
                return true;
            }
        }
        return false;
    }

    /** The client half-closed: finish the call once the responses its requests are owed are out. */
    final void onClientCompleted() {
        end(Status.OK);
    }

    /** Ends the stream from the server side with {@code status} (shutdown, invalid request). */
    final void end(Status status) {
        lock.lock();
        try {
            // An error outranks a pending half-close: a failing push must not be retried forever.
            if (terminal == null || (terminal.isOk() && !status.isOk())) {
                terminal = status;
            }
        } finally {
            lock.unlock();
        }
        schedule();
    }

    /** The call is gone (client cancel, disconnect, or our own close): release everything it held. */
    final void onGone() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            gone = true;
            OutboundBudget budget = service.outboundBudget();
            if (budgetHeld > 0) {
                budget.release(budgetHeld);
                budgetHeld = 0;
            } else if (parked != null) {
                budget.wakeNext(); // it may have been woken for room it will not use
            }
            parked = null;
            for (S sub : subscriptions.values()) {
                service.metrics().unsubscribed(protocol, sub.type);
                service.metrics().convergence(sub.type).leave(sub.position);
            }
            subscriptions.clear();
            subscribedTypes = 0;
            queued.clear();
        } finally {
            lock.unlock();
        }
        service.removed(this);
        log.info("xDS {} stream {} of node '{}' from {} closed", protocol.tag(), id, nodeId, peer);
    }

    /** True when the commit changed a type this stream subscribes to. */
    final boolean interestedIn(Commit commit) {
        int types = subscribedTypes;
        for (ResourceType t : ResourceType.values()) {
            if ((types & (1 << t.ordinal())) != 0 && commit.touches(t)) {
                return true;
            }
        }
        return false;
    }

    /** Makes sure a drain runs after this call; many calls while one is pending cost one drain. */
    final void schedule() {
        if (wip.getAndIncrement() == 0) {
            try {
                service.executor().execute(this::drain);
            } catch (RejectedExecutionException e) {
                // Only when the executor is shut down, i.e. the server is stopping: nothing more will be sent.
                log.debug("xDS stream {}: push executor rejected the drain", id, e);
            }
        }
    }

    /**
     * Runs a drain on the calling thread, unless one is running or pending elsewhere (which then sees
     * everything this call would). For the commit fan-out, which already runs on a push thread: one task
     * per batch of streams instead of one per stream.
     */
    final void drainHere() {
        if (wip.getAndIncrement() == 0) {
            drain();
        }
    }

    /** Runs {@code action} holding the stream's lock, as a drain does (for tests of the request queue). */
    final void whileLocked(Runnable action) {
        lock.lock();
        try {
            action.run();
        } finally {
            lock.unlock();
        }
    }

    /** Requests waiting for the lock (for tests of the request queue). */
    final int queuedRequests() {
        return queued.size();
    }

    /** True once the stream is gone; read without the lock. */
    final boolean isGone() {
        return gone;
    }

    final XdsClientStatus status() {
        lock.lock();
        try {
            List<XdsTypeStatus> types = new ArrayList<>();
            for (S sub : subscriptions.values()) {
                types.add(sub.status());
            }
            return new XdsClientStatus(id, nodeId, peer, connectedAt, protocol, types);
        } finally {
            lock.unlock();
        }
    }

    final String nodeId() {
        lock.lock();
        try {
            return nodeId;
        } finally {
            lock.unlock();
        }
    }

    private void drain() {
        int missed = 1;
        while (true) {
            try {
                pump();
            } catch (RuntimeException e) {
                log.error("xDS {} stream {} of node '{}': push failed, closing the stream", protocol.tag(), id,
                        nodeId(), e);
                end(Status.INTERNAL.withDescription("control plane failed to compute a push: " + e));
            }
            missed = wip.addAndGet(-missed);
            if (missed == 0) {
                return;
            }
        }
    }

    private void pump() {
        while (true) {
            R response = null;
            Status end = null;
            lock.lock();
            try {
                applyQueued();
                if (closed) {
                    return;
                }
                if (terminal != null && !terminal.isOk()) {
                    end = terminal;
                } else if (!call.isReady()) {
                    return; // the on-ready handler schedules the next drain
                } else {
                    OutboundBudget budget = service.outboundBudget();
                    if (budgetHeld > 0) {
                        // Ready again: the transport has taken the large response's bytes.
                        budget.release(budgetHeld);
                        budgetHeld = 0;
                    }
                    response = parked != null ? parked : next(service.store().current());
                    parked = null;
                    if (response == null) {
                        if (terminal == null) {
                            return;
                        }
                        // The client half-closed (grpcurl, buf curl): answer what it asked, then finish.
                        end = terminal;
                    } else {
                        int size = sizeOf(response);
                        if (budget.counts(size)) {
                            if (!budget.tryAcquire(size)) {
                                parked = response;
                                budget.await(this, size);
                                return;
                            }
                            budgetHeld = size;
                        }
                    }
                }
            } finally {
                lock.unlock();
            }
            if (end != null) {
                try {
                    if (end.isOk()) {
                        call.onCompleted();
                    } else {
                        call.onError(end.asRuntimeException());
                    }
                } catch (IllegalStateException | StatusRuntimeException e) {
                    log.debug("xDS stream {} already finished", id, e);
                }
                onGone();
                return;
            }
            try {
                call.onNext(response);
            } catch (IllegalStateException | StatusRuntimeException e) {
                onGone();
                return;
            }
        }
    }

    /**
     * The next response of any subscribed type that has something to send, computed from {@code cur};
     * null when no type has. Runs under the lock.
     */
    private R next(Snapshot cur) {
        for (S sub : subscriptions.values()) {
            if (sub.sent != null && sub.sent.generation() == cur.generation() && !owesResponse(sub)) {
                continue;
            }
            R response = next(sub, cur, () -> seq++);
            if (response != null) {
                service.metrics().pushed(sub.type, sizeOf(response));
                if (log.isDebugEnabled()) {
                    log.debug("xDS {} push to node '{}': {} generation {} nonce {}", protocol.tag(), nodeId,
                            sub.type.typeUrl(), cur.generation(), sub.sentNonce());
                }
                return response;
            }
            if (sub.settled()) {
                moveTo(sub, sub.sent.generation());
            }
        }
        return null;
    }

    /** Records the client's answer (ACK or NACK) to one of our responses. Runs under the lock. */
    final void answered(S sub, String nonceText, boolean rejected, String message) {
        Nonce nonce = sub.recognize(nonceText);
        if (nonce == null) {
            log.debug("xDS {} stream {} of node '{}': answer to unknown nonce '{}' for {} ignored", protocol.tag(), id,
                    nodeId, nonceText, sub.type.typeUrl());
            return;
        }
        if (rejected) {
            sub.nacked(nonce, message);
            service.metrics().nacked(sub.type);
            log.warn("xDS NACK from node '{}' ({}) for {} nonce {}: {}", nodeId, peer, sub.type.typeUrl(), nonceText,
                    message);
        } else {
            moveTo(sub, sub.acked(nonce, nonceText));
        }
    }

    private void moveTo(S sub, long generation) {
        if (generation > sub.position) {
            service.metrics().convergence(sub.type).move(sub.position, generation);
            sub.position = generation;
        }
    }

    abstract S newSubscription(ResourceType type, long position);

    abstract String typeUrlOf(Q request);

    abstract String nodeIdOf(Q request);

    /** Applies {@code request} to {@code sub} (ACK/NACK and subscription changes). Runs under the lock. */
    abstract void apply(S sub, Q request, boolean first);

    abstract boolean owesResponse(S sub);

    abstract R next(S sub, Snapshot cur, LongSupplier seq);

    /** The serialized size of {@code response}, without gRPC framing. */
    abstract int sizeOf(R response);
}
