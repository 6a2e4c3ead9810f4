package io.mocket.controlplane.index;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A concurrent one-to-many index (namespace to pods, node to pods, ...). Writers are serialized by the
 * ambient index; readers may iterate while a writer changes it and then see a weakly consistent view.
 */
final class SecondaryIndex<K, V> {
    private final Map<K, Set<V>> entries = new ConcurrentHashMap<>();

    void add(K key, V value) {
        if (key != null) {
            entries.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet()).add(value);
        }
    }

    void remove(K key, V value) {
        if (key == null) {
            return;
        }
        entries.computeIfPresent(key, (k, set) -> {
            set.remove(value);
            return set.isEmpty() ? null : set;
        });
    }

    /** Moves {@code value} from {@code oldKey} to {@code newKey}; either may be null. */
    void move(K oldKey, K newKey, V value) {
        if (oldKey != null && oldKey.equals(newKey)) {
            return;
        }
        remove(oldKey, value);
        add(newKey, value);
    }

    /** A live, unmodifiable-by-contract view; empty when nothing is indexed under {@code key}. */
    Set<V> get(K key) {
        Set<V> set = key == null ? null : entries.get(key);
        return set == null ? Set.of() : set;
    }
}
