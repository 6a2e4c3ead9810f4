package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.ADDRESS16;
import static io.mocket.bpf.WireFormat.PORT;
import static io.mocket.bpf.WireFormat.U32;
import static io.mocket.bpf.WireFormat.U8;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.StructLayout;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * Value of the socket map ({@code struct mk_socket}), socket-local storage that the kernel frees with the
 * socket: what connect rewrote (read back by getpeername, recvmsg and sockops) and whether sockops counted
 * the socket as an open client connection. Accepted sockets have none.
 *
 * @param vip       the VIP dialled (port 0 and address {@code ::} if connect saw no VIP)
 * @param backend   the backend connect chose
 * @param serviceId the service of the VIP, 0 if none
 * @param direction 1 (active) while sockops counts the socket as an open client connection; 0 before it was
 *                  established and after its close was counted
 */
public record SocketState(InetSocketAddress vip, InetSocketAddress backend, int serviceId, int direction) {

    public static final StructLayout LAYOUT = WireFormat.struct(
            ADDRESS16.withName("vip_addr"),
            ADDRESS16.withName("backend_addr"),
            PORT.withName("vip_port"),
            PORT.withName("backend_port"),
            JAVA_INT.withName("service_id"),
            JAVA_BYTE.withName("direction"),
            JAVA_BYTE.withName("pad"),
            JAVA_SHORT.withName("pad2"),
            JAVA_INT.withName("pad3"));
    private static final long BACKEND_ADDR = WireFormat.offset(LAYOUT, "backend_addr");
    private static final long VIP_PORT = WireFormat.offset(LAYOUT, "vip_port");
    private static final long BACKEND_PORT = WireFormat.offset(LAYOUT, "backend_port");
    private static final long SERVICE_ID = WireFormat.offset(LAYOUT, "service_id");
    private static final long DIRECTION = WireFormat.offset(LAYOUT, "direction");

    public static final BpfCodec<SocketState> CODEC = new BpfCodec<>(LAYOUT, "mk_socket",
            (v, s) -> {
                WireFormat.putAddress(s, 0, v.vip.getAddress());
                WireFormat.putAddress(s, BACKEND_ADDR, v.backend.getAddress());
                WireFormat.putPort(s, VIP_PORT, v.vip.getPort());
                WireFormat.putPort(s, BACKEND_PORT, v.backend.getPort());
                s.set(U32, SERVICE_ID, v.serviceId);
                s.set(U8, DIRECTION, (byte) v.direction);
            },
            s -> new SocketState(
                    new InetSocketAddress(WireFormat.getAddress(s, 0), WireFormat.getPort(s, VIP_PORT)),
                    new InetSocketAddress(WireFormat.getAddress(s, BACKEND_ADDR), WireFormat.getPort(s, BACKEND_PORT)),
                    s.get(U32, SERVICE_ID), Byte.toUnsignedInt(s.get(U8, DIRECTION))));

    public SocketState {
        Objects.requireNonNull(vip, "vip");
        Objects.requireNonNull(backend, "backend");
    }
}
