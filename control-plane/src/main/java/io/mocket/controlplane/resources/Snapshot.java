package io.mocket.controlplane.resources;

import java.util.Collection;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

/**
 * Every served resource at one generation. Immutable and safe to share between threads: a stream
 * keeps the snapshot it last sent and compares it with the newest through {@link ResourceStore#changes}.
 */
public final class Snapshot {
    private final long generation;
    private final Map<ResourceType, Map<String, XdsResource>> byType;
    private final Map<String, String> aliases;

    Snapshot(long generation, Map<ResourceType, Map<String, XdsResource>> byType, Map<String, String> aliases) {
        this.generation = generation;
        this.byType = byType;
        this.aliases = aliases;
    }

    static Snapshot empty() {
        EnumMap<ResourceType, Map<String, XdsResource>> m = new EnumMap<>(ResourceType.class);
        for (ResourceType t : ResourceType.values()) {
            m.put(t, Map.of());
        }
        return new Snapshot(0, m, Map.of());
    }

    /** Increases by one with every commit that changed something; 0 before the first. */
    public long generation() {
        return generation;
    }

    /** The resource with canonical name {@code name}, or null. */
    public XdsResource get(ResourceType type, String name) {
        return byType.get(type).get(name);
    }

    /**
     * The resource a client means by {@code name}: the canonical name first, then (Address only) an
     * alias such as "/10.1.2.3" or "network/10.1.2.3".
     */
    public Optional<XdsResource> resolve(ResourceType type, String name) {
        XdsResource r = get(type, name);
        if (r == null && type == ResourceType.ADDRESS) {
            String canonical = aliases.get(name);
            if (canonical != null) {
                r = get(type, canonical);
            }
        }
        return Optional.ofNullable(r);
    }

    /** The canonical name that owns alias {@code alias}, or null. */
    public String canonicalNameOfAlias(String alias) {
        return aliases.get(alias);
    }

    public Collection<XdsResource> all(ResourceType type) {
        return byType.get(type).values();
    }

    /** Unmodifiable map of canonical name to resource. */
    public Map<String, XdsResource> byName(ResourceType type) {
        return byType.get(type);
    }

    public int size(ResourceType type) {
        return byType.get(type).size();
    }

    /** Unmodifiable map of alias to canonical name (Address aliases). */
    public Map<String, String> aliases() {
        return aliases;
    }
}
