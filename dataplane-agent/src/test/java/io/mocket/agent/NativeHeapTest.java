package io.mocket.agent;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** malloc_trim through FFM: memory freed in the middle of the C heap goes back to the kernel only when asked. */
class NativeHeapTest {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle MALLOC = LINKER.downcallHandle(LINKER.defaultLookup().find("malloc")
            .orElseThrow(), FunctionDescriptor.of(ADDRESS, JAVA_LONG));
    private static final MethodHandle FREE = LINKER.downcallHandle(LINKER.defaultLookup().find("free")
            .orElseThrow(), FunctionDescriptor.ofVoid(ADDRESS));

    private static long residentKiB() throws java.io.IOException {
        return java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status")).stream()
                .filter(l -> l.startsWith("VmRSS:")).mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", "")))
                .findFirst().orElseThrow();
    }

    @Test
    void freedMemoryBehindALiveBlockIsReturnedOnlyByATrim() throws Throwable {
        NativeHeap heap = NativeHeap.ofThisProcess().orElseThrow(() -> new AssertionError("the build host runs glibc"));
        heap.trim(); // start from a trimmed heap
        // 16 MiB in 1 KiB blocks (below the mmap threshold, so from the heap), then a block that stays: free()
        // cannot shrink the heap from its top, the freed pages stay with glibc until malloc_trim.
        List<MemorySegment> blocks = new ArrayList<>();
        for (int i = 0; i < 16 * 1024; i++) {
            MemorySegment b = ((MemorySegment) MALLOC.invokeExact(1024L)).reinterpret(1024);
            b.fill((byte) 1); // touch it, so the pages are resident
            blocks.add(b);
        }
        MemorySegment fence = (MemorySegment) MALLOC.invokeExact(1024L);
        try {
            for (MemorySegment b : blocks) {
                FREE.invokeExact(b);
            }
            long before = residentKiB();
            assertTrue(heap.trim(), "16 MiB freed below a live block: malloc_trim returns pages");
            long returned = before - residentKiB();
            assertTrue(returned >= 8 * 1024, "the process's resident memory fell by " + returned + " KiB, not the"
                    + " ~16 MiB freed");
        } finally {
            FREE.invokeExact(fence);
        }
    }
}
