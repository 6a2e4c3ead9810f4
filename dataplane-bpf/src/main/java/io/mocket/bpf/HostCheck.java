package io.mocket.bpf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Checks that a host can run the socket load balancer and says how to fix what is missing: bpffs under the
 * pin root, cgroup2 at the cgroup directory, kernel BTF, BPF program and map types, privileges.
 * Reads only /proc and /sys (paths injectable for tests); loads nothing into the kernel but libbpf's probes.
 */
public final class HostCheck {

    // enum bpf_prog_type, bpf_map_type, bpf_func_id values (UAPI, stable)
    private static final int PROG_TYPE_SOCK_OPS = 13;
    private static final int PROG_TYPE_CGROUP_SOCK_ADDR = 18;
    private static final int MAP_TYPE_HASH = 1;
    private static final int MAP_TYPE_LRU_HASH = 9;
    private static final int FUNC_SET_RETVAL = 187;
    // capability bits
    private static final int CAP_NET_ADMIN = 12;
    private static final int CAP_SYS_ADMIN = 21;
    private static final int CAP_BPF = 39;

    private final Libbpf libbpf;
    private final Path mountInfo;
    private final Path kernelBtf;
    private final Path procStatus;

    /**
     * @param libbpf     for the kernel feature probes, or null to skip them
     * @param mountInfo  normally /proc/self/mountinfo
     * @param kernelBtf  normally /sys/kernel/btf/vmlinux
     * @param procStatus normally /proc/self/status
     */
    public HostCheck(Libbpf libbpf, Path mountInfo, Path kernelBtf, Path procStatus) {
        this.libbpf = libbpf;
        this.mountInfo = mountInfo;
        this.kernelBtf = kernelBtf;
        this.procStatus = procStatus;
    }

    /** The check of this host and process. */
    public static HostCheck ofThisHost(Libbpf libbpf) {
        return new HostCheck(libbpf, Path.of("/proc/self/mountinfo"), Path.of("/sys/kernel/btf/vmlinux"),
                Path.of("/proc/self/status"));
    }

    /** One finding: what was checked, whether it holds, what was seen, and the fix if it does not. */
    public record Finding(String check, boolean ok, String detail, String fix) {
    }

    /** All findings of one run. */
    public record Report(List<Finding> findings) {

        public Report {
            findings = List.copyOf(findings);
        }

        /** Whether every check passed. */
        public boolean ok() {
            return findings.stream().allMatch(Finding::ok);
        }

        /** The findings that failed. */
        public List<Finding> failures() {
            return findings.stream().filter(f -> !f.ok()).toList();
        }

        /** One line per failure with its fix, for logs and exceptions. */
        public String describeFailures() {
            return failures().stream()
                    .map(f -> f.check() + ": " + f.detail() + " -> " + f.fix())
                    .collect(Collectors.joining("\n"));
        }

        /** @throws IllegalStateException listing every failure and its fix */
        public void requireOk() {
            if (!ok()) {
                throw new IllegalStateException("host cannot run the Mocket socket load balancer:\n"
                        + describeFailures());
            }
        }
    }

    /** A mount from mountinfo: where it is and its filesystem type. */
    record Mount(Path mountPoint, String fsType) {
    }

    /**
     * Runs every check.
     *
     * @param pinRoot   where maps and links will be pinned (may not exist yet)
     * @param cgroupDir the cgroup2 directory the programs will attach to
     */
    public Report run(Path pinRoot, Path cgroupDir) {
        List<Finding> findings = new ArrayList<>();
        findings.add(checkPrivileges());
        findings.add(checkFilesystem("bpffs", pinRoot, "bpf",
                "mount -t bpf bpf " + bpffsMountSuggestion(pinRoot)));
        findings.add(checkFilesystem("cgroup2", cgroupDir, "cgroup2",
                "mount -t cgroup2 none " + cgroupDir + " (or pass a directory inside a cgroup2 mount)"));
        findings.add(checkBtf());
        if (libbpf != null) {
            findings.add(probe("program type cgroup_sock_addr", libbpf.probeProgramType(PROG_TYPE_CGROUP_SOCK_ADDR),
                    "kernel 5.8+ built with CONFIG_CGROUP_BPF=y (connect/sendmsg/recvmsg/getpeername hooks)"));
            findings.add(probe("program type sock_ops", libbpf.probeProgramType(PROG_TYPE_SOCK_OPS),
                    "kernel built with CONFIG_CGROUP_BPF=y"));
            findings.add(probe("map type hash", libbpf.probeMapType(MAP_TYPE_HASH),
                    "kernel built with CONFIG_BPF_SYSCALL=y"));
            findings.add(probe("map type lru_hash", libbpf.probeMapType(MAP_TYPE_LRU_HASH),
                    "kernel 4.10+ built with CONFIG_BPF_SYSCALL=y"));
            int retval = libbpf.probeHelper(PROG_TYPE_CGROUP_SOCK_ADDR, FUNC_SET_RETVAL);
            // Optional: without it a VIP with no backend fails with EPERM instead of ECONNREFUSED.
            findings.add(new Finding("helper bpf_set_retval", true,
                    retval == 1 ? "available" : "missing: a VIP without backends fails with EPERM, not ECONNREFUSED",
                    "kernel 5.18+"));
        }
        return new Report(findings);
    }

    private Finding checkPrivileges() {
        Optional<Long> caps = effectiveCapabilities();
        if (caps.isEmpty()) {
            return new Finding("privileges", false, "cannot read " + procStatus, "run on Linux with /proc mounted");
        }
        long c = caps.get();
        boolean bpf = has(c, CAP_BPF) || has(c, CAP_SYS_ADMIN);
        boolean net = has(c, CAP_NET_ADMIN);
        boolean admin = has(c, CAP_SYS_ADMIN);
        boolean ok = bpf && net && admin;
        return new Finding("privileges", ok, "CapEff=" + Long.toHexString(c),
                "run as root, or grant CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN (pinning, cgroup attach)");
    }

    private Finding checkFilesystem(String name, Path path, String fsType, String fix) {
        Optional<Mount> mount = mountOf(path);
        if (mount.isEmpty()) {
            return new Finding(name, false, "no mount found for " + path, fix);
        }
        boolean ok = mount.get().fsType().equals(fsType);
        String detail = path + " is on " + mount.get().fsType() + " mounted at " + mount.get().mountPoint();
        return new Finding(name, ok, detail, fix);
    }

    private Finding checkBtf() {
        boolean ok = Files.isReadable(kernelBtf);
        return new Finding("kernel BTF", ok, ok ? kernelBtf + " present" : kernelBtf + " missing",
                "a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, Fedora kernels have it)");
    }

    private static Finding probe(String name, int rc, String fix) {
        String detail = rc == 1 ? "supported" : rc == 0 ? "not supported" : "probe failed: " + Errno.name(-rc);
        return new Finding(name, rc == 1, detail, fix);
    }

    /** The mount that holds {@code path}: the deepest mount point above it (the path may not exist yet). */
    Optional<Mount> mountOf(Path path) {
        Path target = existingAncestor(path.toAbsolutePath().normalize());
        List<Mount> mounts = mounts();
        Mount best = null;
        for (Mount m : mounts) {
            // A later line for the same point is a mount stacked on top: it wins.
            if (target.startsWith(m.mountPoint())
                    && (best == null || m.mountPoint().getNameCount() >= best.mountPoint().getNameCount())) {
                best = m;
            }
        }
        return Optional.ofNullable(best);
    }

    List<Mount> mounts() {
        List<Mount> mounts = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(mountInfo)) {
                // id parent major:minor root mount-point options [optional...] - fstype source super-options
                String[] fields = line.split(" ");
                int dash = List.of(fields).indexOf("-");
                if (fields.length < 5 || dash < 0 || dash + 1 >= fields.length) {
                    continue;
                }
                mounts.add(new Mount(Path.of(unescape(fields[4])), fields[dash + 1]));
            }
        } catch (IOException e) {
            return List.of();
        }
        return mounts;
    }

    private static Path existingAncestor(Path path) {
        Path p = path;
        while (p != null && !Files.exists(p)) {
            p = p.getParent();
        }
        if (p == null) {
            return path.getRoot();
        }
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p;
        }
    }

    private static String bpffsMountSuggestion(Path pinRoot) {
        Path p = pinRoot.toAbsolutePath().normalize();
        return p.startsWith("/sys/fs/bpf") ? "/sys/fs/bpf" : p.toString();
    }

    /** mountinfo escapes space, tab, newline and backslash as octal. */
    private static String unescape(String s) {
        return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
    }

    private Optional<Long> effectiveCapabilities() {
        try {
            return Files.readAllLines(procStatus).stream()
                    .filter(l -> l.startsWith("CapEff:"))
                    .map(l -> Long.parseUnsignedLong(l.substring(7).trim(), 16))
                    .findFirst();
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static boolean has(long caps, int bit) {
        return (caps & (1L << bit)) != 0;
    }
}
