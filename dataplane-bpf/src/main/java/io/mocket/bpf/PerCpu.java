package io.mocket.bpf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BinaryOperator;

/**
 * The user-space form of a per-CPU map value: one copy per possible CPU, each padded to 8 bytes. A codec of
 * this form reads the sum of the copies and writes a value into CPU 0's copy with the others zero, so a
 * {@link TypedMap} of counters reads totals.
 */
public final class PerCpu {

    private static final Path POSSIBLE = Path.of("/sys/devices/system/cpu/possible");

    private PerCpu() {
    }

    /** Bytes of one CPU's copy of a value of {@code valueSize} bytes. */
    static long slotSize(long valueSize) {
        return (valueSize + 7) & ~7L;
    }

    /** How many CPUs the kernel may ever bring up: the number of copies a per-CPU map keeps. */
    public static int possibleCpus() {
        try {
            return parseCpuList(Files.readString(POSSIBLE).trim());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + POSSIBLE + " (is /sys mounted?)", e);
        }
    }

    /** The highest CPU number of a kernel CPU list ("0-3", "0,2-5") plus one. */
    static int parseCpuList(String list) {
        int highest = -1;
        for (String part : list.split(",")) {
            String last = part.contains("-") ? part.substring(part.indexOf('-') + 1) : part;
            try {
                highest = Math.max(highest, Integer.parseInt(last.trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a kernel CPU list: '" + list + "'", e);
            }
        }
        if (highest < 0) {
            throw new IllegalArgumentException("empty kernel CPU list");
        }
        return highest + 1;
    }

    /**
     * The per-CPU form of a value codec for {@code cpus} CPUs.
     *
     * @param sum adds two values (the copies are summed in CPU order)
     */
    public static <V> BpfCodec<V> summing(BpfCodec<V> element, int cpus, BinaryOperator<V> sum) {
        long slot = slotSize(element.byteSize());
        MemoryLayout one = element.byteSize() == slot ? element.layout()
                : MemoryLayout.structLayout(element.layout(), MemoryLayout.paddingLayout(slot - element.byteSize()));
        StructLayout layout = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(cpus, one).withName("cpus"));
        return new BpfCodec<>(layout, null,
                (v, s) -> element.encode(v, s.asSlice(0, element.byteSize())),
                s -> {
                    V total = element.decode(s.asSlice(0, element.byteSize()));
                    for (int cpu = 1; cpu < cpus; cpu++) {
                        total = sum.apply(total, element.decode(s.asSlice(cpu * slot, element.byteSize())));
                    }
                    return total;
                });
    }
}
