package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.U32;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.StructLayout;

/**
 * Key of the socket map (a bare {@code int}): a socket's file descriptor in the calling process. Socket
 * storage is reached by programs through the socket itself; user space names the socket by an fd it holds.
 */
public record SocketKey(int fd) {

    public static final StructLayout LAYOUT = WireFormat.struct(JAVA_INT.withName("fd"));

    public static final BpfCodec<SocketKey> CODEC = new BpfCodec<>(LAYOUT, null,
            (k, s) -> s.set(U32, 0, k.fd),
            s -> new SocketKey(s.get(U32, 0)));
}
