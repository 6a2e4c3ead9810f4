package io.mocket.bpf;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;

/**
 * Hand-written FFM downcalls to libbpf.so.1 (libbpf 1.x semantics: int calls return a negative errno,
 * pointer calls return NULL and set errno); every failure becomes a {@link BpfException} naming the call,
 * the object and the fix. Immutable and safe to share between threads; libbpf objects themselves are not.
 */
public final class Libbpf {

    /** The soname this binding is written against. */
    public static final String LIBRARY = "libbpf.so.1";

    /** {@code struct bpf_object_open_opts} of libbpf 1.1; newer libbpf accepts it through its {@code sz}. */
    static final StructLayout OPEN_OPTS = MemoryLayout.structLayout(
            JAVA_LONG.withName("sz"),
            ADDRESS.withName("object_name"),
            JAVA_BOOLEAN.withName("relaxed_maps"),
            MemoryLayout.paddingLayout(7),
            ADDRESS.withName("pin_root_path"),
            MemoryLayout.paddingLayout(8), // removed attach_prog_fd, then alignment
            ADDRESS.withName("kconfig"),
            ADDRESS.withName("btf_custom_path"),
            ADDRESS.withName("kernel_log_buf"),
            JAVA_LONG.withName("kernel_log_size"),
            JAVA_INT.withName("kernel_log_level"),
            MemoryLayout.paddingLayout(4));

    /** {@code struct bpf_map_batch_opts}. */
    static final StructLayout BATCH_OPTS = MemoryLayout.structLayout(
            JAVA_LONG.withName("sz"),
            JAVA_LONG.withName("elem_flags"),
            JAVA_LONG.withName("flags"));

    /** The head of {@code struct bpf_map_info} (UAPI); the kernel fills only what fits. */
    static final StructLayout MAP_INFO = MemoryLayout.structLayout(
            JAVA_INT.withName("type"),
            JAVA_INT.withName("id"),
            JAVA_INT.withName("key_size"),
            JAVA_INT.withName("value_size"),
            JAVA_INT.withName("max_entries"),
            JAVA_INT.withName("map_flags"),
            MemoryLayout.sequenceLayout(16, JAVA_BYTE).withName("name"));

    /** The head of {@code struct bpf_link_info} (UAPI) with its cgroup arm. */
    static final StructLayout LINK_INFO = MemoryLayout.structLayout(
            JAVA_INT.withName("type"),
            JAVA_INT.withName("id"),
            JAVA_INT.withName("prog_id"),
            MemoryLayout.paddingLayout(4),
            JAVA_LONG.withName("cgroup_id"),
            JAVA_INT.withName("attach_type"),
            MemoryLayout.paddingLayout(4));

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private final SymbolLookup lookup;

    // libbpf.h: objects, programs, maps, links
    private final MethodHandle objectOpenMem;
    private final MethodHandle objectOpenFile;
    private final MethodHandle objectLoad;
    private final MethodHandle objectClose;
    private final MethodHandle objectFindProgram;
    private final MethodHandle objectFindMap;
    private final MethodHandle objectNextProgram;
    private final MethodHandle objectNextMap;
    private final MethodHandle objectBtf;
    private final MethodHandle programName;
    private final MethodHandle programSectionName;
    private final MethodHandle programFd;
    private final MethodHandle programExpectedAttachType;
    private final MethodHandle programAttachCgroup;
    private final MethodHandle mapName;
    private final MethodHandle mapFd;
    private final MethodHandle mapSetPinPath;
    private final MethodHandle mapPinPath;
    private final MethodHandle mapReuseFd;
    private final MethodHandle mapSetMaxEntries;
    private final MethodHandle linkOpen;
    private final MethodHandle linkPin;
    private final MethodHandle linkUnpin;
    private final MethodHandle linkUpdateProgram;
    private final MethodHandle linkFd;
    private final MethodHandle linkDetach;
    private final MethodHandle linkDisconnect;
    private final MethodHandle linkDestroy;
    private final MethodHandle probeProgType;
    private final MethodHandle probeMapType;
    private final MethodHandle probeHelper;
    private final MethodHandle versionString;
    private final MethodHandle setPrint;
    // btf.h
    private final MethodHandle btfFindByNameKind;
    private final MethodHandle btfTypeById;
    private final MethodHandle btfNameByOffset;
    // bpf.h: the syscall wrappers
    private final MethodHandle mapUpdateElem;
    private final MethodHandle mapLookupElem;
    private final MethodHandle mapDeleteElem;
    private final MethodHandle mapLookupAndDeleteElem;
    private final MethodHandle mapGetNextKey;
    private final MethodHandle mapLookupBatch;
    private final MethodHandle mapUpdateBatch;
    private final MethodHandle mapDeleteBatch;
    private final MethodHandle mapCreate;
    private final MethodHandle objPin;
    private final MethodHandle objGet;
    private final MethodHandle objGetInfoByFd;
    private final MethodHandle progQuery;

    private Libbpf(SymbolLookup lookup) {
        this.lookup = lookup;
        objectOpenMem = pointerCall("bpf_object__open_mem", ADDRESS, JAVA_LONG, ADDRESS);
        objectOpenFile = pointerCall("bpf_object__open_file", ADDRESS, ADDRESS);
        objectLoad = intCall("bpf_object__load", ADDRESS);
        objectClose = downcall("bpf_object__close", FunctionDescriptor.ofVoid(ADDRESS));
        objectFindProgram = plainPointer("bpf_object__find_program_by_name", ADDRESS, ADDRESS);
        objectFindMap = plainPointer("bpf_object__find_map_by_name", ADDRESS, ADDRESS);
        objectNextProgram = plainPointer("bpf_object__next_program", ADDRESS, ADDRESS);
        objectNextMap = plainPointer("bpf_object__next_map", ADDRESS, ADDRESS);
        objectBtf = plainPointer("bpf_object__btf", ADDRESS);
        programName = plainPointer("bpf_program__name", ADDRESS);
        programSectionName = plainPointer("bpf_program__section_name", ADDRESS);
        programFd = intCall("bpf_program__fd", ADDRESS);
        programExpectedAttachType = intCall("bpf_program__expected_attach_type", ADDRESS);
        programAttachCgroup = pointerCall("bpf_program__attach_cgroup", ADDRESS, JAVA_INT);
        mapName = plainPointer("bpf_map__name", ADDRESS);
        mapFd = intCall("bpf_map__fd", ADDRESS);
        mapSetPinPath = intCall("bpf_map__set_pin_path", ADDRESS, ADDRESS);
        mapPinPath = plainPointer("bpf_map__pin_path", ADDRESS);
        mapReuseFd = intCall("bpf_map__reuse_fd", ADDRESS, JAVA_INT);
        mapSetMaxEntries = intCall("bpf_map__set_max_entries", ADDRESS, JAVA_INT);
        linkOpen = pointerCall("bpf_link__open", ADDRESS);
        linkPin = intCall("bpf_link__pin", ADDRESS, ADDRESS);
        linkUnpin = intCall("bpf_link__unpin", ADDRESS);
        linkUpdateProgram = intCall("bpf_link__update_program", ADDRESS, ADDRESS);
        linkFd = intCall("bpf_link__fd", ADDRESS);
        linkDetach = intCall("bpf_link__detach", ADDRESS);
        linkDisconnect = downcall("bpf_link__disconnect", FunctionDescriptor.ofVoid(ADDRESS));
        linkDestroy = intCall("bpf_link__destroy", ADDRESS);
        probeProgType = intCall("libbpf_probe_bpf_prog_type", JAVA_INT, ADDRESS);
        probeMapType = intCall("libbpf_probe_bpf_map_type", JAVA_INT, ADDRESS);
        probeHelper = intCall("libbpf_probe_bpf_helper", JAVA_INT, JAVA_INT, ADDRESS);
        versionString = plainPointer("libbpf_version_string");
        setPrint = plainPointer("libbpf_set_print", ADDRESS);
        btfFindByNameKind = intCall("btf__find_by_name_kind", ADDRESS, ADDRESS, JAVA_INT);
        btfTypeById = plainPointer("btf__type_by_id", ADDRESS, JAVA_INT);
        btfNameByOffset = plainPointer("btf__name_by_offset", ADDRESS, JAVA_INT);
        mapUpdateElem = intCall("bpf_map_update_elem", JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG);
        mapLookupElem = intCall("bpf_map_lookup_elem", JAVA_INT, ADDRESS, ADDRESS);
        mapDeleteElem = intCall("bpf_map_delete_elem", JAVA_INT, ADDRESS);
        mapLookupAndDeleteElem = intCall("bpf_map_lookup_and_delete_elem", JAVA_INT, ADDRESS, ADDRESS);
        mapGetNextKey = intCall("bpf_map_get_next_key", JAVA_INT, ADDRESS, ADDRESS);
        mapLookupBatch = intCall("bpf_map_lookup_batch",
                JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        mapUpdateBatch = intCall("bpf_map_update_batch", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        mapDeleteBatch = intCall("bpf_map_delete_batch", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        mapCreate = intCall("bpf_map_create", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS);
        objPin = intCall("bpf_obj_pin", JAVA_INT, ADDRESS);
        objGet = intCall("bpf_obj_get", ADDRESS);
        objGetInfoByFd = intCall("bpf_obj_get_info_by_fd", JAVA_INT, ADDRESS, ADDRESS);
        progQuery = intCall("bpf_prog_query", JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        setPrint(LibbpfLog.CALLBACK);
    }

    /**
     * Binds libbpf.so.1 from the system library path and routes libbpf's own log lines to
     * {@code System.Logger} "io.mocket.bpf.libbpf" instead of stderr.
     *
     * @throws BpfException if the library is not installed
     */
    public static Libbpf load() {
        SymbolLookup lookup;
        try {
            // The global arena: libbpf stays mapped for the life of the process, like any linked library.
            lookup = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new BpfException("dlopen", LIBRARY, 0,
                    LIBRARY + " is not installed: apt-get install libbpf1 (Debian 12: libbpf1 1.1)", e);
        }
        return new Libbpf(lookup);
    }

    /** The libbpf version string, e.g. "v1.1". */
    public String version() {
        try {
            return cString((MemorySegment) versionString.invokeExact());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- objects

    /**
     * Opens an ELF BPF object from memory.
     *
     * @param pinRoot directory for maps declared with {@code LIBBPF_PIN_BY_NAME}: they are reused when
     *                already pinned there, created and pinned otherwise (at load)
     * @param logBuf  buffer for the kernel verifier log of a failing load, kept alive by the caller
     */
    MemorySegment openMem(MemorySegment elf, String objectName, String pinRoot, MemorySegment logBuf) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment opts = arena.allocate(OPEN_OPTS);
            opts.set(JAVA_LONG, OPEN_OPTS.byteOffset(group("sz")), OPEN_OPTS.byteSize());
            // libbpf copies object_name and pin_root_path during open.
            opts.set(ADDRESS, OPEN_OPTS.byteOffset(group("object_name")), arena.allocateFrom(objectName));
            if (pinRoot != null) {
                opts.set(ADDRESS, OPEN_OPTS.byteOffset(group("pin_root_path")), arena.allocateFrom(pinRoot));
            }
            if (logBuf != null) {
                opts.set(ADDRESS, OPEN_OPTS.byteOffset(group("kernel_log_buf")), logBuf);
                opts.set(JAVA_LONG, OPEN_OPTS.byteOffset(group("kernel_log_size")), logBuf.byteSize());
                // Level 0: no log on success, libbpf retries with level 1 into this buffer on failure.
                opts.set(JAVA_INT, OPEN_OPTS.byteOffset(group("kernel_log_level")), 0);
            }
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment obj = (MemorySegment) objectOpenMem.invokeExact(state, elf, elf.byteSize(), opts);
            return checkPointer(obj, state, "bpf_object__open_mem", "BPF object " + objectName);
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Opens an ELF BPF object file, see {@link #openMem}. */
    MemorySegment openFile(String path, String pinRoot, MemorySegment logBuf) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment opts = arena.allocate(OPEN_OPTS);
            opts.set(JAVA_LONG, OPEN_OPTS.byteOffset(group("sz")), OPEN_OPTS.byteSize());
            if (pinRoot != null) {
                opts.set(ADDRESS, OPEN_OPTS.byteOffset(group("pin_root_path")), arena.allocateFrom(pinRoot));
            }
            if (logBuf != null) {
                opts.set(ADDRESS, OPEN_OPTS.byteOffset(group("kernel_log_buf")), logBuf);
                opts.set(JAVA_LONG, OPEN_OPTS.byteOffset(group("kernel_log_size")), logBuf.byteSize());
            }
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment obj = (MemorySegment) objectOpenFile.invokeExact(state, arena.allocateFrom(path), opts);
            return checkPointer(obj, state, "bpf_object__open_file", "BPF object file " + path);
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Creates or reuses the maps and loads every program of an opened object into the kernel. */
    void load(MemorySegment obj, String objectName) {
        check(callInt(objectLoad, obj), "bpf_object__load", "BPF object " + objectName);
    }

    /** Closes an object: its program and map fds are released (pinned objects stay in the kernel). */
    void close(MemorySegment obj) {
        try {
            objectClose.invokeExact(obj);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A program of the object by function name, or NULL. */
    MemorySegment findProgram(MemorySegment obj, String name) {
        try (Arena arena = Arena.ofConfined()) {
            return (MemorySegment) objectFindProgram.invokeExact(obj, arena.allocateFrom(name));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A map of the object by name, or NULL. */
    MemorySegment findMap(MemorySegment obj, String name) {
        try (Arena arena = Arena.ofConfined()) {
            return (MemorySegment) objectFindMap.invokeExact(obj, arena.allocateFrom(name));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The program after {@code prev} (NULL for the first), or NULL at the end. */
    MemorySegment nextProgram(MemorySegment obj, MemorySegment prev) {
        try {
            return (MemorySegment) objectNextProgram.invokeExact(obj, prev);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The map after {@code prev} (NULL for the first), or NULL at the end. */
    MemorySegment nextMap(MemorySegment obj, MemorySegment prev) {
        try {
            return (MemorySegment) objectNextMap.invokeExact(obj, prev);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The BTF of an opened object, or NULL if it has none. */
    MemorySegment objectBtf(MemorySegment obj) {
        try {
            return (MemorySegment) objectBtf.invokeExact(obj);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- programs

    String programName(MemorySegment prog) {
        try {
            return cString((MemorySegment) programName.invokeExact(prog));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    String programSectionName(MemorySegment prog) {
        try {
            return cString((MemorySegment) programSectionName.invokeExact(prog));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    int programFd(MemorySegment prog, String name) {
        return check(callInt(programFd, prog), "bpf_program__fd", "program " + name);
    }

    int programExpectedAttachType(MemorySegment prog) {
        return callInt(programExpectedAttachType, prog);
    }

    /** Attaches a cgroup program through a BPF link (multi-attach, detached when the last reference goes). */
    MemorySegment attachCgroup(MemorySegment prog, String progName, int cgroupFd, String cgroupPath) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment link = (MemorySegment) programAttachCgroup.invokeExact(state, prog, cgroupFd);
            return checkPointer(link, state, "bpf_program__attach_cgroup",
                    "program " + progName + " to cgroup " + cgroupPath);
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- maps of an object

    String mapName(MemorySegment map) {
        try {
            return cString((MemorySegment) mapName.invokeExact(map));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    int mapFd(MemorySegment map, String name) {
        return check(callInt(mapFd, map), "bpf_map__fd", "map " + name);
    }

    void mapSetPinPath(MemorySegment map, String name, String path) {
        try (Arena arena = Arena.ofConfined()) {
            check((int) mapSetPinPath.invokeExact(map, arena.allocateFrom(path)),
                    "bpf_map__set_pin_path", "map " + name + " at " + path);
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The pin path libbpf uses for a map, or null. */
    String mapPinPath(MemorySegment map) {
        try {
            MemorySegment p = (MemorySegment) mapPinPath.invokeExact(map);
            return p.equals(MemorySegment.NULL) ? null : cString(p);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void mapReuseFd(MemorySegment map, String name, int fd) {
        check(callInt(mapReuseFd, map, fd), "bpf_map__reuse_fd", "map " + name);
    }

    void mapSetMaxEntries(MemorySegment map, String name, int maxEntries) {
        check(callInt(mapSetMaxEntries, map, maxEntries), "bpf_map__set_max_entries", "map " + name);
    }

    // ---------------------------------------------------------------- links

    /** Opens a link pinned at {@code path}. */
    MemorySegment linkOpen(String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment link = (MemorySegment) linkOpen.invokeExact(state, arena.allocateFrom(path));
            return checkPointer(link, state, "bpf_link__open", "pinned link " + path);
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void linkPin(MemorySegment link, String path) {
        try (Arena arena = Arena.ofConfined()) {
            check((int) linkPin.invokeExact(link, arena.allocateFrom(path)), "bpf_link__pin", "link at " + path);
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void linkUnpin(MemorySegment link, String what) {
        check(callInt(linkUnpin, link), "bpf_link__unpin", what);
    }

    /** Swaps the program of a live link atomically: the hook never runs without a program. */
    void linkUpdateProgram(MemorySegment link, String what, MemorySegment prog) {
        check(callInt(linkUpdateProgram, link, prog), "bpf_link__update_program", what);
    }

    int linkFd(MemorySegment link, String what) {
        return check(callInt(linkFd, link), "bpf_link__fd", what);
    }

    /** Detaches the link from its hook now, whoever else holds it (pins included). */
    void linkDetach(MemorySegment link, String what) {
        check(callInt(linkDetach, link), "bpf_link__detach", what);
    }

    /** Frees the libbpf link object; the kernel link lives on while pinned or otherwise held. */
    void linkDisconnectAndDestroy(MemorySegment link) {
        try {
            linkDisconnect.invokeExact(link);
            int ignored = (int) linkDestroy.invokeExact(link);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- probes

    /** 1 if the kernel supports the program type, 0 if not, negative errno if the probe failed. */
    int probeProgramType(int progType) {
        return callInt(probeProgType, progType, MemorySegment.NULL);
    }

    /** 1 if the kernel supports the map type, 0 if not, negative errno if the probe failed. */
    int probeMapType(int mapType) {
        return callInt(probeMapType, mapType, MemorySegment.NULL);
    }

    /** 1 if programs of the type may call the helper, 0 if not, negative errno if the probe failed. */
    int probeHelper(int progType, int helperId) {
        return callInt(probeHelper, progType, helperId, MemorySegment.NULL);
    }

    // ---------------------------------------------------------------- BTF

    /** The type id of a named type of the kind, or a negative errno (-ENOENT if absent). */
    int btfFind(MemorySegment btf, String name, int kind) {
        try (Arena arena = Arena.ofConfined()) {
            return (int) btfFindByNameKind.invokeExact(btf, arena.allocateFrom(name), kind);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The {@code struct btf_type} of an id; callers reinterpret it to read members. */
    MemorySegment btfType(MemorySegment btf, int id) {
        try {
            return (MemorySegment) btfTypeById.invokeExact(btf, id);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    String btfName(MemorySegment btf, int offset) {
        try {
            return cString((MemorySegment) btfNameByOffset.invokeExact(btf, offset));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- map elements (bpf syscall)

    /** Returns 0 or a negative errno; callers decide which errno is an answer (ENOENT) and which a failure. */
    int mapUpdate(int fd, MemorySegment key, MemorySegment value, long flags) {
        try {
            return (int) mapUpdateElem.invokeExact(fd, key, value, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    int mapLookup(int fd, MemorySegment key, MemorySegment value) {
        try {
            return (int) mapLookupElem.invokeExact(fd, key, value);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    int mapDelete(int fd, MemorySegment key) {
        try {
            return (int) mapDeleteElem.invokeExact(fd, key);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Reads and deletes one element in one call (hash maps: kernel 5.14+). */
    int mapLookupAndDelete(int fd, MemorySegment key, MemorySegment value) {
        try {
            return (int) mapLookupAndDeleteElem.invokeExact(fd, key, value);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code key} NULL asks for the first key. */
    int mapNextKey(int fd, MemorySegment key, MemorySegment next) {
        try {
            return (int) mapGetNextKey.invokeExact(fd, key, next);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    int mapLookupBatch(int fd, MemorySegment inBatch, MemorySegment outBatch, MemorySegment keys,
                       MemorySegment values, MemorySegment count, MemorySegment opts) {
        try {
            return (int) mapLookupBatch.invokeExact(fd, inBatch, outBatch, keys, values, count, opts);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    int mapUpdateBatch(int fd, MemorySegment keys, MemorySegment values, MemorySegment count, MemorySegment opts) {
        try {
            return (int) mapUpdateBatch.invokeExact(fd, keys, values, count, opts);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    int mapDeleteBatch(int fd, MemorySegment keys, MemorySegment count, MemorySegment opts) {
        try {
            return (int) mapDeleteBatch.invokeExact(fd, keys, count, opts);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- bpffs and object info

    /** Pins a map, program or link fd at a bpffs path. */
    /**
     * Creates a map outside any object (tools and tests; the load balancer's maps come from its objects).
     * Returns a new fd owned by the caller.
     */
    public int mapCreate(int mapType, String name, int keySize, int valueSize, int maxEntries) {
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) mapCreate.invokeExact(mapType, arena.allocateFrom(name), keySize, valueSize, maxEntries,
                    MemorySegment.NULL);
            check(fd, "bpf_map_create", "map " + name);
            return fd;
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void objPin(int fd, String path) {
        try (Arena arena = Arena.ofConfined()) {
            check((int) objPin.invokeExact(fd, arena.allocateFrom(path)), "bpf_obj_pin", "pin " + path);
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Opens the object pinned at a bpffs path and returns a new fd owned by the caller. */
    public int objGet(String path) {
        try (Arena arena = Arena.ofConfined()) {
            return check((int) objGet.invokeExact(arena.allocateFrom(path)), "bpf_obj_get", "pin " + path);
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Fills {@code info} (a map, program or link info struct) for an fd. */
    void objInfo(int fd, MemorySegment info, String what) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, (int) info.byteSize());
            check((int) objGetInfoByFd.invokeExact(fd, info, len), "bpf_obj_get_info_by_fd", what);
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Ids of the programs attached to a cgroup at one attach type.
     *
     * @param cgroupFd   an open cgroup2 directory
     * @param attachType a {@code enum bpf_attach_type} value
     */
    public int[] progQuery(int cgroupFd, int attachType, String cgroupPath) {
        try (Arena arena = Arena.ofConfined()) {
            int capacity = 64;
            MemorySegment ids = arena.allocate(JAVA_INT, capacity);
            MemorySegment count = arena.allocate(JAVA_INT);
            count.set(JAVA_INT, 0, capacity);
            check((int) progQuery.invokeExact(cgroupFd, attachType, 0, MemorySegment.NULL, ids, count),
                    "bpf_prog_query", "cgroup " + cgroupPath);
            int n = Math.min(count.get(JAVA_INT, 0), capacity);
            return ids.asSlice(0, n * 4L).toArray(JAVA_INT);
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- plumbing

    private void setPrint(MemorySegment callback) {
        try {
            MemorySegment ignored = (MemorySegment) setPrint.invokeExact(callback);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static MemoryLayout.PathElement group(String name) {
        return MemoryLayout.PathElement.groupElement(name);
    }

    static String cString(MemorySegment p) {
        if (p.equals(MemorySegment.NULL)) {
            return null;
        }
        return p.reinterpret(Long.MAX_VALUE).getString(0);
    }

    /** Turns a libbpf int result into a value or a {@link BpfException}. */
    static int check(int rc, String call, String object) {
        if (rc < 0) {
            throw BpfException.of(call, object, -rc);
        }
        return rc;
    }

    private static MemorySegment checkPointer(MemorySegment p, MemorySegment state, String call, String object) {
        if (p.equals(MemorySegment.NULL)) {
            int errno = (int) ERRNO.get(state, 0L);
            throw BpfException.of(call, object, errno == 0 ? Errno.EINVAL.number() : errno);
        }
        return p;
    }

    private int callInt(MethodHandle h, Object... args) {
        try {
            return (int) h.invokeWithArguments(args);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment symbol = lookup.find(name).orElseThrow(() -> new BpfException("dlsym", name, 0,
                LIBRARY + " has no symbol " + name + ": libbpf 1.1 or newer is needed", null));
        return LINKER.downcallHandle(symbol, fd, options);
    }

    private MethodHandle intCall(String name, MemoryLayout... args) {
        return downcall(name, FunctionDescriptor.of(JAVA_INT, args));
    }

    /** A pointer-returning call that reports failure through errno, captured right after the call. */
    private MethodHandle pointerCall(String name, MemoryLayout... args) {
        return downcall(name, FunctionDescriptor.of(ADDRESS, args), CAPTURE_ERRNO);
    }

    private MethodHandle plainPointer(String name, MemoryLayout... args) {
        return downcall(name, FunctionDescriptor.of(ADDRESS, args));
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("native call failed", t);
    }

    /**
     * libbpf's print callback: formats with vsnprintf and hands the line to System.Logger.
     * Holder class so the upcall stub is created once per process (libbpf keeps one global callback).
     */
    private static final class LibbpfLog {
        private static final System.Logger LOG = System.getLogger("io.mocket.bpf.libbpf");
        private static final MethodHandle VSNPRINTF = LINKER.downcallHandle(
                LINKER.defaultLookup().find("vsnprintf").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
        static final MemorySegment CALLBACK = upcall();

        private static MemorySegment upcall() {
            try {
                MethodHandle target = MethodHandles.lookup().findStatic(LibbpfLog.class, "print",
                        MethodType.methodType(int.class, int.class, MemorySegment.class, MemorySegment.class));
                // va_list is passed as a pointer on x86-64 and, being larger than 16 bytes, by reference on arm64.
                return LINKER.upcallStub(target, FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS),
                        Arena.global());
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        /** Never throws: an exception escaping an upcall would end the JVM. */
        @SuppressWarnings("unused")
        private static int print(int level, MemorySegment format, MemorySegment args) {
            try (Arena arena = Arena.ofConfined()) {
                System.Logger.Level javaLevel = switch (level) {
                    case 0 -> System.Logger.Level.WARNING; // LIBBPF_WARN
                    case 1 -> System.Logger.Level.INFO;    // LIBBPF_INFO
                    default -> System.Logger.Level.DEBUG;  // LIBBPF_DEBUG
                };
                if (!LOG.isLoggable(javaLevel)) {
                    return 0;
                }
                MemorySegment buf = arena.allocate(8192);
                int n = (int) VSNPRINTF.invokeExact(buf, buf.byteSize(), format, args);
                LOG.log(javaLevel, buf.getString(0).stripTrailing());
                return Math.max(n, 0);
            } catch (Throwable t) {
                return 0;
            }
        }
    }
}
