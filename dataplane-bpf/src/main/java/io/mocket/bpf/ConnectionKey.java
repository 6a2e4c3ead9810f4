package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.U64;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.StructLayout;

/** Key of the connection metrics map (a bare {@code __u64}): the socket cookie ({@code SO_COOKIE}). */
public record ConnectionKey(long cookie) {

    public static final StructLayout LAYOUT = WireFormat.struct(JAVA_LONG.withName("cookie"));

    public static final BpfCodec<ConnectionKey> CODEC = new BpfCodec<>(LAYOUT, null,
            (k, s) -> s.set(U64, 0, k.cookie),
            s -> new ConnectionKey(s.get(U64, 0)));
}
