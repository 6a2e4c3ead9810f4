package io.mocket.bpf;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;

/**
 * Building blocks shared by the map layouts: the 16-byte address form and network-order ports.
 *
 * <p>Every address is stored as IPv6; IPv4 as IPv4-mapped (::ffff:a.b.c.d). The BPF programs see a
 * dual-stack socket's IPv4 destination in that form in connect6, and one form serves both hooks.
 */
final class WireFormat {

    /** {@code __u32 addr[4]}: 16 bytes in network order. */
    static final SequenceLayout ADDRESS16 = MemoryLayout.sequenceLayout(4, JAVA_INT);

    /** A {@code __u16} port in network order. */
    static final ValueLayout.OfShort PORT = JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);

    // Accessors are unaligned: codecs also read heap segments of byte[], which have no alignment.
    static final ValueLayout.OfShort U16_BE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    static final ValueLayout.OfByte U8 = JAVA_BYTE;

    private WireFormat() {
    }

    static StructLayout struct(MemoryLayout... fields) {
        return MemoryLayout.structLayout(fields);
    }

    static long offset(StructLayout layout, String field) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    static void putAddress(MemorySegment segment, long offset, InetAddress address) {
        byte[] raw = address.getAddress();
        if (address instanceof Inet4Address) {
            segment.set(JAVA_BYTE, offset + 10, (byte) 0xff);
            segment.set(JAVA_BYTE, offset + 11, (byte) 0xff);
            MemorySegment.copy(raw, 0, segment, JAVA_BYTE, offset + 12, 4);
        } else {
            MemorySegment.copy(raw, 0, segment, JAVA_BYTE, offset, 16);
        }
    }

    /** Reads a 16-byte address; an IPv4-mapped one comes back as an {@link Inet4Address}. */
    static InetAddress getAddress(MemorySegment segment, long offset) {
        byte[] raw = new byte[16];
        MemorySegment.copy(segment, JAVA_BYTE, offset, raw, 0, 16);
        try {
            return InetAddress.getByAddress(raw);
        } catch (UnknownHostException e) {
            throw new IllegalStateException("16 bytes are always an address", e);
        }
    }

    static void putPort(MemorySegment segment, long offset, int port) {
        if (port < 0 || port > 0xffff) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
        segment.set(U16_BE, offset, (short) port);
    }

    static int getPort(MemorySegment segment, long offset) {
        return Short.toUnsignedInt(segment.get(U16_BE, offset));
    }
}
