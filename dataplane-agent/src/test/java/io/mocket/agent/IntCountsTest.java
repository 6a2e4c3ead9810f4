package io.mocket.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class IntCountsTest {

    @Test
    void countsAsABoxedMapWouldUnderRandomAddsAndRemovals() {
        IntCounts counts = new IntCounts();
        Map<Integer, Integer> expected = new HashMap<>();
        Random random = new Random(7);
        for (int n = 0; n < 200_000; n++) {
            // Few distinct keys, some of them colliding in their low bits, and key 0: removals shift chains.
            int key = random.nextInt(3) == 0 ? random.nextInt(64) << 16 : random.nextInt(2_000) - 1_000;
            int delta = random.nextInt(5) - 2;
            int now = counts.add(key, delta);
            int want = expected.getOrDefault(key, 0) + delta;
            if (want == 0) {
                expected.remove(key);
            } else {
                expected.put(key, want);
            }
            assertEquals(want, now);
            if (n % 10_000 == 0) {
                Map<Integer, Integer> seen = new HashMap<>();
                counts.forEach(seen::put);
                assertEquals(expected, seen);
                assertEquals(expected.size(), counts.size());
                expected.forEach((k, v) -> assertEquals(v, counts.get(k)));
            }
        }
        counts.clear();
        assertEquals(0, counts.size());
        assertEquals(0, counts.get(5));
    }
}
