package io.mocket.controlplane.xds;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.Snapshot;
import io.mocket.controlplane.resources.XdsResource;
import java.lang.ref.WeakReference;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Delta responses serialized once and written to many streams. A wildcard client that holds snapshot
 * {@code from} of a type (and has no request waiting) is owed exactly the changes from {@code from} to
 * the current snapshot, the same for every such client; with a {@linkplain Nonce#shared shared nonce}
 * the response is byte-identical too. So the first stream to need it computes and serializes it, and
 * the others write the same bytes (see {@link EncodedResponseMarshaller}). {@code from} null stands for
 * a client that holds nothing yet: the full state.
 *
 * <p>A small direct-mapped cache: an entry is found by (type, from, to) and a colliding one replaces it,
 * which costs only a recomputation. Entries of 64 KiB or more (full states) are held weakly, so that a
 * full state outlives the burst of first syncs that share it but not the next garbage collection.
 * Thread safe; two threads that miss at once compute identical bytes.
 */
final class SharedDeltaResponses {
    private static final int SLOTS = 64;
    private static final int HOLD_STRONGLY_BELOW = 64 << 10;
    /** The result for a span that changes nothing of the type: no response. */
    static final Encoded NOTHING = new Encoded(new byte[0], Nonce.local(0, 0), "");

    private final ResourceStore store;
    private final AtomicReferenceArray<Entry> slots = new AtomicReferenceArray<>(SLOTS);

    SharedDeltaResponses(ResourceStore store) {
        this.store = Objects.requireNonNull(store, "store");
    }

    /**
     * A serialized DeltaDiscoveryResponse with its nonce.
     *
     * @param bytes     the message as it goes on the wire (without gRPC framing); never modified
     * @param nonce     the shared nonce inside {@code bytes}
     * @param nonceText {@code nonce} formatted, as in {@code bytes}
     */
    record Encoded(byte[] bytes, Nonce nonce, String nonceText) {
    }

    /**
     * The response that takes a wildcard client from {@code from} (null: nothing held) to {@code to}, or
     * {@link #NOTHING} when there is nothing to send. A client holding nothing always gets a response,
     * empty if the type has no resources.
     */
    Encoded get(ResourceType type, Snapshot from, Snapshot to) {
        long fromGeneration = from == null ? -1 : from.generation();
        int slot = slotOf(type, fromGeneration, to.generation());
        Entry e = slots.get(slot);
        if (e != null && e.type == type && e.from == fromGeneration && e.to == to.generation()) {
            Encoded hit = e.value();
            if (hit != null) {
                return hit;
            }
        }
        Encoded made = encode(type, from, to);
        slots.set(slot, new Entry(type, fromGeneration, to.generation(), made));
        return made;
    }

    private Encoded encode(ResourceType type, Snapshot from, Snapshot to) {
        Nonce nonce = Nonce.shared(type, to.generation());
        String nonceText = nonce.format();
        DeltaDiscoveryResponse.Builder b = DeltaDiscoveryResponse.newBuilder()
                .setTypeUrl(type.typeUrl())
                .setSystemVersionInfo(Long.toString(to.generation()))
                .setNonce(nonceText);
        if (from == null) {
            for (XdsResource r : to.all(type)) {
                b.addResources(r.wire());
            }
        } else {
            ResourceStore.Changes changes = store.changes(type, from, to);
            if (changes.isEmpty()) {
                return NOTHING;
            }
            for (XdsResource r : changes.send()) {
                b.addResources(r.wire());
            }
            b.addAllRemovedResources(changes.remove());
        }
        return new Encoded(b.build().toByteArray(), nonce, nonceText);
    }

    private static int slotOf(ResourceType type, long from, long to) {
        long h = (to * 31 + from) * 31 + type.ordinal();
        return (int) (h ^ (h >>> 29)) & (SLOTS - 1);
    }

    private static final class Entry {
        final ResourceType type;
        final long from;
        final long to;
        private final Encoded strong;
        private final WeakReference<Encoded> weak;

        Entry(ResourceType type, long from, long to, Encoded value) {
            this.type = type;
            this.from = from;
            this.to = to;
            boolean big = value.bytes().length >= HOLD_STRONGLY_BELOW;
            this.strong = big ? null : value;
            this.weak = big ? new WeakReference<>(value) : null;
        }

        Encoded value() {
            return strong != null ? strong : weak.get();
        }
    }
}
