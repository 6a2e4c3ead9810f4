package io.mocket.bpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The host check on this machine (with the test's own mounts) and on simulated broken hosts. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostCheckTest {

    private KernelTestHost host;
    private Libbpf libbpf;

    @BeforeAll
    void setUp() {
        host = KernelTestHost.create(false);
        libbpf = Libbpf.load();
    }

    @AfterAll
    void tearDown() {
        host.close();
    }

    @Test
    void aPreparedHostPassesEveryCheck() {
        HostCheck.Report report = HostCheck.ofThisHost(libbpf).run(host.bpffs.resolve("mocket/node-a"), host.cgroup);
        assertTrue(report.ok(), report.describeFailures());
        List<String> checks = report.findings().stream().map(HostCheck.Finding::check).toList();
        assertTrue(checks.containsAll(List.of("privileges", "bpffs", "cgroup2", "kernel BTF",
                "program type cgroup_sock_addr", "program type sock_ops", "map type lru_hash")), checks.toString());
    }

    @Test
    void aPinRootOffBpffsIsReportedWithTheMountCommand() {
        HostCheck.Report report = HostCheck.ofThisHost(libbpf).run(host.workDir.resolve("pins"), host.cgroup);
        HostCheck.Finding bpffs = finding(report, "bpffs");
        assertFalse(bpffs.ok());
        assertEquals("mount -t bpf bpf " + host.workDir.resolve("pins"), bpffs.fix());
        IllegalStateException e = assertThrows(IllegalStateException.class, report::requireOk);
        assertTrue(e.getMessage().contains("mount -t bpf bpf"), e.getMessage());
    }

    @Test
    void aCgroupDirectoryOffCgroup2IsReportedWithTheMountCommand() {
        HostCheck.Report report = HostCheck.ofThisHost(libbpf).run(host.bpffs, host.workDir);
        HostCheck.Finding cgroup = finding(report, "cgroup2");
        assertFalse(cgroup.ok(), cgroup.toString());
        assertTrue(cgroup.fix().startsWith("mount -t cgroup2 none " + host.workDir), cgroup.fix());
    }

    @Test
    void aHostWithoutBpffsCgroup2OrBtfGetsEveryFix(@TempDir Path dir) throws Exception {
        // A host as it boots here: only the root filesystem and cgroup v1.
        Path mountInfo = Files.writeString(dir.resolve("mountinfo"), """
                22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
                25 22 0:21 / /sys rw,nosuid shared:7 - sysfs sysfs rw
                30 25 0:26 / /sys/fs/cgroup rw shared:9 - tmpfs tmpfs rw,mode=755
                31 30 0:27 / /sys/fs/cgroup/cpu rw shared:10 - cgroup cgroup rw,cpu
                """);
        Path status = Files.writeString(dir.resolve("status"), "Name:\tagent\nCapEff:\t0000000000000000\n");
        HostCheck check = new HostCheck(null, mountInfo, dir.resolve("no-btf"), status);
        HostCheck.Report report = check.run(Path.of("/sys/fs/bpf/mocket/node-a"), Path.of("/sys/fs/cgroup/cpu"));
        assertEquals("mount -t bpf bpf /sys/fs/bpf", finding(report, "bpffs").fix());
        assertFalse(finding(report, "bpffs").ok());
        assertFalse(finding(report, "cgroup2").ok());
        assertTrue(finding(report, "cgroup2").detail().contains("cgroup mounted at /sys/fs/cgroup/cpu"),
                finding(report, "cgroup2").detail());
        assertFalse(finding(report, "kernel BTF").ok());
        assertTrue(finding(report, "kernel BTF").fix().contains("CONFIG_DEBUG_INFO_BTF"));
        assertFalse(finding(report, "privileges").ok());
        assertEquals(4, report.failures().size(), report.describeFailures());
    }

    private static HostCheck.Finding finding(HostCheck.Report report, String name) {
        return report.findings().stream().filter(f -> f.check().equals(name)).findFirst().orElseThrow();
    }
}
