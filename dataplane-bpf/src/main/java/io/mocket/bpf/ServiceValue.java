package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.U32;
import static io.mocket.bpf.WireFormat.U8;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Value of the service map ({@code struct mk_service_value}): the live endpoint revision, the number of
 * backends at each locality priority (slots 0..count-1 of that priority), and the balancing policy.
 *
 * @param counts exactly {@link #PRIORITIES} non-negative counts, index 0 the most local
 */
public record ServiceValue(int revision, List<Integer> counts, LbMode lbMode, HealthPolicy healthPolicy) {

    /** Locality priorities per service ({@code MK_PRIORITIES}). */
    public static final int PRIORITIES = 7;

    public static final StructLayout LAYOUT = WireFormat.struct(
            JAVA_INT.withName("revision"),
            MemoryLayout.sequenceLayout(PRIORITIES, JAVA_INT).withName("count"),
            JAVA_BYTE.withName("lb_mode"),
            JAVA_BYTE.withName("health_policy"),
            JAVA_SHORT.withName("flags"));
    private static final long REVISION = WireFormat.offset(LAYOUT, "revision");
    private static final long COUNT = WireFormat.offset(LAYOUT, "count");
    private static final long LB_MODE = WireFormat.offset(LAYOUT, "lb_mode");
    private static final long HEALTH = WireFormat.offset(LAYOUT, "health_policy");

    public static final BpfCodec<ServiceValue> CODEC = new BpfCodec<>(LAYOUT, "mk_service_value",
            (v, s) -> {
                s.set(U32, REVISION, v.revision);
                for (int i = 0; i < PRIORITIES; i++) {
                    s.set(U32, COUNT + 4L * i, v.counts.get(i));
                }
                s.set(U8, LB_MODE, (byte) v.lbMode.number());
                s.set(U8, HEALTH, (byte) v.healthPolicy.number());
            },
            s -> {
                List<Integer> counts = new ArrayList<>(PRIORITIES);
                for (int i = 0; i < PRIORITIES; i++) {
                    counts.add(s.get(U32, COUNT + 4L * i));
                }
                return new ServiceValue(s.get(U32, REVISION), counts,
                        LbMode.of(Byte.toUnsignedInt(s.get(U8, LB_MODE))),
                        HealthPolicy.of(Byte.toUnsignedInt(s.get(U8, HEALTH))));
            });

    public ServiceValue {
        Objects.requireNonNull(lbMode, "lbMode");
        Objects.requireNonNull(healthPolicy, "healthPolicy");
        counts = List.copyOf(counts);
        if (counts.size() != PRIORITIES) {
            throw new IllegalArgumentException("counts needs " + PRIORITIES + " priorities, got " + counts.size());
        }
        for (int c : counts) {
            if (c < 0) {
                throw new IllegalArgumentException("negative backend count: " + counts);
            }
        }
    }

    /** All backends of all priorities. */
    public int totalBackends() {
        return counts.stream().mapToInt(Integer::intValue).sum();
    }
}
