package io.mocket.controlplane.bench;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.cumulative.CumulativeTimer;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import io.micrometer.core.instrument.distribution.pause.PauseDetector;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A simple meter registry that also hands every recording of the {@code mocket.xds.convergence} timer to the
 * benchmark as it happens. The benchmark then blocks until its change converged, instead of polling the timer
 * on a core the server needs, and reads the exact value the server recorded.
 */
final class ConvergenceRecorder extends SimpleMeterRegistry {
    static final String CONVERGENCE = "mocket.xds.convergence";

    private final BlockingQueue<Recording> recordings = new LinkedBlockingQueue<>();

    /** One recording of the convergence timer of one resource type. */
    record Recording(String typeUrl, long nanos) {
    }

    @Override
    protected Timer newTimer(Meter.Id id, DistributionStatisticConfig config, PauseDetector pauseDetector) {
        if (!id.getName().equals(CONVERGENCE)) {
            return super.newTimer(id, config, pauseDetector);
        }
        String typeUrl = id.getTag("type_url");
        return new CumulativeTimer(id, clock, config, pauseDetector, getBaseTimeUnit(), false) {
            @Override
            protected void recordNonNegative(long amount, TimeUnit unit) {
                super.recordNonNegative(amount, unit);
                recordings.add(new Recording(typeUrl, unit.toNanos(amount)));
            }
        };
    }

    /** The next recording, or null when none came within {@code timeout}. */
    Recording next(Duration timeout) throws InterruptedException {
        return recordings.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Drops the recordings made so far (e.g. those of the initial state). */
    void dropRecordings() {
        recordings.clear();
    }
}
