package io.mocket.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A cluster of nodes and pods on one kernel, built from network namespaces, veth pairs and bridges, with a
 * private cgroup2 mount (one directory per node, where that node's programs attach) and a private bpffs
 * mount (one pin directory per node).
 *
 * <p>Topology. An underlay namespace holds a bridge that every node joins by a veth pair ({@code ul0} in the
 * node) on {@value #UNDERLAY_PREFIX}.0/24. Each node has a pod bridge ({@code cni0}) holding its gateway
 * address on its pod subnet {@value #POD_PREFIX}.&lt;node index&gt;.0/24; each pod joins that bridge with a veth
 * pair ({@code eth0} in the pod). Nodes route the other nodes' pod subnets over the underlay (host-gw style),
 * so traffic between pods of different nodes crosses the underlay. Pods route only the pod and underlay
 * subnets; service VIPs ({@link #SERVICE_CIDR}) are routed nowhere, so a connect the data plane does not
 * rewrite fails with ENETUNREACH instead of leaving. Nothing is connected to the root namespace: no packet
 * of a test can leave the cluster.
 *
 * <p>Names. Everything is named {@code <prefix><6 hex digits>} ({@link #id()}): namespaces
 * {@code <id>-<node or pod>}, the work directory {@code <tmp>/<id>} with the two mounts, logs and an owner
 * file (pid and start time of the JVM that built it). {@link #close()} removes all of it, as does a shutdown
 * hook if the JVM is stopped; {@link #create} first removes clusters of the same prefix whose owner is gone.
 *
 * <p>Not thread-safe: one test thread builds and drives a cluster.
 */
public final class TestCluster implements AutoCloseable {

    /** Underlay subnet (first three octets): node i is {@code .(i+1)}. */
    public static final String UNDERLAY_PREFIX = "10.250.0";
    /** Pod subnets (first two octets): node i owns {@code 10.251.i.0/24}, gateway {@code .1}, pods from {@code .2}. */
    public static final String POD_PREFIX = "10.251";
    /** Where tests put service VIPs: routed nowhere in the cluster. */
    public static final String SERVICE_CIDR = "10.252.0.0/16";

    private static final String UNENROLLED = "unenrolled";
    private static final String HOST = "host";
    private static final int MAX_NODES = 200;
    private static final int MAX_PODS_PER_NODE = 250;
    private static final Duration CLEANUP_WAIT = Duration.ofSeconds(10);

    private final String id;
    private final Path workDir;
    private final Path bpffs;
    private final Path cgroupMount;
    private final Path cgroupRoot;
    private final Path logDir;
    private final List<ClusterNode> nodes = new ArrayList<>();
    private final Map<String, Pod> pods = new LinkedHashMap<>();
    private final Map<String, Integer> podsPerNode = new LinkedHashMap<>();
    private final List<PodProcess> processes = new ArrayList<>();
    private final Thread shutdownHook;
    private boolean closed;

    private TestCluster(String prefix) {
        byte[] random = new byte[3];
        new SecureRandom().nextBytes(random);
        this.id = prefix + HexFormat.of().formatHex(random);
        this.workDir = tmp().resolve(id);
        this.bpffs = workDir.resolve("bpffs");
        this.cgroupMount = workDir.resolve("cgroup2");
        this.cgroupRoot = cgroupMount.resolve(id);
        this.logDir = workDir.resolve("logs");
        this.shutdownHook = new Thread(this::cleanup, id + "-cleanup");
    }

    /**
     * Builds a cluster of {@code nodeCount} nodes without pods, after removing leftovers of earlier runs with
     * the same prefix. Fails with the fix when a prerequisite (root, iproute2, cgroup2, bpffs) is missing.
     *
     * @param prefix lower-case letters that name this kind of cluster (e.g. {@code mkit}); leftovers of other
     *               prefixes are never touched
     */
    public static TestCluster create(String prefix, int nodeCount) {
        if (!prefix.matches("[a-z]{2,8}")) {
            throw new IllegalArgumentException("prefix must be 2 to 8 lower-case letters: " + prefix);
        }
        if (nodeCount < 1 || nodeCount > MAX_NODES) {
            throw new IllegalArgumentException("1 to " + MAX_NODES + " nodes, not " + nodeCount);
        }
        Prerequisites.requireClusterHost();
        removeLeftovers(prefix);
        TestCluster cluster = new TestCluster(prefix);
        Runtime.getRuntime().addShutdownHook(cluster.shutdownHook);
        try {
            cluster.build(nodeCount);
        } catch (RuntimeException | Error e) {
            cluster.close();
            throw e;
        }
        return cluster;
    }

    private void build(int nodeCount) {
        try {
            Files.createDirectories(logDir);
            Files.createDirectories(bpffs);
            Files.createDirectories(cgroupMount);
            ProcessHandle self = ProcessHandle.current();
            Files.writeString(workDir.resolve("owner"), self.pid() + " " + startOf(self).orElse(Instant.EPOCH) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create work directory " + workDir, e);
        }
        HostCommand.run("mount", "-t", "bpf", "bpf", bpffs.toString());
        HostCommand.run("mount", "-t", "cgroup2", "none", cgroupMount.toString());
        HostCommand.run("mkdir", cgroupRoot.toString());
        // Processes outside the nodes' data planes still go into the cluster's tree (with no program
        // attached): cleanup finds every one of them, and the tree's cpu.stat counts all the CPU they use.
        HostCommand.run("mkdir", cgroupRoot.resolve(UNENROLLED).toString());
        HostCommand.run("mkdir", cgroupRoot.resolve(HOST).toString());

        String underlay = underlayNetns();
        HostCommand.run("ip", "netns", "add", underlay);
        ip(underlay, "link", "set", "lo", "up");
        ip(underlay, "link", "add", "br0", "type", "bridge");
        ip(underlay, "link", "set", "br0", "up");
        for (int i = 0; i < nodeCount; i++) {
            nodes.add(buildNode(i, underlay));
        }
        // host-gw routing: every node reaches every other node's pods through that node's underlay address
        for (ClusterNode from : nodes) {
            for (ClusterNode to : nodes) {
                if (from != to) {
                    ip(from.netns(), "route", "add", to.podCidr(), "via", to.underlayIp().getHostAddress());
                }
            }
        }
    }

    private ClusterNode buildNode(int index, String underlay) {
        String name = "node-" + index;
        String netns = id + "-" + name;
        HostCommand.run("ip", "netns", "add", netns);
        ip(netns, "link", "set", "lo", "up");
        inNetns(netns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
        ip(netns, "link", "add", "name", "ul0", "type", "veth", "peer", "name", "n" + index, "netns", underlay);
        ip(underlay, "link", "set", "n" + index, "master", "br0", "up");
        String underlayIp = UNDERLAY_PREFIX + "." + (index + 1);
        ip(netns, "addr", "add", underlayIp + "/24", "dev", "ul0");
        ip(netns, "link", "set", "ul0", "up");
        String gateway = POD_PREFIX + "." + index + ".1";
        ip(netns, "link", "add", "cni0", "type", "bridge");
        ip(netns, "addr", "add", gateway + "/24", "dev", "cni0");
        ip(netns, "link", "set", "cni0", "up");
        Path cgroup = cgroupRoot.resolve(name);
        HostCommand.run("mkdir", cgroup.toString());
        Path pinDir = bpffs.resolve("mocket").resolve(name);
        podsPerNode.put(name, 0);
        return new ClusterNode(name, index, netns, address(underlayIp), address(gateway),
                POD_PREFIX + "." + index + ".0/24", cgroup, pinDir);
    }

    /**
     * Adds a pod to a node: a namespace with {@code eth0} on the node's pod bridge and routes to the cluster's
     * pod and underlay subnets through the node, nothing else.
     */
    public Pod addPod(ClusterNode node, String name) {
        if (!name.matches("[a-z0-9][a-z0-9-]{0,30}") || pods.containsKey(name)) {
            throw new IllegalArgumentException("pod name must be new, lower-case and short: " + name);
        }
        int k = podsPerNode.merge(node.name(), 1, Integer::sum);
        if (k > MAX_PODS_PER_NODE) {
            throw new IllegalArgumentException("at most " + MAX_PODS_PER_NODE + " pods on " + node.name());
        }
        String netns = id + "-" + name;
        String ip = POD_PREFIX + "." + node.index() + "." + (k + 1);
        String nodeSide = "p" + k;
        HostCommand.run("ip", "netns", "add", netns);
        ip(netns, "link", "set", "lo", "up");
        ip(netns, "link", "add", "name", "eth0", "type", "veth", "peer", "name", nodeSide, "netns", node.netns());
        ip(node.netns(), "link", "set", nodeSide, "master", "cni0", "up");
        ip(netns, "addr", "add", ip + "/24", "dev", "eth0");
        ip(netns, "link", "set", "eth0", "up");
        String gateway = node.podGateway().getHostAddress();
        ip(netns, "route", "add", POD_PREFIX + ".0.0/16", "via", gateway);
        ip(netns, "route", "add", UNDERLAY_PREFIX + ".0/24", "via", gateway);
        Pod pod = new Pod(name, node, netns, address(ip));
        pods.put(name, pod);
        return pod;
    }

    /**
     * Starts a command in a pod's network namespace. A shell writes the process into a cgroup first and then
     * execs the command (so the pid is the command's): its node's cgroup with {@link Enrollment#AMBIENT}, the
     * cluster's {@code unenrolled} cgroup (no program attached) with {@link Enrollment#NONE}.
     *
     * @param name a short label for logs and errors
     */
    public PodProcess start(Pod pod, Enrollment enrollment, String name, List<String> command) {
        Path procs = enrollment == Enrollment.AMBIENT ? pod.node().cgroupProcs()
                : cgroupRoot.resolve(UNENROLLED).resolve("cgroup.procs");
        return launch(pod.name() + "-" + name, inCgroup(pod.netns(), procs, command));
    }

    /**
     * Starts a command in a node's own network namespace (a node proxy, for instance), in the cluster's
     * {@code host} cgroup: no node program applies to it.
     */
    public PodProcess startOnNode(ClusterNode node, String name, List<String> command) {
        return launch(node.name() + "-" + name,
                inCgroup(node.netns(), cgroupRoot.resolve(HOST).resolve("cgroup.procs"), command));
    }

    private static List<String> inCgroup(String netns, Path cgroupProcs, List<String> command) {
        List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", netns,
                "sh", "-c", "echo $$ > \"$0\" && exec \"$@\"", cgroupProcs.toString()));
        argv.addAll(command);
        return argv;
    }

    /**
     * CPU time used so far by every process the cluster started, living or exited (the cgroup tree's
     * {@code cpu.stat}, which cgroup2 keeps without any controller enabled). With tick-based accounting this
     * includes the network softirq work the kernel does in those processes' context.
     */
    public Duration cpuUsage() {
        try {
            for (String line : Files.readAllLines(cgroupRoot.resolve("cpu.stat"))) {
                if (line.startsWith("usage_usec ")) {
                    return Duration.ofNanos(Long.parseLong(line.substring(11).trim()) * 1000);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + cgroupRoot.resolve("cpu.stat"), e);
        }
        throw new IllegalStateException("no usage_usec in " + cgroupRoot.resolve("cpu.stat"));
    }

    /** Starts a {@link PodProbe} in a pod and waits until it is ready for commands. */
    public PodProcess startProbe(Pod pod, Enrollment enrollment, String name) {
        PodProcess probe = start(pod, enrollment, name, PodProbe.command());
        String first = probe.nextLine(Duration.ofSeconds(30));
        if (!first.equals(PodProbe.READY)) {
            throw new IllegalStateException("probe " + name + " in " + pod.name() + " did not start: " + first
                    + "; stderr: " + probe.stderrTail());
        }
        return probe;
    }

    private PodProcess launch(String name, List<String> argv) {
        if (closed) {
            throw new IllegalStateException("cluster " + id + " is closed");
        }
        String file = name.replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + processes.size();
        Path out = logDir.resolve(file + ".out");
        Path err = logDir.resolve(file + ".err");
        try {
            Process process = new ProcessBuilder(argv).redirectError(err.toFile()).start();
            PodProcess p = new PodProcess(name, process, out, err);
            processes.add(p);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + argv, e);
        }
    }

    /** Runs a short command in a namespace of this cluster and returns its output; throws unless it exits 0. */
    public String inNetns(String netns, String... command) {
        requireOwn(netns);
        List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", netns));
        argv.addAll(List.of(command));
        return new HostCommand(argv, Duration.ofSeconds(20)).orThrow();
    }

    /** {@code ip -n <netns> ...} in a namespace of this cluster; throws unless it exits 0. */
    public String ip(String netns, String... args) {
        requireOwn(netns);
        List<String> argv = new ArrayList<>(List.of("ip", "-n", netns));
        argv.addAll(List.of(args));
        return new HostCommand(argv, Duration.ofSeconds(20)).orThrow();
    }

    /** Guards every command against touching a namespace (above all the root one) the cluster does not own. */
    private void requireOwn(String netns) {
        if (!netns.startsWith(id + "-")) {
            throw new IllegalArgumentException("namespace " + netns + " does not belong to cluster " + id);
        }
    }

    public String id() {
        return id;
    }

    public List<ClusterNode> nodes() {
        return List.copyOf(nodes);
    }

    public ClusterNode node(int index) {
        return nodes.get(index);
    }

    public List<Pod> pods() {
        return List.copyOf(pods.values());
    }

    /** The namespace of the underlay bridge. */
    public String underlayNetns() {
        return id + "-underlay";
    }

    /** The cluster's private bpffs mount; nodes pin under {@code <bpffs>/mocket/<node>}. */
    public Path bpffs() {
        return bpffs;
    }

    /** The cluster's directory in its private cgroup2 mount; node cgroups are its children. */
    public Path cgroupRoot() {
        return cgroupRoot;
    }

    /** Where processes' stdout and stderr are logged until the cluster is closed. */
    public Path logDirectory() {
        return logDir;
    }

    /**
     * What of this cluster still exists on the host: namespaces, mounts, cgroups, the work directory. Empty
     * after {@link #close()}; tests assert that.
     */
    public List<String> leftovers() {
        return leftoversOf(id, workDir);
    }

    /** Removes everything; safe to call more than once. */
    @Override
    public void close() {
        cleanup();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down and runs the hook itself
        }
    }

    private synchronized void cleanup() {
        if (closed) {
            return;
        }
        closed = true;
        // All at once, then one bounded wait: stopping them one by one would add their grace periods up.
        processes.forEach(PodProcess::terminate);
        long deadline = System.nanoTime() + Duration.ofSeconds(3).toNanos();
        for (PodProcess p : processes) {
            while (p.isAlive() && System.nanoTime() < deadline) {
                sleep(20);
            }
        }
        removeAll(id, workDir); // kills whatever is still running in the cluster's namespaces and cgroups
        processes.forEach(PodProcess::close);
    }

    // ------------------------------------------------------------------ removal, also of earlier runs

    /**
     * Removes everything named after {@code id}, in the order the kernel requires: processes first (a cgroup
     * with members cannot be removed, and a process started by {@code ip netns exec} holds copies of the
     * mounts in its own mount namespace), then bpffs (dropping every pin detaches the links and frees the
     * maps), cgroups, the cgroup2 mount, namespaces, files. Best effort: every step runs even if one fails.
     */
    private static void removeAll(String id, Path workDir) {
        List<String> namespaces = namespacesOf(id);
        Path cgroupMount = workDir.resolve("cgroup2");
        Path cgroupRoot = cgroupMount.resolve(id);
        long deadline = System.nanoTime() + CLEANUP_WAIT.toNanos();
        for (int round = 0; round < 50 && System.nanoTime() < deadline; round++) {
            List<Long> pids = processesOf(namespaces, cgroupRoot);
            if (pids.isEmpty()) {
                break;
            }
            for (long pid : pids) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
            sleep(100);
        }
        for (String mount : mountsUnder(workDir).reversed()) {
            if (mount.endsWith("/cgroup2")) {
                continue; // after its cgroups
            }
            unmount(mount);
        }
        if (Files.isDirectory(cgroupRoot)) {
            List<Path> dirs;
            try (Stream<Path> walk = Files.walk(cgroupRoot)) {
                dirs = walk.filter(Files::isDirectory).sorted(Comparator.reverseOrder()).toList();
            } catch (IOException | UncheckedIOException e) {
                dirs = List.of(cgroupRoot);
            }
            for (Path dir : dirs) {
                for (int i = 0; i < 50 && Files.exists(dir) && System.nanoTime() < deadline + CLEANUP_WAIT.toNanos(); i++) {
                    // rmdir, not a recursive delete: cgroupfs removes a cgroup's files with the directory
                    HostCommand.runQuietly("rmdir", dir.toString());
                    if (Files.exists(dir)) {
                        sleep(100);
                    }
                }
            }
        }
        for (String mount : mountsUnder(workDir).reversed()) {
            unmount(mount);
        }
        for (String ns : namespaces) {
            HostCommand.runQuietly("ip", "netns", "del", ns);
        }
        if (Files.isDirectory(workDir) && mountsUnder(workDir).isEmpty()) {
            try (Stream<Path> walk = Files.walk(workDir)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            } catch (IOException | UncheckedIOException e) {
                // reported by leftovers(); the next run's sweep tries again
            }
        }
    }

    private static void unmount(String mount) {
        if (!HostCommand.of("umount", mount).execute().ok()) {
            // Busy only while a process that escaped the kill still holds it: detach now, freed when it exits.
            HostCommand.runQuietly("umount", "-l", mount);
        }
    }

    /** Removes clusters of this prefix whose owning JVM is gone (killed before it could clean up). */
    static void removeLeftovers(String prefix) {
        Pattern idPattern = Pattern.compile(Pattern.quote(prefix) + "[0-9a-f]{6}");
        try (Stream<Path> dirs = Files.list(tmp())) {
            for (Path dir : dirs.filter(d -> idPattern.matcher(d.getFileName().toString()).matches()).toList()) {
                if (!ownerAlive(dir)) {
                    removeAll(dir.getFileName().toString(), dir);
                }
            }
        } catch (IOException e) {
            // no temp directory listing: namespaces are still checked below
        }
        for (String ns : allNamespaces()) {
            int dash = ns.indexOf('-');
            if (dash > 0 && idPattern.matcher(ns.substring(0, dash)).matches()) {
                String id = ns.substring(0, dash);
                Path dir = tmp().resolve(id);
                if (!ownerAlive(dir)) {
                    removeAll(id, dir);
                }
            }
        }
    }

    /** The owner file names a live JVM that started when the file says: pids are reused, start times not. */
    private static boolean ownerAlive(Path workDir) {
        Path owner = workDir.resolve("owner");
        try {
            String[] fields = Files.readString(owner, StandardCharsets.UTF_8).trim().split(" ");
            long pid = Long.parseLong(fields[0]);
            Optional<ProcessHandle> handle = ProcessHandle.of(pid);
            return handle.isPresent() && startOf(handle.get()).map(Instant::toString).orElse("").equals(fields[1]);
        } catch (IOException | RuntimeException e) {
            // No owner file: a cluster still being created writes it within moments of its directory.
            try {
                return Files.getLastModifiedTime(workDir).toInstant().isAfter(Instant.now().minusSeconds(60));
            } catch (IOException gone) {
                return false;
            }
        }
    }

    private static Optional<Instant> startOf(ProcessHandle handle) {
        return handle.info().startInstant();
    }

    static List<String> leftoversOf(String id, Path workDir) {
        List<String> left = new ArrayList<>();
        namespacesOf(id).forEach(ns -> left.add("network namespace " + ns));
        mountsUnder(workDir).forEach(m -> left.add("mount " + m));
        if (Files.exists(workDir)) {
            left.add("directory " + workDir);
        }
        return left;
    }

    private static List<String> namespacesOf(String id) {
        return allNamespaces().stream().filter(ns -> ns.startsWith(id + "-")).toList();
    }

    private static List<String> allNamespaces() {
        List<String> names = new ArrayList<>();
        for (String line : HostCommand.runQuietly("ip", "netns", "list").split("\n")) {
            if (!line.isBlank()) {
                names.add(line.trim().split(" ")[0]);
            }
        }
        return names;
    }

    /** Pids in the namespaces and in the cgroup tree: everything the cluster started, and their children. */
    private static List<Long> processesOf(List<String> namespaces, Path cgroupRoot) {
        List<Long> pids = new ArrayList<>();
        for (String ns : namespaces) {
            for (String line : HostCommand.runQuietly("ip", "netns", "pids", ns).split("\n")) {
                if (line.trim().matches("[0-9]+")) {
                    pids.add(Long.parseLong(line.trim()));
                }
            }
        }
        if (Files.isDirectory(cgroupRoot)) {
            try (Stream<Path> walk = Files.walk(cgroupRoot)) {
                for (Path procs : walk.filter(p -> p.getFileName().toString().equals("cgroup.procs")).toList()) {
                    for (String line : Files.readAllLines(procs)) {
                        if (line.trim().matches("[0-9]+")) {
                            pids.add(Long.parseLong(line.trim()));
                        }
                    }
                }
            } catch (IOException | UncheckedIOException e) {
                // the tree went away meanwhile
            }
        }
        long self = ProcessHandle.current().pid();
        return pids.stream().filter(p -> p != self).distinct().toList();
    }

    /** Mount points at or under a directory, outermost first, from this process's mount table. */
    private static List<String> mountsUnder(Path dir) {
        String base = dir.toString();
        List<String> mounts = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
                String[] fields = line.split(" ");
                // /proc/self/mounts escapes spaces as \040; our paths have none
                if (fields.length > 1 && (fields[1].equals(base) || fields[1].startsWith(base + "/"))) {
                    mounts.add(fields[1]);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/mounts", e);
        }
        return mounts;
    }

    private static Path tmp() {
        return Path.of(System.getProperty("java.io.tmpdir"));
    }

    private static InetAddress address(String ip) {
        try {
            return InetAddress.getByName(ip);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(ip, e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "TestCluster " + id + " " + nodes.stream().map(ClusterNode::name).toList() + " pods " + pods.keySet();
    }
}
