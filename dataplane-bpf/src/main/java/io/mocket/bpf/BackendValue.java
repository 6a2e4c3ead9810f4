package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.ADDRESS16;
import static io.mocket.bpf.WireFormat.U32;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.StructLayout;
import java.net.InetAddress;
import java.util.Objects;

/** Value of the backend map ({@code struct mk_backend_value}): a workload address and its health. */
public record BackendValue(InetAddress address, boolean healthy) {

    private static final int HEALTHY = 0x1;

    public static final StructLayout LAYOUT = WireFormat.struct(
            ADDRESS16.withName("addr"),
            JAVA_INT.withName("flags"));

    public static final BpfCodec<BackendValue> CODEC = new BpfCodec<>(LAYOUT, "mk_backend_value",
            (v, s) -> {
                WireFormat.putAddress(s, 0, v.address);
                s.set(U32, 16, v.healthy ? HEALTHY : 0);
            },
            s -> new BackendValue(WireFormat.getAddress(s, 0), (s.get(U32, 16) & HEALTHY) != 0));

    public BackendValue {
        Objects.requireNonNull(address, "address");
    }

    // Written out: the generated record methods go through method handles, which the agent's C1-only JIT does
    // not inline, and a reconcile pass hashes and compares tens of thousands of these.
    @Override
    public boolean equals(Object o) {
        return o instanceof BackendValue v && healthy == v.healthy && address.equals(v.address);
    }

    @Override
    public int hashCode() {
        return address.hashCode() * 31 + (healthy ? 1 : 0);
    }
}
