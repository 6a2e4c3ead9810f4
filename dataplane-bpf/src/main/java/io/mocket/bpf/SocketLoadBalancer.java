package io.mocket.bpf;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Mocket socket load balancer in the kernel: loads the packaged BPF objects, shares their maps
 * through pins in one pin directory, and attaches the programs to a cgroup2 directory with pinned links.
 *
 * <p>Everything the kernel needs to keep serving is pinned: closing this object (or the agent dying)
 * leaves maps and links in place. Loading again with the same pin directory adopts them: maps are reused
 * with their contents, and each pinned link is switched to the newly loaded program in one step.
 * {@link #remove} detaches and unpins everything. Not thread-safe; map operations through
 * {@link #maps()} are.
 *
 * <p>Pin layout: {@code <pinDir>/<map name>} for maps, {@code <pinDir>/links/<program name>} for links.
 *
 * <p>Upgrades: a pinned map whose type or key/value size differs from this version's (its layout changed)
 * is unpinned and created anew, empty; a pinned {@code mk_*} map this version no longer has is unpinned.
 * Programs of the old version keep their maps until their links switch to the new programs in
 * {@link #attach}; the kernel frees an old map once nothing holds it.
 */
public final class SocketLoadBalancer implements AutoCloseable {

    /** The product default pin root; an agent pins under {@code <root>/<node name>}. */
    public static final Path DEFAULT_PIN_ROOT = Path.of("/sys/fs/bpf/mocket");

    /** The packaged objects, one per hook; the first to load creates and pins the shared maps. */
    static final List<String> OBJECTS = List.of("connect", "sendmsg", "recvmsg", "getpeername", "sockops");

    private static final System.Logger LOG = System.getLogger(SocketLoadBalancer.class.getName());
    private static final String RESOURCE_DIR = "/io/mocket/bpf/programs/";
    private static final String LINKS = "links";

    private final Libbpf libbpf;
    private final Path pinDir;
    private final List<BpfObject> objects;
    private final LoadBalancerMaps maps;
    private final List<BpfLink> links = new ArrayList<>();

    private SocketLoadBalancer(Libbpf libbpf, Path pinDir, List<BpfObject> objects, LoadBalancerMaps maps) {
        this.libbpf = libbpf;
        this.pinDir = pinDir;
        this.objects = objects;
        this.maps = maps;
    }

    /** The pin directory of a node under a pin root: {@code <root>/<node>}. */
    public static Path pinDirectory(Path pinRoot, String node) {
        if (node.isBlank() || node.contains("/") || node.startsWith(".")) {
            throw new IllegalArgumentException("node name unusable as a directory: '" + node + "'");
        }
        return pinRoot.resolve(node);
    }

    /**
     * Loads every program and creates, or adopts, the pinned maps in {@code pinDir} (created if missing;
     * it must be on bpffs). Checks that the compiled structs match the Java layouts before loading.
     *
     * @throws BpfException          when libbpf or the kernel refuses, with the fix in the message
     * @throws IllegalStateException when the packaged objects do not match this build's layouts
     */
    public static SocketLoadBalancer load(Libbpf libbpf, Path pinDir) {
        requireBpffs(pinDir);
        try {
            Files.createDirectories(pinDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create pin directory " + pinDir
                    + ": is bpffs mounted above it? mount -t bpf bpf /sys/fs/bpf", e);
        }
        retireOutdatedPins(libbpf, pinDir);
        List<BpfObject> objects = new ArrayList<>();
        try {
            for (String name : OBJECTS) {
                BpfObject object = BpfObject.open(libbpf, name, packagedObject(name), pinDir);
                objects.add(object);
                List<String> mismatches = LayoutCheck.mismatches(object);
                if (!mismatches.isEmpty()) {
                    throw new IllegalStateException("BPF object " + name + " does not match the Java map layouts"
                            + " (rebuild dataplane-bpf): " + String.join("; ", mismatches));
                }
                object.load();
            }
            Map<String, BpfMap> maps = new LinkedHashMap<>();
            for (LoadBalancerMaps.MapSpec spec : LoadBalancerMaps.SPECS) {
                for (BpfObject object : objects) {
                    if (!maps.containsKey(spec.mapName()) && object.mapNames().contains(spec.mapName())) {
                        maps.put(spec.mapName(), object.map(spec.mapName()));
                    }
                }
            }
            return new SocketLoadBalancer(libbpf, pinDir, objects, new LoadBalancerMaps(maps, List.of()));
        } catch (RuntimeException e) {
            objects.forEach(BpfObject::close);
            throw e;
        }
    }

    /**
     * Unpins maps another version left that this one cannot adopt: a map of a known name whose type or sizes
     * differ (libbpf would refuse to reuse it and the load would fail), and {@code mk_*} maps this version
     * does not have. Returns the names unpinned.
     */
    static List<String> retireOutdatedPins(Libbpf libbpf, Path pinDir) {
        List<String> retired = new ArrayList<>();
        List<String> known = LoadBalancerMaps.SPECS.stream().map(LoadBalancerMaps.MapSpec::mapName).toList();
        for (LoadBalancerMaps.MapSpec spec : LoadBalancerMaps.SPECS) {
            Path pin = pinDir.resolve(spec.mapName());
            if (!Files.exists(pin)) {
                continue;
            }
            String found;
            try (BpfMap pinned = BpfMap.openPinned(libbpf, pin)) {
                if (spec.matches(pinned)) {
                    continue;
                }
                found = "type " + pinned.type() + ", key " + pinned.keySize() + " B, value " + pinned.valueSize()
                        + " B";
            }
            LOG.log(System.Logger.Level.WARNING, "map pin " + pin + " has an old layout (" + found + "; this version: type "
                    + spec.mapType() + ", key " + spec.key().byteSize() + " B, value " + spec.value().byteSize()
                    + " B): unpinning it, a new empty map replaces it");
            delete(pin);
            retired.add(spec.mapName());
        }
        if (Files.isDirectory(pinDir)) {
            for (Path pin : list(pinDir)) {
                String name = pin.getFileName().toString();
                if (name.startsWith("mk_") && !known.contains(name) && !Files.isDirectory(pin)) {
                    LOG.log(System.Logger.Level.INFO, "map pin " + pin + " belongs to an older version: unpinning it");
                    delete(pin);
                    retired.add(name);
                }
            }
        }
        return retired;
    }

    /** Fails early, with the mount command, when pins could not be created (libbpf would only say EINVAL). */
    private static void requireBpffs(Path pinDir) {
        HostCheck check = HostCheck.ofThisHost(null);
        String fsType = check.mountOf(pinDir).map(HostCheck.Mount::fsType).orElse("nothing");
        if (!fsType.equals("bpf")) {
            throw new BpfException("pin", pinDir.toString(), Errno.EINVAL.number(),
                    "pin directory " + pinDir + " is on " + fsType + ", not on bpffs: mount -t bpf bpf "
                            + (pinDir.startsWith("/sys/fs/bpf") ? "/sys/fs/bpf" : "<a directory above it>"), null);
        }
    }

    /** The ELF bytes of a packaged object. */
    static byte[] packagedObject(String name) {
        String resource = RESOURCE_DIR + name + ".bpf.o";
        try (InputStream in = SocketLoadBalancer.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("BPF object " + resource + " is not on the class path: dataplane-bpf"
                        + " was built without its BPF programs (needs clang, llvm, libbpf-dev, linux-libc-dev)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + resource, e);
        }
    }

    /** The maps, valid until {@link #close()}. */
    public LoadBalancerMaps maps() {
        return maps;
    }

    /** Where maps and links are pinned. */
    public Path pinDirectory() {
        return pinDir;
    }

    /** Every loaded program. */
    public List<BpfProgram> programs() {
        return objects.stream().flatMap(o -> o.programs().stream()).toList();
    }

    /** Where the link of a program is pinned. */
    public Path linkPin(String programName) {
        return pinDir.resolve(LINKS).resolve(programName);
    }

    /**
     * Attaches every program to a cgroup2 directory. A link already pinned for a program is adopted and
     * switched to the program just loaded (no moment without a program); otherwise a new link is created
     * and pinned. Pinned links of programs this version does not have are detached and unpinned.
     *
     * @throws IllegalStateException if a pinned link is attached to another cgroup
     */
    public void attach(Path cgroupDir) {
        long cgroupId = cgroupId(cgroupDir);
        try {
            Files.createDirectories(pinDir.resolve(LINKS));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + pinDir.resolve(LINKS), e);
        }
        int cgroupFd = Libc.openDirectory(cgroupDir.toString());
        try {
            for (BpfProgram program : programs()) {
                Path pin = linkPin(program.name());
                BpfLink link;
                if (Files.exists(pin)) {
                    link = BpfLink.openPinned(libbpf, pin);
                    links.add(link);
                    long attachedTo = link.info().cgroupId();
                    if (attachedTo != cgroupId) {
                        throw new IllegalStateException("link " + pin + " is attached to cgroup id " + attachedTo
                                + ", not to " + cgroupDir + " (id " + cgroupId + "): remove the old attachment"
                                + " first (SocketLoadBalancer.remove) or use another pin directory");
                    }
                    link.updateProgram(program);
                } else {
                    link = new BpfLink(libbpf, "link of " + program.name() + " to cgroup " + cgroupDir,
                            libbpf.attachCgroup(program.handle(), program.name(), cgroupFd, cgroupDir.toString()));
                    links.add(link);
                    link.pin(pin);
                }
            }
        } finally {
            Libc.close(cgroupFd);
        }
        detachRetiredLinks();
    }

    /**
     * Detaches pinned links of programs this version no longer has (renamed or dropped in an upgrade):
     * left attached, they would keep running beside the new programs.
     */
    private void detachRetiredLinks() {
        List<String> current = programs().stream().map(BpfProgram::name).toList();
        for (Path pin : list(pinDir.resolve(LINKS))) {
            if (!current.contains(pin.getFileName().toString())) {
                try (BpfLink retired = BpfLink.openPinned(libbpf, pin)) {
                    retired.detach();
                }
                delete(pin);
            }
        }
    }

    /** The links this object attached or adopted. */
    public List<BpfLink> links() {
        return List.copyOf(links);
    }

    /** Releases fds and memory; maps and links stay pinned and the kernel keeps balancing. Idempotent. */
    @Override
    public void close() {
        links.forEach(BpfLink::close);
        links.clear();
        objects.forEach(BpfObject::close);
    }

    /**
     * Detaches every pinned link and deletes every pin under {@code pinDir}, then the directory: the
     * kernel stops balancing for the cgroup and frees the maps once no process holds them.
     * Safe to call when some or all pins are already gone.
     */
    public static void remove(Libbpf libbpf, Path pinDir) {
        Path linkDir = pinDir.resolve(LINKS);
        if (Files.isDirectory(linkDir)) {
            for (Path pin : list(linkDir)) {
                try (BpfLink link = BpfLink.openPinned(libbpf, pin)) {
                    link.detach();
                }
                delete(pin);
            }
            delete(linkDir);
        }
        if (Files.isDirectory(pinDir)) {
            for (Path pin : list(pinDir)) {
                delete(pin);
            }
            delete(pinDir);
        }
    }

    /** Closes this object, then {@link #remove}s its pins. */
    public void detachAndUnpin() {
        close();
        remove(libbpf, pinDir);
    }

    /** The cgroup id the kernel reports for a cgroup2 directory: its inode number. */
    static long cgroupId(Path cgroupDir) {
        try {
            return ((Number) Files.getAttribute(cgroupDir, "unix:ino")).longValue();
        } catch (IOException e) {
            throw new UncheckedIOException("cgroup directory " + cgroupDir + " is not readable", e);
        }
    }

    private static List<Path> list(Path dir) {
        List<Path> paths = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
            stream.forEach(paths::add);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        return paths;
    }

    private static void delete(Path path) {
        try {
            Files.delete(path);
        } catch (NoSuchFileException e) {
            // already gone: removal is idempotent
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove pin " + path, e);
        }
    }
}
