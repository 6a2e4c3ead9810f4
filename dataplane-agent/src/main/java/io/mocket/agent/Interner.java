package io.mocket.agent;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Hands out one shared instance per equal value (namespaces, node names, localities, port lists), so a store
 * of many workloads holds each repeated value once. Bounded: past {@link #LIMIT} distinct values it starts
 * afresh, which only costs sharing, never correctness. Thread-safe: the decoding threads of one response share it.
 */
final class Interner {
    static final int LIMIT = 1 << 16;

    private final Map<Object, Object> values = new ConcurrentHashMap<>();

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
        held = values.putIfAbsent(value, value);
        return held != null ? (T) held : value;
    }

    int size() {
        return values.size();
    }
}
