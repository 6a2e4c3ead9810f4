package io.mocket.controlplane.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Samples the system's 1-minute load average once a second while a run lasts, so the results say how busy
 * the machine was (the benchmark shares it with whatever else runs there).
 */
final class LoadSampler {
    private final List<Double> samples = new CopyOnWriteArrayList<>();
    private final Thread thread;
    private final String atStart;

    private LoadSampler() {
        this.atStart = read();
        this.thread = Thread.ofPlatform().daemon().name("load-sampler").start(this::sample);
    }

    static LoadSampler start() {
        return new LoadSampler();
    }

    void stop() {
        thread.interrupt();
    }

    /** "1-min 5-min 15-min" load averages from /proc/loadavg, or the JVM's 1-minute figure elsewhere. */
    static String read() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return String.format("%.2f", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        }
    }

    String atStart() {
        return atStart;
    }

    /** The 1-minute samples taken so far, in order. */
    List<Double> samples() {
        return new ArrayList<>(samples);
    }

    private void sample() {
        while (!Thread.currentThread().isInterrupted()) {
            try {
                samples.add(Double.parseDouble(read().split(" ")[0]));
                Thread.sleep(1_000);
            } catch (InterruptedException e) {
                return;
            } catch (NumberFormatException e) {
                return; // no load average on this platform
            }
        }
    }
}
