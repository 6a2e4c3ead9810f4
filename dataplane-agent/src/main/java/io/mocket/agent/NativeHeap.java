package io.mocket.agent;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * The C library's malloc heap. glibc keeps memory that was freed in the middle of its arenas (libbpf's parse of
 * the kernel's BTF at load, the JIT compilers' arenas, direct buffers of a large xDS push) and gives it back to
 * the kernel only when asked: {@link #trim()} asks, through {@code malloc_trim(0)}.
 */
final class NativeHeap {

    private final MethodHandle mallocTrim;

    private NativeHeap(MethodHandle mallocTrim) {
        this.mallocTrim = mallocTrim;
    }

    /** The C library's heap if it can be trimmed (glibc); empty with a C library without malloc_trim (musl). */
    static Optional<NativeHeap> ofThisProcess() {
        Linker linker = Linker.nativeLinker();
        FunctionDescriptor intOfSize = FunctionDescriptor.of(JAVA_INT, JAVA_LONG);
        return linker.defaultLookup().find("malloc_trim")
                .map(symbol -> new NativeHeap(linker.downcallHandle(symbol, intOfSize)));
    }

    /** Returns the free memory of every malloc arena to the kernel; true if any was returned. */
    boolean trim() {
        try {
            return (int) mallocTrim.invokeExact(0L) != 0;
        } catch (Throwable t) {
            throw new IllegalStateException("malloc_trim(0) failed", t);
        }
    }
}
