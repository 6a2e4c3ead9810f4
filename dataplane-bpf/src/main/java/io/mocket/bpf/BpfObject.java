package io.mocket.bpf;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One libbpf {@code bpf_object}: an ELF file of BPF programs and maps, opened, then loaded into the kernel.
 * Maps declared with {@code LIBBPF_PIN_BY_NAME} are reused from, or pinned to, the pin root given at open.
 * Owns native memory and kernel fds until {@link #close()}; not thread-safe.
 */
public final class BpfObject implements AutoCloseable {

    private static final int BTF_KIND_STRUCT = 4;
    /** Enough for the verifier's log of a failing program; the kernel keeps the tail if it is longer. */
    private static final long VERIFIER_LOG_SIZE = 4L << 20;
    private static final int LOG_TAIL_LINES = 40;

    private final Libbpf libbpf;
    private final String name;
    /** The ELF image: libbpf points into it for the life of the object. */
    private final Arena imageArena;
    /** The verifier log buffer: only a load writes it, so it is freed once the load returned. */
    private Arena logArena;
    private MemorySegment logBuf;
    private MemorySegment handle;
    private boolean loaded;

    private BpfObject(Libbpf libbpf, String name, Arena imageArena, Arena logArena, MemorySegment logBuf,
                      MemorySegment handle) {
        this.libbpf = libbpf;
        this.name = name;
        this.imageArena = imageArena;
        this.logArena = logArena;
        this.logBuf = logBuf;
        this.handle = handle;
    }

    /**
     * Opens an ELF object held in memory (e.g. a class-path resource).
     *
     * @param pinRoot directory on bpffs for pinned maps, or null for libbpf's default (/sys/fs/bpf)
     */
    public static BpfObject open(Libbpf libbpf, String name, byte[] elf, Path pinRoot) {
        Arena imageArena = Arena.ofShared();
        Arena logArena = Arena.ofShared();
        try {
            MemorySegment logBuf = logArena.allocate(VERIFIER_LOG_SIZE);
            // libbpf keeps pointing into the ELF image after open, so it lives as long as the object.
            MemorySegment image = imageArena.allocate(elf.length);
            MemorySegment.copy(elf, 0, image, JAVA_BYTE, 0, elf.length);
            MemorySegment handle = libbpf.openMem(image, name, pinRoot == null ? null : pinRoot.toString(), logBuf);
            return new BpfObject(libbpf, name, imageArena, logArena, logBuf, handle);
        } catch (RuntimeException e) {
            logArena.close();
            imageArena.close();
            throw e;
        }
    }

    /** The object's name (the resource it came from). */
    public String name() {
        return name;
    }

    /**
     * Creates or reuses the maps and loads every program.
     *
     * @throws BpfException with the tail of the verifier log when a program is rejected
     */
    public void load() {
        MemorySegment obj = live();
        if (logBuf == null) {
            throw new IllegalStateException("BPF object " + name
                    + " had its load attempted already: libbpf loads an object once; open it again");
        }
        try {
            libbpf.load(obj, name);
            loaded = true;
        } catch (BpfException e) {
            String log = logBuf.getString(0);
            if (log.isBlank()) {
                throw e;
            }
            throw BpfException.withDetail(e.call(), e.object(), e.errno(), "verifier log (tail):\n" + tail(log));
        } finally {
            // libbpf writes the log only while loading and never loads an object twice: the 4 MiB go back now,
            // not when the agent stops (one buffer per object, five objects).
            releaseLog();
        }
    }

    /** Bytes of native memory the object holds for the verifier log: the buffer's size before load, 0 after. */
    long verifierLogBytes() {
        return logBuf == null ? 0 : logBuf.byteSize();
    }

    private void releaseLog() {
        if (logArena != null) {
            logArena.close();
            logArena = null;
            logBuf = null;
        }
    }

    /** Every program of the object, in ELF order; fds are valid once loaded. */
    public List<BpfProgram> programs() {
        MemorySegment obj = live();
        List<BpfProgram> programs = new ArrayList<>();
        MemorySegment prog = libbpf.nextProgram(obj, MemorySegment.NULL);
        while (!prog.equals(MemorySegment.NULL)) {
            programs.add(describe(prog));
            prog = libbpf.nextProgram(obj, prog);
        }
        return programs;
    }

    /** A program by function name. */
    public BpfProgram program(String programName) {
        MemorySegment prog = libbpf.findProgram(live(), programName);
        if (prog.equals(MemorySegment.NULL)) {
            throw new IllegalArgumentException("BPF object " + name + " has no program " + programName
                    + "; it has " + programs().stream().map(BpfProgram::name).toList());
        }
        return describe(prog);
    }

    /** The names of the object's maps. */
    public List<String> mapNames() {
        MemorySegment obj = live();
        List<String> names = new ArrayList<>();
        MemorySegment map = libbpf.nextMap(obj, MemorySegment.NULL);
        while (!map.equals(MemorySegment.NULL)) {
            names.add(libbpf.mapName(map));
            map = libbpf.nextMap(obj, map);
        }
        return names;
    }

    /** A map of the loaded object; its fd belongs to this object. */
    public BpfMap map(String mapName) {
        if (!loaded) {
            throw new IllegalStateException("BPF object " + name + " is not loaded: its maps have no fd yet");
        }
        MemorySegment map = mapHandle(mapName);
        return BpfMap.borrowed(libbpf, mapName, libbpf.mapFd(map, mapName));
    }

    /** Where a pinned map of this object lives on bpffs, if it is pinned. */
    public Optional<String> mapPinPath(String mapName) {
        return Optional.ofNullable(libbpf.mapPinPath(mapHandle(mapName)));
    }

    /** Changes a map's capacity before load (ignored by libbpf for a map it reuses from a pin). */
    public void setMaxEntries(String mapName, int maxEntries) {
        if (loaded) {
            throw new IllegalStateException("BPF object " + name + " is loaded: max_entries is fixed");
        }
        libbpf.mapSetMaxEntries(mapHandle(mapName), mapName, maxEntries);
    }

    /** A struct as described by the object's BTF, if the object has it. */
    public Optional<BtfStruct> btfStruct(String structName) {
        MemorySegment btf = libbpf.objectBtf(live());
        if (btf.equals(MemorySegment.NULL)) {
            return Optional.empty();
        }
        int id = libbpf.btfFind(btf, structName, BTF_KIND_STRUCT);
        if (id < 0) {
            return Optional.empty();
        }
        // struct btf_type { u32 name_off; u32 info; u32 size; } followed by vlen struct btf_member
        // { u32 name_off; u32 type; u32 offset; }; offset is in bits, its low 24 bits if kind_flag is set.
        MemorySegment type = libbpf.btfType(btf, id).reinterpret(12);
        int info = type.get(JAVA_INT, 4);
        int vlen = info & 0xffff;
        boolean kindFlag = (info >>> 31) != 0;
        long size = Integer.toUnsignedLong(type.get(JAVA_INT, 8));
        MemorySegment members = MemorySegment.ofAddress(type.address() + 12).reinterpret(12L * vlen);
        List<BtfStruct.Member> list = new ArrayList<>(vlen);
        for (int i = 0; i < vlen; i++) {
            int nameOff = members.get(JAVA_INT, 12L * i);
            int offset = members.get(JAVA_INT, 12L * i + 8);
            long bits = kindFlag ? (offset & 0xffffff) : Integer.toUnsignedLong(offset);
            list.add(new BtfStruct.Member(libbpf.btfName(btf, nameOff), bits / 8));
        }
        return Optional.of(new BtfStruct(structName, size, list));
    }

    /** Releases the object's fds and memory; pinned maps and links stay in the kernel. Idempotent. */
    @Override
    public void close() {
        if (handle != null) {
            libbpf.close(handle);
            handle = null;
            releaseLog();
            imageArena.close();
        }
    }

    private BpfProgram describe(MemorySegment prog) {
        String programName = libbpf.programName(prog);
        int fd = loaded ? libbpf.programFd(prog, programName) : -1;
        return new BpfProgram(programName, libbpf.programSectionName(prog), fd,
                libbpf.programExpectedAttachType(prog), prog);
    }

    private MemorySegment mapHandle(String mapName) {
        MemorySegment map = libbpf.findMap(live(), mapName);
        if (map.equals(MemorySegment.NULL)) {
            throw new IllegalArgumentException("BPF object " + name + " has no map " + mapName
                    + "; it has " + mapNames());
        }
        return map;
    }

    private MemorySegment live() {
        if (handle == null) {
            throw new IllegalStateException("BPF object " + name + " is closed");
        }
        return handle;
    }

    private static String tail(String log) {
        String[] lines = log.strip().split("\n");
        int from = Math.max(0, lines.length - LOG_TAIL_LINES);
        return String.join("\n", java.util.Arrays.copyOfRange(lines, from, lines.length));
    }
}
