package io.mocket.controlplane.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;

/**
 * The machine and JVM a run measured on, as the results document states them.
 *
 * @param date        when the run started (UTC)
 * @param cpu         the CPU model, or "unknown"
 * @param cores       processors available to the JVM
 * @param memoryBytes physical memory
 * @param kernel      operating system name and version
 * @param jdk         the JVM vendor and version
 * @param serverHeap  the benchmark JVM's max heap, in bytes
 * @param jvmFlags    the benchmark JVM's flags
 */
record Machine(String date, String cpu, int cores, long memoryBytes, String kernel, String jdk, long serverHeap,
               List<String> jvmFlags) {

    static Machine capture() {
        long memory = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getTotalMemorySize() : -1;
        return new Machine(ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'")),
                cpuModel(), Runtime.getRuntime().availableProcessors(), memory,
                System.getProperty("os.name") + " " + System.getProperty("os.version"),
                System.getProperty("java.vm.vendor") + " " + Runtime.version(),
                Runtime.getRuntime().maxMemory(), ManagementFactory.getRuntimeMXBean().getInputArguments());
    }

    private static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
                    .filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim())
                    .findFirst().orElse("unknown");
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }
}
