package io.mocket.agent;

import static org.junit.jupiter.api.Assertions.assertFalse;

import io.mocket.bpf.Libbpf;
import java.nio.file.Files;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/**
 * The agent's tests against the real kernel: one private bpffs and cgroup2 sandbox per test class, removed after
 * it, and a check that nothing of it is left (work directory, mounts).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class KernelTestBase {
    protected KernelSandbox sandbox;
    protected Libbpf libbpf;

    @BeforeAll
    void openSandbox() {
        sandbox = KernelSandbox.create();
        libbpf = Libbpf.load();
    }

    @AfterAll
    void closeSandbox() {
        sandbox.close();
        assertFalse(Files.exists(sandbox.workDir), "work directory left behind: " + sandbox.workDir);
        assertFalse(KernelSandbox.runQuietly("grep", sandbox.id, "/proc/self/mountinfo").contains(sandbox.id),
                "mounts left behind");
    }
}
