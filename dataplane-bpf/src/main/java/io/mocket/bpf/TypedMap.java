package io.mocket.bpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A BPF map seen through the codecs of its key and value records. Every call is one or a few bpf(2) calls
 * with native memory scoped to the call; safe from any thread, no caching (the kernel is the state).
 */
public final class TypedMap<K, V> {

    private final BpfMap map;
    private final BpfCodec<K> keyCodec;
    private final BpfCodec<V> valueCodec;

    TypedMap(BpfMap map, BpfCodec<K> keyCodec, BpfCodec<V> valueCodec) {
        this.map = map;
        this.keyCodec = keyCodec;
        this.valueCodec = valueCodec;
    }

    /** The underlying map. */
    public BpfMap map() {
        return map;
    }

    /** Creates or replaces an element. */
    public void put(K key, V value) {
        put(key, value, BpfMap.UPDATE_ANY);
    }

    /** Writes an element with {@code BPF_ANY}, {@code BPF_NOEXIST} or {@code BPF_EXIST} semantics. */
    public void put(K key, V value, long flags) {
        try (Arena arena = Arena.ofConfined()) {
            map.update(encodeKey(key, arena), encodeValue(value, arena), flags);
        }
    }

    /** The value of a key, if present. */
    public Optional<V> get(K key) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(valueCodec.layout());
            if (!map.lookup(encodeKey(key, arena), value)) {
                return Optional.empty();
            }
            return Optional.of(valueCodec.decode(value));
        }
    }

    /** Deletes a key; false if it was absent. */
    public boolean remove(K key) {
        try (Arena arena = Arena.ofConfined()) {
            return map.delete(encodeKey(key, arena));
        }
    }

    /**
     * Reads and deletes a key in one call, so nothing written before the delete is lost; empty if the
     * key is absent.
     */
    public Optional<V> take(K key) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(valueCodec.layout());
            if (!map.lookupAndDelete(encodeKey(key, arena), value)) {
                return Optional.empty();
            }
            return Optional.of(valueCodec.decode(value));
        }
    }

    /** Every key, walked with get_next_key (a key deleted meanwhile may restart the walk in the kernel). */
    public List<K> keys() {
        List<K> keys = new ArrayList<>();
        walkKeys(key -> keys.add(keyCodec.decode(key)));
        return keys;
    }

    /**
     * How many elements the map holds now (for gauges): read with batch lookups of 1,024 elements into one
     * buffer, nothing decoded, so a map of 20,000 elements costs about 20 calls and no object per element. A
     * map type without batch lookups is walked key by key.
     */
    public int count() {
        int[] total = {0};
        try {
            lookupAll(1024, (keys, values, n) -> total[0] += n);
            return total[0];
        } catch (BpfException e) {
            return countByWalking();
        }
    }

    int countByWalking() {
        int[] n = {0};
        walkKeys(key -> n[0]++);
        return n[0];
    }

    /** A snapshot of all elements, read with batch lookups (kernel 5.6+). */
    public Map<K, V> entries() {
        Map<K, V> result = new LinkedHashMap<>();
        lookupAll(256, (keys, values, n) -> {
            for (int i = 0; i < n; i++) {
                result.put(keyCodec.decode(keys.asSlice(i * keyCodec.byteSize(), keyCodec.byteSize())),
                        valueCodec.decode(values.asSlice(i * valueCodec.byteSize(), valueCodec.byteSize())));
            }
        });
        return result;
    }

    /** Hands each key of a get_next_key walk to {@code each}, as raw bytes valid during the call. */
    private void walkKeys(java.util.function.Consumer<MemorySegment> each) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment current = arena.allocate(keyCodec.layout());
            MemorySegment next = arena.allocate(keyCodec.layout());
            MemorySegment prev = MemorySegment.NULL;
            // Bounded: a walk never yields more keys than the map can hold, even if it is changing.
            for (int i = 0; i <= map.maxEntries() && map.nextKey(prev, next); i++) {
                each.accept(next);
                MemorySegment.copy(next, 0, current, 0, keyCodec.byteSize());
                prev = current;
            }
        }
    }

    /** A batch of elements as the kernel wrote them: {@code n} keys and values, valid during the call. */
    @FunctionalInterface
    private interface Batch {
        void accept(MemorySegment keys, MemorySegment values, int n);
    }

    /** Reads every element with batch lookups of up to {@code capacity} elements (kernel 5.6+), batch by batch. */
    private void lookupAll(int capacity, Batch batch) {
        try (Arena arena = Arena.ofConfined()) {
            long tokenSize = Math.max(8, keyCodec.byteSize());
            MemorySegment inBatch = arena.allocate(tokenSize, 8);
            MemorySegment outBatch = arena.allocate(tokenSize, 8);
            MemorySegment in = MemorySegment.NULL;
            MemorySegment keys = arena.allocate(keyCodec.layout(), capacity);
            MemorySegment values = arena.allocate(valueCodec.layout(), capacity);
            boolean[] done = {false};
            for (int round = 0; !done[0] && round <= map.maxEntries(); round++) {
                int n = map.lookupBatch(in, outBatch, keys, values, capacity, done, arena);
                if (n < 0) {
                    capacity *= 4; // one hash bucket holds more than the buffer: retry from the same token
                    keys = arena.allocate(keyCodec.layout(), capacity);
                    values = arena.allocate(valueCodec.layout(), capacity);
                    continue;
                }
                batch.accept(keys, values, n);
                MemorySegment.copy(outBatch, 0, inBatch, 0, tokenSize);
                in = inBatch;
            }
        }
    }

    /** Writes many elements in one batch update (kernel 5.6+); BPF_ANY semantics. */
    public void putAll(Map<K, V> elements) {
        if (elements.isEmpty()) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            int n = elements.size();
            // Arena memory starts zeroed: padding is zero without the codecs' fill, one slice per element.
            MemorySegment keys = arena.allocate(keyCodec.layout(), n);
            MemorySegment values = arena.allocate(valueCodec.layout(), n);
            int i = 0;
            for (Map.Entry<K, V> e : elements.entrySet()) {
                keyCodec.encoder().accept(e.getKey(), keys.asSlice(i * keyCodec.byteSize(), keyCodec.byteSize()));
                valueCodec.encoder().accept(e.getValue(),
                        values.asSlice(i * valueCodec.byteSize(), valueCodec.byteSize()));
                i++;
            }
            map.updateBatch(keys, values, n, BpfMap.UPDATE_ANY, arena);
        }
    }

    /**
     * Deletes many keys; keys that are absent are skipped. Returns how many were deleted.
     * The kernel's batch delete stops at the first absent key, so the rest is retried one by one.
     */
    public int removeAll(Collection<K> keysToDelete) {
        if (keysToDelete.isEmpty()) {
            return 0;
        }
        List<K> list = List.copyOf(keysToDelete);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment keys = arena.allocate(keyCodec.layout(), list.size());
            for (int i = 0; i < list.size(); i++) {
                keyCodec.encoder().accept(list.get(i), keys.asSlice(i * keyCodec.byteSize(), keyCodec.byteSize()));
            }
            int deleted = map.deleteBatch(keys, list.size(), arena);
            if (deleted == list.size()) {
                return deleted;
            }
            for (int i = deleted; i < list.size(); i++) {
                if (map.delete(keys.asSlice(i * keyCodec.byteSize(), keyCodec.byteSize()))) {
                    deleted++;
                }
            }
            return deleted;
        }
    }

    private MemorySegment encodeKey(K key, Arena arena) {
        MemorySegment segment = arena.allocate(keyCodec.layout());
        keyCodec.encode(key, segment);
        return segment;
    }

    private MemorySegment encodeValue(V value, Arena arena) {
        MemorySegment segment = arena.allocate(valueCodec.layout());
        valueCodec.encode(value, segment);
        return segment;
    }
}
