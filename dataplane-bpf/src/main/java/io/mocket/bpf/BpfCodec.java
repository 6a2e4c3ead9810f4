package io.mocket.bpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.HexFormat;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * The byte form of one BPF map key or value type: its layout (mirroring the C struct, field names equal to
 * the C member names), and how a Java record is written to and read from it.
 *
 * @param layout  the C layout; every byte, padding included, is a named field so nothing is left unwritten
 * @param cType   the C type name in the object's BTF ({@code "mk_frontend_key"}), or null for a bare integer
 * @param encoder writes a value into a zeroed segment of {@code layout.byteSize()} bytes
 * @param decoder reads a value from such a segment
 */
public record BpfCodec<T>(StructLayout layout, String cType, BiConsumer<T, MemorySegment> encoder,
                          Function<MemorySegment, T> decoder) {

    /** The size of the C type in bytes. */
    public long byteSize() {
        return layout.byteSize();
    }

    /** Writes {@code value} into {@code segment}, zeroing it first so padding is always zero. */
    public void encode(T value, MemorySegment segment) {
        segment.asSlice(0, layout.byteSize()).fill((byte) 0);
        encoder.accept(value, segment);
    }

    /** Reads a value from the first {@code byteSize()} bytes of {@code segment}. */
    public T decode(MemorySegment segment) {
        return decoder.apply(segment);
    }

    /** The encoded bytes of a value (for tests and debug dumps). */
    public byte[] toBytes(T value) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment segment = arena.allocate(layout);
            encode(value, segment);
            return segment.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        }
    }

    /** Decodes a value from bytes of exactly {@code byteSize()}. */
    public T fromBytes(byte[] bytes) {
        if (bytes.length != layout.byteSize()) {
            throw new IllegalArgumentException(cType + " needs " + layout.byteSize() + " bytes, got "
                    + bytes.length + ": " + HexFormat.of().formatHex(bytes));
        }
        return decode(MemorySegment.ofArray(bytes));
    }
}
