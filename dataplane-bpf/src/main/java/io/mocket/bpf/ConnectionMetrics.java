package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.ADDRESS16;
import static io.mocket.bpf.WireFormat.PORT;
import static io.mocket.bpf.WireFormat.U32;
import static io.mocket.bpf.WireFormat.U64;
import static io.mocket.bpf.WireFormat.U8;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.StructLayout;
import java.net.InetSocketAddress;

/**
 * Value of the connection metrics map ({@code struct mk_connection}), written by sockops for each TCP socket
 * of the cgroup. Byte counters are refreshed at every TCP state change, so they are final once closed.
 *
 * @param openedNanos    CLOCK_MONOTONIC (bpf_ktime_get_ns) at establishment
 * @param closedNanos    CLOCK_MONOTONIC at the move to CLOSE, 0 while open
 * @param bytesSent      octets the peer acknowledged (tcpi_bytes_acked): the kernel counts sequence space,
 *                       so this is the payload plus 1 for our SYN (active side) and 1 for our FIN once acked
 * @param bytesReceived  octets received (tcpi_bytes_received): payload plus 1 for the peer's FIN
 * @param remote         the peer; for a VIP connection the backend, not the VIP
 * @param serviceId      the service of the VIP dialled, 0 if the socket did not dial a VIP
 * @param tcpState       the last kernel TCP state seen (1 ESTABLISHED ... 7 CLOSE)
 */
public record ConnectionMetrics(long openedNanos, long closedNanos, long bytesSent, long bytesReceived,
                                InetSocketAddress local, InetSocketAddress remote, int serviceId,
                                Direction direction, int tcpState) {

    /** Which side of the connection the socket is. */
    public enum Direction {
        /** The socket connected out (a client). */
        ACTIVE,
        /** The socket was accepted (a server). */
        PASSIVE
    }

    /** {@code BPF_TCP_CLOSE}. */
    public static final int TCP_CLOSE = 7;

    public static final StructLayout LAYOUT = WireFormat.struct(
            JAVA_LONG.withName("opened_ns"),
            JAVA_LONG.withName("closed_ns"),
            JAVA_LONG.withName("bytes_sent"),
            JAVA_LONG.withName("bytes_received"),
            ADDRESS16.withName("local_addr"),
            ADDRESS16.withName("remote_addr"),
            PORT.withName("local_port"),
            PORT.withName("remote_port"),
            JAVA_INT.withName("service_id"),
            JAVA_BYTE.withName("direction"),
            JAVA_BYTE.withName("state"),
            JAVA_SHORT.withName("pad"),
            JAVA_INT.withName("pad2"));
    private static final long LOCAL_ADDR = WireFormat.offset(LAYOUT, "local_addr");
    private static final long REMOTE_ADDR = WireFormat.offset(LAYOUT, "remote_addr");
    private static final long LOCAL_PORT = WireFormat.offset(LAYOUT, "local_port");
    private static final long REMOTE_PORT = WireFormat.offset(LAYOUT, "remote_port");
    private static final long SERVICE_ID = WireFormat.offset(LAYOUT, "service_id");
    private static final long DIRECTION = WireFormat.offset(LAYOUT, "direction");
    private static final long STATE = WireFormat.offset(LAYOUT, "state");

    public static final BpfCodec<ConnectionMetrics> CODEC = new BpfCodec<>(LAYOUT, "mk_connection",
            (v, s) -> {
                s.set(U64, 0, v.openedNanos);
                s.set(U64, 8, v.closedNanos);
                s.set(U64, 16, v.bytesSent);
                s.set(U64, 24, v.bytesReceived);
                WireFormat.putAddress(s, LOCAL_ADDR, v.local.getAddress());
                WireFormat.putAddress(s, REMOTE_ADDR, v.remote.getAddress());
                WireFormat.putPort(s, LOCAL_PORT, v.local.getPort());
                WireFormat.putPort(s, REMOTE_PORT, v.remote.getPort());
                s.set(U32, SERVICE_ID, v.serviceId);
                s.set(U8, DIRECTION, (byte) (v.direction == Direction.ACTIVE ? 1 : 2));
                s.set(U8, STATE, (byte) v.tcpState);
            },
            s -> new ConnectionMetrics(s.get(U64, 0), s.get(U64, 8), s.get(U64, 16), s.get(U64, 24),
                    new InetSocketAddress(WireFormat.getAddress(s, LOCAL_ADDR), WireFormat.getPort(s, LOCAL_PORT)),
                    new InetSocketAddress(WireFormat.getAddress(s, REMOTE_ADDR), WireFormat.getPort(s, REMOTE_PORT)),
                    s.get(U32, SERVICE_ID),
                    s.get(U8, DIRECTION) == 1 ? Direction.ACTIVE : Direction.PASSIVE,
                    Byte.toUnsignedInt(s.get(U8, STATE))));

    /** Whether the connection has closed (its counters are final). */
    public boolean closed() {
        return closedNanos != 0;
    }
}
