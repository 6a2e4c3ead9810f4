package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.U64;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.StructLayout;

/**
 * Value of the connection counters ({@code struct mk_connection_totals}), added to by sockops: at
 * establishment one opened connection, at CLOSE one closed connection and its final byte counts. Bytes of a
 * connection therefore appear once it closes. The map is per-CPU; {@link #PER_CPU} reads the sum.
 *
 * @param opened        connections that reached ESTABLISHED
 * @param closed        of those, connections that reached CLOSE
 * @param bytesSent     sum over closed connections of tcpi_bytes_acked: the kernel counts sequence space, so
 *                      payload plus 1 for the SYN (active side) and 1 for the FIN once acknowledged
 * @param bytesReceived sum over closed connections of tcpi_bytes_received: payload plus 1 for the peer's FIN
 */
public record ConnectionTotals(long opened, long closed, long bytesSent, long bytesReceived) {

    /** Nothing counted. */
    public static final ConnectionTotals ZERO = new ConnectionTotals(0, 0, 0, 0);

    public static final StructLayout LAYOUT = WireFormat.struct(
            JAVA_LONG.withName("opened"),
            JAVA_LONG.withName("closed"),
            JAVA_LONG.withName("bytes_sent"),
            JAVA_LONG.withName("bytes_received"));

    /** One CPU's copy, as the C struct. */
    public static final BpfCodec<ConnectionTotals> CODEC = new BpfCodec<>(LAYOUT, "mk_connection_totals",
            (v, s) -> {
                s.set(U64, 0, v.opened);
                s.set(U64, 8, v.closed);
                s.set(U64, 16, v.bytesSent);
                s.set(U64, 24, v.bytesReceived);
            },
            s -> new ConnectionTotals(s.get(U64, 0), s.get(U64, 8), s.get(U64, 16), s.get(U64, 24)));

    /** What user space reads and writes: every CPU's copy, read as their sum. */
    public static final BpfCodec<ConnectionTotals> PER_CPU = PerCpu.summing(CODEC, PerCpu.possibleCpus(),
            ConnectionTotals::plus);

    /** Field-wise sum. */
    public ConnectionTotals plus(ConnectionTotals o) {
        return new ConnectionTotals(opened + o.opened, closed + o.closed, bytesSent + o.bytesSent,
                bytesReceived + o.bytesReceived);
    }

    /** Field-wise difference {@code this - earlier}. */
    public ConnectionTotals minus(ConnectionTotals earlier) {
        return new ConnectionTotals(opened - earlier.opened, closed - earlier.closed,
                bytesSent - earlier.bytesSent, bytesReceived - earlier.bytesReceived);
    }

    /** Whether no field is below the other's: counters only grow until their element is deleted. */
    public boolean atLeast(ConnectionTotals o) {
        return opened >= o.opened && closed >= o.closed && bytesSent >= o.bytesSent
                && bytesReceived >= o.bytesReceived;
    }

    /** Whether every connection counted as opened was counted as closed too. */
    public boolean balanced() {
        return opened == closed;
    }
}
