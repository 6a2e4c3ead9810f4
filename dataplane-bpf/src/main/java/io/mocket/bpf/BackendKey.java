package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.U32;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.StructLayout;

/** Key of the backend map (a bare {@code __u32}): the id of one workload address. */
public record BackendKey(int backendId) {

    public static final StructLayout LAYOUT = WireFormat.struct(JAVA_INT.withName("backend_id"));

    public static final BpfCodec<BackendKey> CODEC = new BpfCodec<>(LAYOUT, null,
            (k, s) -> s.set(U32, 0, k.backendId),
            s -> new BackendKey(s.get(U32, 0)));
}
