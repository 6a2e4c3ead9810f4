package io.mocket.bpf;

import java.lang.foreign.MemorySegment;

/**
 * A program of a loaded {@link BpfObject}: its function name, ELF section ("cgroup/connect4"), kernel fd
 * and expected attach type. Valid until the object is closed.
 */
public record BpfProgram(String name, String section, int fd, int attachType, MemorySegment handle) {
}
