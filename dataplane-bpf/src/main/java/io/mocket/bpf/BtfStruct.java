package io.mocket.bpf;

import java.util.List;

/**
 * A C struct as the BTF of a compiled BPF object describes it: the truth the Java layouts are checked
 * against, since it is what the programs were compiled with.
 *
 * @param members in declaration order, offsets in bytes
 */
public record BtfStruct(String name, long size, List<Member> members) {

    /** One struct member: name and byte offset. */
    public record Member(String name, long offset) {
    }

    public BtfStruct {
        members = List.copyOf(members);
    }
}
