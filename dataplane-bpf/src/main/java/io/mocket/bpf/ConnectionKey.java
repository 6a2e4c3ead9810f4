package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.ADDRESS16;
import static io.mocket.bpf.WireFormat.U32;
import static io.mocket.bpf.WireFormat.U8;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.StructLayout;
import java.net.InetAddress;
import java.util.Objects;

/**
 * Key of the connection counters ({@code struct mk_connection_key}): the TCP connections of one direction,
 * service and address pair on this node, whatever their ports.
 *
 * @param direction which side of the connections the node's sockets are
 * @param serviceId the service of the VIP dialled, 0 if none; always 0 for accepted connections (only the
 *                  client's node knows the VIP)
 * @param local     the address of the node's socket (a pod)
 * @param remote    the peer; for a VIP connection the backend, not the VIP
 */
public record ConnectionKey(Direction direction, int serviceId, InetAddress local, InetAddress remote) {

    /** Which side of a connection the socket is ({@code MK_CONN_*}). */
    public enum Direction {
        /** The socket connected out (a client). */
        ACTIVE,
        /** The socket was accepted (a server). */
        PASSIVE
    }

    public static final StructLayout LAYOUT = WireFormat.struct(
            ADDRESS16.withName("local_addr"),
            ADDRESS16.withName("remote_addr"),
            JAVA_INT.withName("service_id"),
            JAVA_BYTE.withName("direction"),
            JAVA_BYTE.withName("pad"),
            JAVA_SHORT.withName("pad2"));
    private static final long REMOTE_ADDR = WireFormat.offset(LAYOUT, "remote_addr");
    private static final long SERVICE_ID = WireFormat.offset(LAYOUT, "service_id");
    private static final long DIRECTION = WireFormat.offset(LAYOUT, "direction");

    public static final BpfCodec<ConnectionKey> CODEC = new BpfCodec<>(LAYOUT, "mk_connection_key",
            (k, s) -> {
                WireFormat.putAddress(s, 0, k.local);
                WireFormat.putAddress(s, REMOTE_ADDR, k.remote);
                s.set(U32, SERVICE_ID, k.serviceId);
                s.set(U8, DIRECTION, (byte) (k.direction == Direction.ACTIVE ? 1 : 2));
            },
            s -> new ConnectionKey(s.get(U8, DIRECTION) == 1 ? Direction.ACTIVE : Direction.PASSIVE,
                    s.get(U32, SERVICE_ID), WireFormat.getAddress(s, 0), WireFormat.getAddress(s, REMOTE_ADDR)));

    public ConnectionKey {
        Objects.requireNonNull(direction, "direction");
        Objects.requireNonNull(local, "local");
        Objects.requireNonNull(remote, "remote");
    }
}
