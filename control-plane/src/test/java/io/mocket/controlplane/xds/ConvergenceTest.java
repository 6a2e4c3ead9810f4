package io.mocket.controlplane.xds;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ConvergenceTest {
    private final AtomicLong now = new AtomicLong(1_000);
    private final Timer timer = new SimpleMeterRegistry().timer("t");
    private final Convergence c = new Convergence(timer, now::get);

    @Test
    void recordsFromFirstEventToTheLastSubscribersMove() {
        c.join(0);
        c.join(0);
        c.committed(1, 500);
        now.set(1_200);
        c.move(0, 1);
        assertThat(timer.count()).isZero();
        now.set(1_700);
        c.move(0, 1);
        assertThat(timer.count()).isEqualTo(1);
        assertThat(timer.totalTime(TimeUnit.NANOSECONDS)).isEqualTo(1_200);
    }

    @Test
    void leavingUsesTheLastMoveNotTheDeparture() {
        c.join(0);
        c.join(0);
        c.committed(1, 500);
        now.set(900);
        c.move(0, 1);
        now.set(5_000);
        c.leave(0);
        assertThat(timer.totalTime(TimeUnit.NANOSECONDS)).isEqualTo(400);
    }

    @Test
    void oneMovePastSeveralCommitsRecordsEach() {
        c.join(0);
        c.committed(1, 100);
        c.committed(2, 300);
        now.set(1_300);
        c.move(0, 2);
        assertThat(timer.count()).isEqualTo(2);
        assertThat(c.pendingCount()).isZero();
    }

    @Test
    void nothingIsRecordedWithoutSubscribersOrWhenNobodyMoved() {
        c.committed(1, 100);
        assertThat(c.pendingCount()).isZero();
        c.join(1);
        c.committed(2, 100);
        c.leave(1);
        assertThat(timer.count()).isZero();
        assertThat(c.pendingCount()).isZero();
    }

    @Test
    void outOfOrderAnnouncementsStaySorted() {
        c.join(0);
        c.committed(3, 100);
        c.committed(2, 100);
        c.move(0, 2);
        assertThat(timer.count()).isEqualTo(1);
        assertThat(c.pendingCount()).isEqualTo(1);
    }
}
