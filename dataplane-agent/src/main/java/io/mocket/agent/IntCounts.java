package io.mocket.agent;

import java.util.Arrays;

/**
 * Counts per int key (backend id to the slots that refer to it), with no boxing: open addressing, linear
 * probing, the key mixed before it picks a bucket. Backend ids are FNV hashes of similar texts; a pass adds and
 * subtracts tens of thousands of references, which in a boxed {@code HashMap} cost an {@code Integer} each and
 * long collision chains. A count that reaches 0 is removed. Not thread-safe.
 */
final class IntCounts {

    /** Key 0 marks an empty bucket; its own count is kept aside. */
    private int[] keys = new int[64];
    private int[] values = new int[64];
    private int size;
    private int zero;

    /** The count of a key, 0 if none. */
    int get(int key) {
        if (key == 0) {
            return zero;
        }
        int mask = keys.length - 1;
        for (int i = mix(key) & mask; ; i = (i + 1) & mask) {
            int k = keys[i];
            if (k == key) {
                return values[i];
            }
            if (k == 0) {
                return 0;
            }
        }
    }

    /** Adds {@code delta} to the count of {@code key}; returns the new count. */
    int add(int key, int delta) {
        if (key == 0) {
            zero += delta;
            return zero;
        }
        int mask = keys.length - 1;
        for (int i = mix(key) & mask; ; i = (i + 1) & mask) {
            int k = keys[i];
            if (k == key) {
                int v = values[i] + delta;
                if (v == 0) {
                    removeAt(i);
                } else {
                    values[i] = v;
                }
                return v;
            }
            if (k == 0) {
                if (delta != 0) {
                    keys[i] = key;
                    values[i] = delta;
                    if (++size * 2 > keys.length) {
                        grow();
                    }
                }
                return delta;
            }
        }
    }

    /** Keys with a count other than 0, in no order. */
    int size() {
        return size + (zero != 0 ? 1 : 0);
    }

    /** Calls {@code action} with every key whose count is not 0, in no order. */
    void forEach(IntIntConsumer action) {
        if (zero != 0) {
            action.accept(0, zero);
        }
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != 0) {
                action.accept(keys[i], values[i]);
            }
        }
    }

    void clear() {
        Arrays.fill(keys, 0);
        Arrays.fill(values, 0);
        size = 0;
        zero = 0;
    }

    /** A key and its count. */
    @FunctionalInterface
    interface IntIntConsumer {
        void accept(int key, int count);
    }

    /** Backward-shift deletion: the entries after a removed one move up so that no probe stops early. */
    private void removeAt(int hole) {
        int mask = keys.length - 1;
        int i = hole;
        for (int j = (i + 1) & mask; keys[j] != 0; j = (j + 1) & mask) {
            int home = mix(keys[j]) & mask;
            // Move j into the hole unless its home lies cyclically in (i, j].
            boolean stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays) {
                keys[i] = keys[j];
                values[i] = values[j];
                i = j;
            }
        }
        keys[i] = 0;
        values[i] = 0;
        size--;
    }

    private void grow() {
        int[] oldKeys = keys;
        int[] oldValues = values;
        keys = new int[oldKeys.length * 2];
        values = new int[oldKeys.length * 2];
        int mask = keys.length - 1;
        for (int n = 0; n < oldKeys.length; n++) {
            int k = oldKeys[n];
            if (k != 0) {
                int i = mix(k) & mask;
                while (keys[i] != 0) {
                    i = (i + 1) & mask;
                }
                keys[i] = k;
                values[i] = oldValues[n];
            }
        }
    }

    /** The finalizer of MurmurHash3: every input bit moves about half of the output bits. */
    private static int mix(int h) {
        h ^= h >>> 16;
        h *= 0x85ebca6b;
        h ^= h >>> 13;
        h *= 0xc2b2ae35;
        h ^= h >>> 16;
        return h;
    }
}
