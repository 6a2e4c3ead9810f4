package io.mocket.bpf;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A kernel BPF map reached through a file descriptor, with the shape the kernel reports for it. Either
 * borrowed from a loaded {@link BpfObject} (valid until that object closes) or opened from a pin (owned:
 * {@link #close()} releases it). Element operations are bpf(2) calls and safe from any thread.
 */
public final class BpfMap implements AutoCloseable {

    /** {@code BPF_ANY}: create or replace. */
    public static final long UPDATE_ANY = 0;
    /** {@code BPF_NOEXIST}: create only. */
    public static final long UPDATE_NOEXIST = 1;
    /** {@code BPF_EXIST}: replace only. */
    public static final long UPDATE_EXIST = 2;

    private final Libbpf libbpf;
    private final String name;
    /** "map <name>", made once: errno checks name the map on every call. */
    private final String label;
    private final int fd;
    private final boolean ownsFd;
    private final int type;
    private final int keySize;
    private final int valueSize;
    private final int maxEntries;

    private BpfMap(Libbpf libbpf, String name, int fd, boolean ownsFd) {
        this.libbpf = libbpf;
        this.fd = fd;
        this.ownsFd = ownsFd;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = arena.allocate(Libbpf.MAP_INFO);
            libbpf.objInfo(fd, info, "map " + name);
            this.type = info.get(JAVA_INT, 0);
            this.keySize = info.get(JAVA_INT, 8);
            this.valueSize = info.get(JAVA_INT, 12);
            this.maxEntries = info.get(JAVA_INT, 16);
            this.name = name != null ? name : info.asSlice(24, 16).getString(0);
            this.label = "map " + this.name;
        } catch (RuntimeException e) {
            if (ownsFd) {
                Libc.close(fd);
            }
            throw e;
        }
    }

    /** {@code BPF_MAP_TYPE_PERCPU_HASH}. */
    public static final int TYPE_PERCPU_HASH = 5;
    /** {@code BPF_MAP_TYPE_LRU_HASH}. */
    public static final int TYPE_LRU_HASH = 9;
    /** {@code BPF_MAP_TYPE_HASH}. */
    public static final int TYPE_HASH = 1;
    /** {@code BPF_MAP_TYPE_SK_STORAGE}. */
    public static final int TYPE_SK_STORAGE = 24;

    /** Whether user space sees one value per CPU (percpu hash 5, percpu array 6, LRU percpu hash 10). */
    static boolean isPerCpu(int mapType) {
        return mapType == 5 || mapType == 6 || mapType == 10;
    }

    /** A map of a loaded object; the fd stays owned by the object. */
    static BpfMap borrowed(Libbpf libbpf, String name, int fd) {
        return new BpfMap(libbpf, name, fd, false);
    }

    /**
     * Opens a map pinned on bpffs. The returned map owns its fd and keeps the map alive until closed.
     *
     * @throws BpfException ENOENT if nothing is pinned there (or bpffs is not mounted)
     */
    public static BpfMap openPinned(Libbpf libbpf, Path pin) {
        int fd = libbpf.objGet(pin.toString());
        return new BpfMap(libbpf, null, fd, true);
    }

    /** The map's name as the kernel knows it (at most 15 characters). */
    public String name() {
        return name;
    }

    /** The map's fd, valid while this map (or its owning object) is open. */
    public int fd() {
        return fd;
    }

    /** The {@code enum bpf_map_type} value. */
    public int type() {
        return type;
    }

    public int keySize() {
        return keySize;
    }

    public int valueSize() {
        return valueSize;
    }

    public int maxEntries() {
        return maxEntries;
    }

    /**
     * A typed view of this map.
     *
     * @throws IllegalStateException if the codecs do not match the kernel's key or value size, e.g. a map
     *                               pinned by another Mocket version
     */
    public <K, V> TypedMap<K, V> typed(BpfCodec<K> keyCodec, BpfCodec<V> valueCodec) {
        // A per-CPU map hands user space one value per possible CPU, each rounded up to 8 bytes.
        long userValueSize = isPerCpu(type) ? PerCpu.slotSize(valueSize) * PerCpu.possibleCpus() : valueSize;
        if (keyCodec.byteSize() != keySize || valueCodec.byteSize() != userValueSize) {
            throw new IllegalStateException("map " + name + " has key/value size " + keySize + "/" + userValueSize
                    + " bytes, this build expects " + keyCodec.byteSize() + "/" + valueCodec.byteSize()
                    + ": it was created by another Mocket version; remove its pin and restart the agent");
        }
        return new TypedMap<>(this, keyCodec, valueCodec);
    }

    /** Writes one element; {@code flags} is one of the UPDATE_ constants. */
    void update(MemorySegment key, MemorySegment value, long flags) {
        Libbpf.check(libbpf.mapUpdate(fd, key, value, flags), "bpf_map_update_elem", label);
    }

    /** Reads one element into {@code value}; false if the key is absent. */
    boolean lookup(MemorySegment key, MemorySegment value) {
        int rc = libbpf.mapLookup(fd, key, value);
        if (rc == -Errno.ENOENT.number()) {
            return false;
        }
        Libbpf.check(rc, "bpf_map_lookup_elem", label);
        return true;
    }

    /** Reads one element into {@code value} and deletes it in the same call; false if the key is absent. */
    boolean lookupAndDelete(MemorySegment key, MemorySegment value) {
        int rc = libbpf.mapLookupAndDelete(fd, key, value);
        if (rc == -Errno.ENOENT.number()) {
            return false;
        }
        Libbpf.check(rc, "bpf_map_lookup_and_delete_elem", label);
        return true;
    }

    /** Deletes one element; false if it was absent. */
    boolean delete(MemorySegment key) {
        int rc = libbpf.mapDelete(fd, key);
        if (rc == -Errno.ENOENT.number()) {
            return false;
        }
        Libbpf.check(rc, "bpf_map_delete_elem", label);
        return true;
    }

    /** Writes the key after {@code key} (NULL: the first) into {@code next}; false at the end. */
    boolean nextKey(MemorySegment key, MemorySegment next) {
        int rc = libbpf.mapNextKey(fd, key, next);
        if (rc == -Errno.ENOENT.number()) {
            return false;
        }
        Libbpf.check(rc, "bpf_map_get_next_key", label);
        return true;
    }

    /**
     * One step of a batch lookup. Returns the number of elements written; {@code done[0]} is set once the
     * map is exhausted. ENOSPC (a bucket larger than the buffer) is reported as -1 so the caller can grow.
     */
    int lookupBatch(MemorySegment inBatch, MemorySegment outBatch, MemorySegment keys, MemorySegment values,
                    int capacity, boolean[] done, Arena arena) {
        MemorySegment count = arena.allocate(JAVA_INT);
        count.set(JAVA_INT, 0, capacity);
        MemorySegment opts = batchOpts(arena);
        int rc = libbpf.mapLookupBatch(fd, inBatch, outBatch, keys, values, count, opts);
        if (rc == -Errno.ENOENT.number()) {
            done[0] = true;
            return count.get(JAVA_INT, 0);
        }
        if (rc == -Errno.ENOSPC.number()) {
            return -1;
        }
        Libbpf.check(rc, "bpf_map_lookup_batch", label);
        return count.get(JAVA_INT, 0);
    }

    /** Writes {@code n} elements in one call; all or an error naming how many were written. */
    void updateBatch(MemorySegment keys, MemorySegment values, int n, long flags, Arena arena) {
        MemorySegment count = arena.allocate(JAVA_INT);
        count.set(JAVA_INT, 0, n);
        MemorySegment opts = batchOpts(arena);
        opts.set(java.lang.foreign.ValueLayout.JAVA_LONG, 8, flags);
        int rc = libbpf.mapUpdateBatch(fd, keys, values, count, opts);
        if (rc < 0) {
            throw BpfException.withDetail("bpf_map_update_batch", label, -rc,
                    count.get(JAVA_INT, 0) + " of " + n + " elements were written");
        }
    }

    /** Deletes {@code n} keys in one call; ENOENT for a missing key stops the batch there. */
    int deleteBatch(MemorySegment keys, int n, Arena arena) {
        MemorySegment count = arena.allocate(JAVA_INT);
        count.set(JAVA_INT, 0, n);
        int rc = libbpf.mapDeleteBatch(fd, keys, count, batchOpts(arena));
        if (rc < 0 && rc != -Errno.ENOENT.number()) {
            throw BpfException.withDetail("bpf_map_delete_batch", label, -rc,
                    count.get(JAVA_INT, 0) + " of " + n + " elements were deleted");
        }
        return count.get(JAVA_INT, 0);
    }

    private static MemorySegment batchOpts(Arena arena) {
        MemorySegment opts = arena.allocate(Libbpf.BATCH_OPTS);
        opts.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, Libbpf.BATCH_OPTS.byteSize());
        return opts;
    }

    /** Bytes of a key, for messages. */
    byte[] keyBytes(MemorySegment key) {
        return key.asSlice(0, keySize).toArray(JAVA_BYTE);
    }

    /** Releases the fd if this map owns it (opened from a pin); the kernel map lives on while pinned. */
    @Override
    public void close() {
        if (ownsFd) {
            Libc.close(fd);
        }
    }

    @Override
    public String toString() {
        return "BpfMap[" + name + ", fd " + fd + ", type " + type + ", key " + keySize + ", value " + valueSize
                + ", max " + maxEntries + "]";
    }
}
