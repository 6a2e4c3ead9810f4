package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.ADDRESS16;
import static io.mocket.bpf.WireFormat.PORT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.StructLayout;
import java.net.InetAddress;
import java.util.Objects;

/** Value of the reverse NAT map ({@code struct mk_revnat_value}): the VIP and port the application dialled. */
public record ReverseNatValue(InetAddress vip, int port) {

    public static final StructLayout LAYOUT = WireFormat.struct(
            ADDRESS16.withName("addr"),
            PORT.withName("port"),
            JAVA_SHORT.withName("pad"));

    public static final BpfCodec<ReverseNatValue> CODEC = new BpfCodec<>(LAYOUT, "mk_revnat_value",
            (v, s) -> {
                WireFormat.putAddress(s, 0, v.vip);
                WireFormat.putPort(s, 16, v.port);
            },
            s -> new ReverseNatValue(WireFormat.getAddress(s, 0), WireFormat.getPort(s, 16)));

    public ReverseNatValue {
        Objects.requireNonNull(vip, "vip");
    }
}
