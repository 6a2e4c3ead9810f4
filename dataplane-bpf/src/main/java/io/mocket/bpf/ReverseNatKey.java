package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.ADDRESS16;
import static io.mocket.bpf.WireFormat.PORT;
import static io.mocket.bpf.WireFormat.U64;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.StructLayout;
import java.net.InetAddress;
import java.util.Objects;

/** Key of the reverse NAT map ({@code struct mk_revnat_key}): a socket (by cookie) and the backend it talks to. */
public record ReverseNatKey(long cookie, InetAddress backend, int port) {

    public static final StructLayout LAYOUT = WireFormat.struct(
            JAVA_LONG.withName("cookie"),
            ADDRESS16.withName("addr"),
            PORT.withName("port"),
            JAVA_SHORT.withName("pad"),
            JAVA_INT.withName("pad2"));

    public static final BpfCodec<ReverseNatKey> CODEC = new BpfCodec<>(LAYOUT, "mk_revnat_key",
            (k, s) -> {
                s.set(U64, 0, k.cookie);
                WireFormat.putAddress(s, 8, k.backend);
                WireFormat.putPort(s, 24, k.port);
            },
            s -> new ReverseNatKey(s.get(U64, 0), WireFormat.getAddress(s, 8), WireFormat.getPort(s, 24)));

    public ReverseNatKey {
        Objects.requireNonNull(backend, "backend");
    }
}
