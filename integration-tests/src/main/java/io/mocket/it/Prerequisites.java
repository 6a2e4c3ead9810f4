package io.mocket.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a host needs before a {@link TestCluster} can be built or a benchmark run, checked up front so a
 * missing piece fails with its fix instead of a confusing error halfway through.
 */
public final class Prerequisites {

    private Prerequisites() {
    }

    /** Root, iproute2, cgroup2 and bpffs support, network namespaces. */
    public static void requireClusterHost() {
        List<String> missing = new ArrayList<>();
        String uid = uid();
        if (!uid.equals("0")) {
            missing.add("root (uid 0, this is uid " + uid + "): the cluster mounts bpffs and cgroup2, creates network"
                    + " namespaces and loads BPF programs; run the build as root (CI does)");
        }
        if (!HostCommand.of("ip", "-V").execute().ok()) {
            missing.add("the ip command: apt-get install iproute2");
        }
        String filesystems = read(Path.of("/proc/filesystems"));
        if (!filesystems.contains("\tcgroup2\n")) {
            missing.add("cgroup2 in this kernel (not in /proc/filesystems): a kernel with CONFIG_CGROUPS and cgroup v2");
        }
        if (!filesystems.contains("\tbpf\n")) {
            missing.add("bpffs in this kernel (not in /proc/filesystems): a kernel with CONFIG_BPF_SYSCALL");
        }
        if (!Files.exists(Path.of("/proc/self/ns/net"))) {
            missing.add("network namespaces: a kernel with CONFIG_NET_NS");
        }
        fail(missing);
    }

    /** Programs that must be on the PATH, each with the Debian package that installs it. */
    public static void requirePrograms(List<String> programAndPackage) {
        List<String> missing = new ArrayList<>();
        for (int i = 0; i + 1 < programAndPackage.size(); i += 2) {
            if (!HostCommand.onPath(programAndPackage.get(i))) {
                missing.add(programAndPackage.get(i) + ": apt-get install " + programAndPackage.get(i + 1));
            }
        }
        fail(missing);
    }

    private static void fail(List<String> missing) {
        if (!missing.isEmpty()) {
            throw new IllegalStateException("this host cannot run the multi-node cluster; missing:\n  - "
                    + String.join("\n  - ", missing));
        }
    }

    private static String uid() {
        for (String line : read(Path.of("/proc/self/status")).split("\n")) {
            if (line.startsWith("Uid:")) {
                return line.split("\\s+")[1];
            }
        }
        return "unknown";
    }

    private static String read(Path path) {
        try {
            return Files.readString(path);
        } catch (IOException e) {
            return "";
        }
    }
}
