package io.mocket.controlplane.resources;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LayeredMapTest {

    @Test
    void everyVersionReadsLikeAPlainMapAndOldVersionsStayAsTheyWere() {
        Random random = new Random(42);
        Map<String, Integer> model = new HashMap<>();
        Map<String, Integer> current = Map.of();
        for (int commit = 0; commit < 2_000; commit++) {
            Map<String, Integer> before = current;
            Map<String, Integer> beforeModel = Map.copyOf(model);
            LayeredMap.Edit<String, Integer> edit = LayeredMap.edit(current);
            // Mostly small commits, sometimes a large one, as the index makes them.
            int changes = commit % 97 == 0 ? 500 : 1 + random.nextInt(5);
            for (int c = 0; c < changes; c++) {
                String key = "k" + random.nextInt(3_000);
                if (random.nextInt(4) == 0) {
                    edit.remove(key);
                    model.remove(key);
                } else {
                    int value = random.nextInt();
                    edit.put(key, value);
                    model.put(key, value);
                }
                assertThat(edit.get(key)).isEqualTo(model.get(key));
            }
            current = edit.build();
            assertThat(current).isEqualTo(model).hasSize(model.size());
            assertThat(current.keySet()).containsExactlyInAnyOrderElementsOf(model.keySet());
            assertThat(before).as("the previous version is not changed").isEqualTo(beforeModel);
        }
    }

    @Test
    void conditionalRemoveOnlyRemovesTheExpectedValue() {
        LayeredMap.Edit<String, String> edit = LayeredMap.edit(Map.of("/10.0.0.1", "a", "/10.0.0.2", "b"));
        edit.remove("/10.0.0.1", "b");
        edit.remove("/10.0.0.2", "b");
        assertThat(edit.build()).containsExactly(Map.entry("/10.0.0.1", "a"));
    }

    @Test
    void isReadOnlyAndToleratesNullLookups() {
        Map<String, String> m = LayeredMap.edit(Map.<String, String>of()).build();
        LayeredMap.Edit<String, String> edit = LayeredMap.edit(m);
        edit.put("a", "1");
        Map<String, String> built = edit.build();
        assertThat(built.get(null)).isNull();
        assertThat(built.containsKey(null)).isFalse();
        assertThatThrownBy(() -> built.put("b", "2")).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> built.entrySet().iterator().next().setValue("x"))
                .isInstanceOf(UnsupportedOperationException.class);
    }
}
