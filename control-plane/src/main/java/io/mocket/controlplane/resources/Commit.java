package io.mocket.controlplane.resources;

import java.util.EnumMap;
import java.util.Map;
import java.util.Set;

/**
 * What one store commit changed: the names whose content changed or appeared, and the names that went
 * away, per type. Immutable.
 *
 * @param generation      the generation this commit produced
 * @param updated         names added or changed, per type (types with no change are absent)
 * @param removed         names removed, per type (types with no change are absent)
 * @param firstEventNanos {@link System#nanoTime()} of the earliest source event folded into this commit,
 *                        the start of the convergence clock
 */
public record Commit(long generation, Map<ResourceType, Set<String>> updated, Map<ResourceType, Set<String>> removed,
                     long firstEventNanos) {

    public Commit {
        updated = freeze(updated);
        removed = freeze(removed);
    }

    public Set<String> updated(ResourceType type) {
        return updated.getOrDefault(type, Set.of());
    }

    public Set<String> removed(ResourceType type) {
        return removed.getOrDefault(type, Set.of());
    }

    /** True when this commit changed anything of {@code type}. */
    public boolean touches(ResourceType type) {
        return updated.containsKey(type) || removed.containsKey(type);
    }

    private static Map<ResourceType, Set<String>> freeze(Map<ResourceType, Set<String>> in) {
        EnumMap<ResourceType, Set<String>> out = new EnumMap<>(ResourceType.class);
        in.forEach((t, names) -> {
            if (!names.isEmpty()) {
                out.put(t, Set.copyOf(names));
            }
        });
        return Map.copyOf(out);
    }
}
