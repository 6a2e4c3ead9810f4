package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.ADDRESS16;
import static io.mocket.bpf.WireFormat.PORT;
import static io.mocket.bpf.WireFormat.U8;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.net.InetAddress;
import java.util.Objects;

/** Key of the frontend map ({@code struct mk_frontend_key}): a service VIP, port and protocol. */
public record FrontendKey(InetAddress address, int port, L4Protocol protocol) {

    public static final StructLayout LAYOUT = WireFormat.struct(
            ADDRESS16.withName("addr"),
            PORT.withName("port"),
            JAVA_BYTE.withName("proto"),
            JAVA_BYTE.withName("pad"));
    private static final long ADDR = WireFormat.offset(LAYOUT, "addr");
    private static final long PORT_OFF = WireFormat.offset(LAYOUT, "port");
    private static final long PROTO = WireFormat.offset(LAYOUT, "proto");

    public static final BpfCodec<FrontendKey> CODEC = new BpfCodec<>(LAYOUT, "mk_frontend_key",
            (k, s) -> {
                WireFormat.putAddress(s, ADDR, k.address);
                WireFormat.putPort(s, PORT_OFF, k.port);
                s.set(U8, PROTO, (byte) k.protocol.number());
            },
            s -> new FrontendKey(WireFormat.getAddress(s, ADDR), WireFormat.getPort(s, PORT_OFF),
                    L4Protocol.of(Byte.toUnsignedInt(s.get(U8, PROTO)))));

    public FrontendKey {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(protocol, "protocol");
        if (port < 1 || port > 0xffff) {
            throw new IllegalArgumentException("frontend port out of range: " + port);
        }
    }

    // Written out: the generated record methods go through method handles, which the agent's C1-only JIT does
    // not inline, and a reconcile pass hashes and compares tens of thousands of these.
    @Override
    public boolean equals(Object o) {
        return o instanceof FrontendKey k && port == k.port && protocol == k.protocol && address.equals(k.address);
    }

    @Override
    public int hashCode() {
        return (address.hashCode() * 31 + port) * 31 + protocol.ordinal();
    }
}
