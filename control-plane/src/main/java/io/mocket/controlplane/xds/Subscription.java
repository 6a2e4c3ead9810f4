package io.mocket.controlplane.xds;

import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.Snapshot;

/**
 * What one stream knows about one resource type: what was last sent and what the client answered.
 * Not thread safe: guarded by the lock of the owning stream.
 *
 * <p>{@code sent} is the snapshot the client's view of the type was last computed from, whether or not
 * that computation produced a response. The next push is the difference between it and the newest
 * snapshot, so a stream that could not send for a while sends one combined response later, and the
 * stream keeps one reference instead of per-resource versions.
 */
abstract sealed class Subscription permits DeltaSubscription, SotwSubscription {
    final ResourceType type;
    Snapshot sent;

    private long lastSeq = -1;
    /** The latest response's nonce; null before the first. */
    private Nonce latest;
    private String sentNonce = "";
    private long sentGeneration = -1;
    private long ackedGeneration = -1;
    private String ackedNonce = "";
    private long nackCount;
    private String lastNackMessage = "";
    /** The latest response is out and the client has not answered it yet. */
    private boolean awaiting;
    /** The client rejected the latest response and has accepted nothing newer. */
    private boolean rejected;
    /** Newest generation the client is known to hold; this subscription's key in {@link Convergence}. */
    long position;

    Subscription(ResourceType type, long position) {
        this.type = type;
        this.position = position;
    }

    /** Records a response about to be sent from snapshot {@code from}; returns its nonce. */
    final String issued(long seq, Snapshot from) {
        lastSeq = seq;
        Nonce nonce = Nonce.local(seq, from.generation());
        return issued(nonce, nonce.format(), from);
    }

    /** Records a shared response (nonce and bytes made once for all streams) about to be sent from {@code from}. */
    final void issuedShared(SharedDeltaResponses.Encoded response, Snapshot from) {
        issued(response.nonce(), response.nonceText(), from);
    }

    private String issued(Nonce nonce, String text, Snapshot from) {
        latest = nonce;
        sentNonce = text;
        sentGeneration = from.generation();
        awaiting = true;
        rejected = false;
        return sentNonce;
    }

    final String sentNonce() {
        return sentNonce;
    }

    /** The answer refers to a response of this subscription; null when the nonce is not one we sent. */
    final Nonce recognize(String nonceText) {
        Nonce n = Nonce.parse(nonceText);
        if (n == null || n.generation() > sentGeneration) {
            return null;
        }
        if (n.isShared() ? n.type() != type.ordinal() : n.seq() > lastSeq) {
            return null;
        }
        return n;
    }

    final boolean isLatest(Nonce n) {
        return n.equals(latest);
    }

    /**
     * The client accepted the response with nonce {@code n}; returns the generation it now holds: all of
     * {@code sent} when it is the latest response, else what that older response carried.
     */
    final long acked(Nonce n, String nonceText) {
        if (n.generation() >= ackedGeneration) {
            ackedGeneration = n.generation();
            ackedNonce = nonceText;
        }
        if (isLatest(n)) {
            awaiting = false;
            rejected = false;
            return sent.generation();
        }
        return n.generation();
    }

    /** The client rejected the response with nonce {@code n}: it stays on what it had. */
    final void nacked(Nonce n, String message) {
        nackCount++;
        lastNackMessage = message;
        if (isLatest(n)) {
            awaiting = false;
            rejected = true;
        }
    }

    /** True when a push that sends nothing proves the client holds {@code sent}: it accepted all we sent. */
    final boolean settled() {
        return !awaiting && !rejected;
    }

    final XdsTypeStatus status() {
        return new XdsTypeStatus(type.typeUrl(), wildcard(), subscribedNames(), impliedNames(), sentGeneration,
                sentNonce, ackedGeneration, ackedNonce, nackCount, lastNackMessage);
    }

    abstract boolean wildcard();

    abstract int subscribedNames();

    abstract int impliedNames();
}
