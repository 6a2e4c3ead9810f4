package io.mocket.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A large push releases memory once after a quiet period; small pushes and bursts do not add releases. */
class MemoryReleaseTest {

    private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor();

    @AfterEach
    void stop() {
        executor.shutdownNow();
    }

    @Test
    void smallPushesReleaseNothingAndABurstOfLargeOnesReleasesOnce() throws Exception {
        // A quiet period far above the pauses of the burst below, so a loaded machine does not split the burst.
        MemoryRelease release = new MemoryRelease(executor, NativeHeap.ofThisProcess(), Duration.ofMillis(1500),
                Duration.ZERO);
        release.pushApplied(MemoryRelease.LARGE_PUSH_RESOURCES - 1);
        Thread.sleep(2000);
        assertEquals(0, release.releases(), "a push below the threshold leaves the heap alone");

        for (int i = 0; i < 5; i++) {
            release.pushApplied(MemoryRelease.LARGE_PUSH_RESOURCES); // a burst: each restarts the quiet period
            Thread.sleep(50);
        }
        assertEquals(0, release.releases(), "nothing while pushes keep coming");
        ControlPlane.await("one release after the burst", () -> release.releases() == 1);
        Thread.sleep(2000);
        assertEquals(1, release.releases(), "the burst released once");
    }

    @Test
    void withoutATrimmableCHeapTheJavaHeapIsStillReleased() {
        MemoryRelease release = new MemoryRelease(executor, Optional.empty(), Duration.ofMillis(50), Duration.ZERO);
        release.trimNativeHeap(); // no C library trim: nothing to do, no failure
        release.pushApplied(20_000);
        ControlPlane.await("released", () -> release.releases() == 1);
    }

    @Test
    void aLargePushSoonAfterAReleaseWaitsForTheMinimumInterval() throws Exception {
        MemoryRelease release = new MemoryRelease(executor, Optional.empty(), Duration.ofMillis(50),
                Duration.ofSeconds(3));
        release.pushApplied(20_000);
        ControlPlane.await("the first release", () -> release.releases() == 1);
        long first = System.nanoTime();
        release.pushApplied(20_000);
        ControlPlane.await("the second release", () -> release.releases() == 2);
        long apart = (System.nanoTime() - first) / 1_000_000;
        assertTrue(apart >= 2_900, "the second release came " + apart + " ms after the first, not 3 s");
    }
}
