package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.U32;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.StructLayout;

/** Key of the endpoint map ({@code struct mk_endpoint_key}): one slot of a service's backend set revision. */
public record EndpointKey(int serviceId, int revision, int priority, int slot) {

    public static final StructLayout LAYOUT = WireFormat.struct(
            JAVA_INT.withName("service_id"),
            JAVA_INT.withName("revision"),
            JAVA_INT.withName("priority"),
            JAVA_INT.withName("slot"));

    public static final BpfCodec<EndpointKey> CODEC = new BpfCodec<>(LAYOUT, "mk_endpoint_key",
            (k, s) -> {
                s.set(U32, 0, k.serviceId);
                s.set(U32, 4, k.revision);
                s.set(U32, 8, k.priority);
                s.set(U32, 12, k.slot);
            },
            s -> new EndpointKey(s.get(U32, 0), s.get(U32, 4), s.get(U32, 8), s.get(U32, 12)));

    public EndpointKey {
        if (priority < 0 || priority >= ServiceValue.PRIORITIES) {
            throw new IllegalArgumentException("priority out of range: " + priority);
        }
        if (slot < 0) {
            throw new IllegalArgumentException("negative slot: " + slot);
        }
    }

    // Written out: the generated record methods go through method handles, which the agent's C1-only JIT does
    // not inline, and a reconcile pass hashes and compares tens of thousands of these.
    @Override
    public boolean equals(Object o) {
        return o instanceof EndpointKey k && serviceId == k.serviceId && revision == k.revision
                && priority == k.priority && slot == k.slot;
    }

    @Override
    public int hashCode() {
        return ((serviceId * 31 + revision) * 31 + priority) * 31 + slot;
    }
}
