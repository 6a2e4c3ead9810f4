package io.mocket.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mocket.bpf.HostCheck;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Start-up on a host that cannot run the agent, and with bad settings: the message names the fix. */
class AgentStartupTest {

    private record Outcome(int code, String out, String err) {
    }

    private static Outcome run(Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Agent.run(args, env, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), agent -> {
                    throw new AssertionError("the agent must not start on this host");
                });
        return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aPinRootOffBpffsAndACgroupOffCgroup2StopTheAgentWithTheMountCommands(@TempDir Path dir) {
        // The temp directory is neither bpffs nor cgroup2: the real host check says so before anything loads.
        Outcome o = run(Map.of("NODE_NAME", "node-1"), "--pin-root", dir.resolve("pins").toString(),
                "--cgroup", dir.toString());
        assertEquals(Agent.EXIT_HOST, o.code(), o.err());
        assertTrue(o.err().contains("bpffs: " + dir.resolve("pins") + " is on"), o.err());
        assertTrue(o.err().contains("fix: mount -t bpf bpf " + dir.resolve("pins")), o.err());
        assertTrue(o.err().contains("cgroup2: " + dir + " is on"), o.err());
        assertTrue(o.err().contains("fix: mount -t cgroup2 none " + dir), o.err());
        assertTrue(Files.notExists(dir.resolve("pins")), "nothing was created");
    }

    @Test
    void checkHostOnlyReportsAndExitsWithTheSameCode(@TempDir Path dir) {
        Outcome o = run(Map.of("NODE_NAME", "node-1", "MOCKET_PIN_ROOT", dir.toString(), "MOCKET_CGROUP",
                dir.toString()), "--check-host");
        assertEquals(Agent.EXIT_HOST, o.code());
        assertTrue(o.err().contains("this host cannot run the agent; missing:"), o.err());
    }

    @Test
    void missingBtfAndPrivilegesAreNamedWithTheirFixes(@TempDir Path dir) throws IOException {
        Path mountinfo = dir.resolve("mountinfo");
        Files.writeString(mountinfo, """
                22 1 0:21 / /sys/fs/bpf rw,relatime shared:7 - bpf bpf rw
                30 1 0:26 / /sys/fs/cgroup rw,relatime shared:9 - cgroup2 cgroup2 rw
                """);
        Path status = dir.resolve("status");
        Files.writeString(status, "Name:\tjava\nCapEff:\t0000000000000000\n");
        HostCheck check = new HostCheck(null, mountinfo, dir.resolve("no-btf"), status);
        ByteArrayOutputStream err = new ByteArrayOutputStream();

        int code = Agent.hostCheckExit(check.run(Path.of("/sys/fs/bpf/mocket"), Path.of("/sys/fs/cgroup")),
                new PrintStream(err, true, StandardCharsets.UTF_8));

        String msg = err.toString(StandardCharsets.UTF_8);
        assertEquals(Agent.EXIT_HOST, code);
        assertTrue(msg.contains("kernel BTF: " + dir.resolve("no-btf") + " missing"), msg);
        assertTrue(msg.contains("CONFIG_DEBUG_INFO_BTF=y"), msg);
        assertTrue(msg.contains("privileges: CapEff=0") && msg.contains("run as root, or grant CAP_BPF"), msg);
        assertTrue(!msg.contains("bpffs") && !msg.contains("cgroup2:"), "mounts are fine here: " + msg);
    }

    @Test
    void withoutANodeNameTheAgentSaysWhereItComesFrom() {
        Outcome o = run(Map.of());
        assertEquals(Agent.EXIT_USAGE, o.code());
        assertTrue(o.err().contains("NODE_NAME") && o.err().contains("--node-name"), o.err());
        assertTrue(o.err().contains("--control-plane") && o.err().contains("localhost:15110"), "usage follows");
    }

    @Test
    void flagsOverrideTheEnvironmentAndDefaultsAreDocumented() throws AgentConfig.UsageException {
        AgentConfig c = AgentConfig.parse(new String[]{"--admin-port=0", "--locality", "r1/z2"},
                Map.of("NODE_NAME", "n1", "MOCKET_ADMIN_PORT", "9999", "POD_IP", "10.1.2.3"));
        assertEquals("n1", c.nodeName());
        assertEquals(0, c.adminPort());
        assertEquals("10.1.2.3", c.podIp());
        assertEquals("z2", c.locality().orElseThrow().getZone());
        assertEquals("localhost:15110", c.controlPlane());
        assertEquals(Path.of("/sys/fs/bpf/mocket/n1"), c.pinDirectory());
        assertEquals(15120, AgentConfig.parse(new String[0], Map.of("NODE_NAME", "n1")).adminPort());
        assertEquals(Duration.ofMillis(20), AgentConfig.parse(new String[0], Map.of("NODE_NAME", "n1")).debounce());
        Outcome bad = run(Map.of("NODE_NAME", "n1"), "--admin-port", "http");
        assertEquals(Agent.EXIT_USAGE, bad.code());
        assertTrue(bad.err().contains("--admin-port must be a number, got 'http'"), bad.err());
        Outcome noPort = run(Map.of("NODE_NAME", "n1", "MOCKET_CONTROL_PLANE", "mocket-control-plane.istio-system.svc"));
        assertEquals(Agent.EXIT_USAGE, noPort.code());
        assertTrue(noPort.err().contains("--control-plane (MOCKET_CONTROL_PLANE): control plane address"
                + " 'mocket-control-plane.istio-system.svc' is not host:port"), noPort.err());
    }
}
