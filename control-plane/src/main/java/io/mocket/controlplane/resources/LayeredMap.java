package io.mocket.controlplane.resources;

import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * An immutable map made of a large shared base and a small overlay of the entries changed since the base was
 * built. It lets every commit make a new snapshot map by copying only the overlay, not every served resource:
 * with a flat copy, a one-pod change in a 10,000-pod cluster copied 11,000 entries (and as many aliases) on
 * the commit path. When the overlay outgrows about the square root of the base, the two are merged into a new
 * base, so a commit copies O(√n) entries amortized and reads stay two hash lookups at most.
 *
 * <p>Null keys and values are not allowed. Thread safe (immutable once built).
 */
final class LayeredMap<K, V> extends AbstractMap<K, V> {
    private static final int MIN_OVERLAY = 32;

    private final Map<K, V> base;
    /** Changed entries; a null value means the base's entry was removed. */
    private final Map<K, V> overlay;
    private final int size;
    private Set<Entry<K, V>> entries;

    private LayeredMap(Map<K, V> base, Map<K, V> overlay, int size) {
        this.base = base;
        this.overlay = overlay;
        this.size = size;
    }

    /** Starts the next version of {@code map}; {@code map} itself is not changed. */
    static <K, V> Edit<K, V> edit(Map<K, V> map) {
        return new Edit<>(map instanceof LayeredMap<K, V> l ? l : new LayeredMap<>(map, Collections.emptyMap(), map.size()));
    }

    @Override
    public V get(Object key) {
        if (key == null) {
            return null;
        }
        V v = overlay.get(key);
        if (v != null || overlay.containsKey(key)) {
            return v;
        }
        return base.get(key);
    }

    @Override
    public boolean containsKey(Object key) {
        return get(key) != null;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public Set<Entry<K, V>> entrySet() {
        Set<Entry<K, V>> e = entries;
        if (e == null) {
            e = new EntrySet();
            entries = e;
        }
        return e;
    }

    /** Base entries not overridden, then the overlay's present entries; all read-only. */
    private final class EntrySet extends AbstractSet<Entry<K, V>> {
        @Override
        public int size() {
            return size;
        }

        @Override
        public Iterator<Entry<K, V>> iterator() {
            return new Iterator<>() {
                private final Iterator<Entry<K, V>> fromBase = base.entrySet().iterator();
                private final Iterator<Entry<K, V>> fromOverlay = overlay.entrySet().iterator();
                private Entry<K, V> next = advance();

                private Entry<K, V> advance() {
                    while (fromBase.hasNext()) {
                        Entry<K, V> e = fromBase.next();
                        if (!overlay.containsKey(e.getKey())) {
                            return new SimpleImmutableEntry<>(e);
                        }
                    }
                    while (fromOverlay.hasNext()) {
                        Entry<K, V> e = fromOverlay.next();
                        if (e.getValue() != null) {
                            return new SimpleImmutableEntry<>(e);
                        }
                    }
                    return null;
                }

                @Override
                public boolean hasNext() {
                    return next != null;
                }

                @Override
                public Entry<K, V> next() {
                    if (next == null) {
                        throw new NoSuchElementException();
                    }
                    Entry<K, V> e = next;
                    next = advance();
                    return e;
                }
            };
        }
    }

    /** The changes of one commit to one map, read through ({@link #get}) while they are made. Not thread safe. */
    static final class Edit<K, V> {
        private final LayeredMap<K, V> from;
        private final Map<K, V> changes = new HashMap<>();

        private Edit(LayeredMap<K, V> from) {
            this.from = from;
        }

        V get(K key) {
            V v = changes.get(key);
            if (v != null || changes.containsKey(key)) {
                return v;
            }
            return from.get(key);
        }

        void put(K key, V value) {
            changes.put(key, value);
        }

        void remove(K key) {
            changes.put(key, null);
        }

        /** Removes {@code key} only while it maps to {@code value}. */
        void remove(K key, V value) {
            if (value.equals(get(key))) {
                remove(key);
            }
        }

        /** The new map: the old one with the changes applied. */
        Map<K, V> build() {
            if (changes.isEmpty()) {
                return from;
            }
            int size = from.size;
            Map<K, V> overlay = new HashMap<>(from.overlay);
            for (Entry<K, V> c : changes.entrySet()) {
                boolean had = from.get(c.getKey()) != null;
                boolean has = c.getValue() != null;
                size += (has ? 1 : 0) - (had ? 1 : 0);
                if (has || from.base.containsKey(c.getKey())) {
                    overlay.put(c.getKey(), c.getValue());
                } else {
                    overlay.remove(c.getKey()); // never in the base: nothing to hide
                }
            }
            if (overlay.size() > Math.max(MIN_OVERLAY, (int) Math.sqrt(from.base.size()))) {
                Map<K, V> merged = new HashMap<>(from.base);
                overlay.forEach((k, v) -> {
                    if (v == null) {
                        merged.remove(k);
                    } else {
                        merged.put(k, v);
                    }
                });
                return new LayeredMap<>(Collections.unmodifiableMap(merged), Collections.emptyMap(), size);
            }
            return new LayeredMap<>(from.base, Collections.unmodifiableMap(overlay), size);
        }
    }
}
