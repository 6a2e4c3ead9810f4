package io.mocket.agent;

import java.util.HashMap;
import java.util.Map;

/**
 * Hands out one shared instance per equal value (namespaces, node names, localities, port lists), so a store
 * of many workloads holds each repeated value once. Bounded: past {@link #LIMIT} distinct values it starts
 * afresh, which only costs sharing, never correctness. Not thread-safe: owned by the store's writer.
 */
final class Interner {
    static final int LIMIT = 1 << 16;

    private final Map<Object, Object> values = new HashMap<>();

    @SuppressWarnings("unchecked")
    <T> T intern(T value) {
        if (value == null) {
            return null;
        }
        Object held = values.get(value);
        if (held != null) {
            return (T) held;
        }
        if (values.size() >= LIMIT) {
            values.clear();
        }
        values.put(value, value);
        return value;
    }

    int size() {
        return values.size();
    }
}
