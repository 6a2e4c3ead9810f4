package io.mocket.bpf;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Compares the Java layouts of map keys and values with the C structs in a compiled object's BTF:
 * same size, same member names in the same order at the same offsets.
 */
public final class LayoutCheck {

    private LayoutCheck() {
    }

    /** Every difference between the Java codecs and the structs an opened object carries (empty if none). */
    public static List<String> mismatches(BpfObject object) {
        List<String> problems = new ArrayList<>();
        for (LoadBalancerMaps.MapSpec spec : LoadBalancerMaps.SPECS) {
            for (BpfCodec<?> codec : List.of(spec.key(), spec.value())) {
                if (codec.cType() == null) {
                    continue;
                }
                Optional<BtfStruct> struct = object.btfStruct(codec.cType());
                struct.ifPresent(s -> problems.addAll(compare(codec, s)));
            }
        }
        return problems;
    }

    /** Differences between one codec and one struct. */
    public static List<String> compare(BpfCodec<?> codec, BtfStruct struct) {
        List<String> problems = new ArrayList<>();
        if (codec.byteSize() != struct.size()) {
            problems.add(struct.name() + " is " + struct.size() + " bytes in C, " + codec.byteSize() + " in Java");
        }
        List<BtfStruct.Member> javaMembers = new ArrayList<>();
        long offset = 0;
        for (MemoryLayout field : codec.layout().memberLayouts()) {
            if (!(field instanceof PaddingLayout)) {
                javaMembers.add(new BtfStruct.Member(field.name().orElse("?"), offset));
            }
            offset += field.byteSize();
        }
        if (!javaMembers.equals(struct.members())) {
            problems.add(struct.name() + " members differ: C " + struct.members() + ", Java " + javaMembers);
        }
        return problems;
    }
}
