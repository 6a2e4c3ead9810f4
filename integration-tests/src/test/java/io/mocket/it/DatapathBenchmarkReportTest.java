package io.mocket.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mocket.it.DatapathBenchmark.Interval;
import io.mocket.it.DatapathBenchmark.WrkRun;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The benchmark's arithmetic: per-round ratios, the median's interval and the verdict wording. No root needed. */
class DatapathBenchmarkReportTest {

    private static WrkRun run(double rps) {
        return new WrkRun(rps, 0, 0, 0, 0, (long) rps, 0, 100);
    }

    @Test
    void ratiosPairTheRunsOfOneRound() {
        List<Double> ratios = DatapathBenchmark.ratios(List.of(run(90), run(200)), List.of(run(100), run(250)),
                WrkRun::requestsPerSecond);
        assertEquals(List.of(0.9, 0.8), ratios);
    }

    @Test
    void intervalOfElevenSamplesDropsOneAtEachEnd() {
        // n = 11: k = 2 covers 1 - 2 * 12/2048 = 98.8 %; k = 3 would cover only 93.5 %.
        List<Double> values = IntStream.rangeClosed(1, 11).mapToObj(i -> (double) i).toList();
        Interval interval = Interval.ofMedian(values.reversed());
        assertEquals(2.0, interval.low());
        assertEquals(10.0, interval.high());
        assertEquals(1 - 2 * 12 / 2048.0, interval.coverage(), 1e-12);
    }

    @Test
    void intervalOfFewSamplesIsTheRangeWithItsLowerCoverage() {
        Interval interval = Interval.ofMedian(List.of(3.0, 1.0, 2.0));
        assertEquals(1.0, interval.low());
        assertEquals(3.0, interval.high());
        assertEquals(0.75, interval.coverage(), 1e-12);
    }

    @Test
    void intervalOfManySamplesNarrowsTowardsTheMedian() {
        // n = 50: the interval is the 18th to the 33rd value (coverage 96.7 %).
        List<Double> values = IntStream.rangeClosed(1, 50).mapToObj(i -> (double) i).toList();
        Interval interval = Interval.ofMedian(values);
        assertEquals(18.0, interval.low());
        assertEquals(33.0, interval.high());
        assertTrue(interval.coverage() >= 0.95 && interval.coverage() < 0.975, "coverage " + interval.coverage());
    }

    @Test
    void verdictSaysWhenTheIntervalHoldsTheTarget() {
        List<Double> clear = List.of(0.98, 0.99, 1.0, 1.01, 0.985, 0.995, 1.02);
        assertTrue(DatapathBenchmark.verdict(clear, 0.97).endsWith("(met)"), DatapathBenchmark.verdict(clear, 0.97));
        List<Double> below = List.of(0.90, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96);
        assertTrue(DatapathBenchmark.verdict(below, 0.97).endsWith("(NOT met)"));
        List<Double> spanning = List.of(0.95, 0.96, 0.965, 0.975, 0.98, 0.99, 1.0);
        assertEquals("0.975 x, interval 0.950-1.000 (met by the median; the interval holds the target)",
                DatapathBenchmark.verdict(spanning, 0.97));
        assertEquals("0.990 x, interval 0.980-1.000 (met by the median; too few rounds for a 95 % interval)",
                DatapathBenchmark.verdict(List.of(0.98, 1.0, 0.99), 0.97));
    }

    @Test
    void optionsRefuseAPathListWithoutTheBaselineAndAnOptionWithoutValue() {
        IllegalArgumentException noBaseline = assertThrows(IllegalArgumentException.class,
                () -> DatapathBenchmark.Options.parse(new String[] {"--paths", "mocket"}));
        assertTrue(noBaseline.getMessage().contains("--paths direct,mocket"), noBaseline.getMessage());
        IllegalArgumentException noValue = assertThrows(IllegalArgumentException.class,
                () -> DatapathBenchmark.Options.parse(new String[] {"--rounds", "3", "--seconds"}));
        assertEquals("option --seconds needs a value", noValue.getMessage());
        assertEquals(List.of(DatapathBenchmark.DataPath.DIRECT, DatapathBenchmark.DataPath.MOCKET),
                DatapathBenchmark.Options.parse(new String[] {"--paths", "mocket,direct"}).paths());
    }
}
