package io.mocket.bpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** Failures carry the call, the object, the errno and the fix; the verifier's reason reaches the caller. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BpfErrorTest {

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
    void aMissingPinNamesThePathAndTheMount() {
        Path pin = host.bpffs.resolve("mocket/node-a/mk_frontend");
        BpfException e = assertThrows(BpfException.class, () -> BpfMap.openPinned(libbpf, pin));
        assertEquals("bpf_obj_get", e.call());
        assertEquals(Errno.ENOENT.number(), e.errno());
        assertTrue(e.getMessage().contains(pin.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("mount -t bpf bpf /sys/fs/bpf"), e.getMessage());
    }

    @Test
    void pinningOffBpffsFailsWithTheFix() {
        Path pinDir = host.workDir.resolve("not-bpffs");
        BpfException e = assertThrows(BpfException.class, () -> SocketLoadBalancer.load(libbpf, pinDir).close());
        assertTrue(e.getMessage().contains(pinDir.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("not on bpffs: mount -t bpf bpf"), e.getMessage());
        assertTrue(Files.notExists(pinDir), "nothing created off bpffs");
    }

    @Test
    void attachingToADirectoryThatIsNoCgroupSaysSo() {
        Path pinDir = host.bpffs.resolve("attach-test");
        SocketLoadBalancer lb = SocketLoadBalancer.load(libbpf, pinDir);
        try {
            BpfException e = assertThrows(BpfException.class, () -> lb.attach(host.workDir));
            assertEquals("bpf_program__attach_cgroup", e.call());
            assertTrue(e.getMessage().contains("cgroup v2"), e.getMessage());
        } finally {
            lb.detachAndUnpin();
        }
        assertTrue(Files.notExists(pinDir));
    }

    @Test
    void aRejectedProgramCarriesTheVerifierLog() throws Exception {
        // Reads a map value without checking the lookup for NULL: the verifier must refuse it.
        String source = """
                #include <linux/bpf.h>
                #include <bpf/bpf_helpers.h>
                struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1);
                         __type(key, __u32); __type(value, __u32); } m SEC(".maps");
                SEC("cgroup/connect4")
                int unchecked(struct bpf_sock_addr *ctx) {
                    __u32 k = 0;
                    __u32 *v = bpf_map_lookup_elem(&m, &k);
                    return *v;
                }
                char LICENSE[] SEC("license") = "GPL";
                """;
        Path dir = Files.createTempDirectory(host.workDir, "verifier");
        Path src = Files.writeString(dir.resolve("bad.bpf.c"), source);
        Path obj = dir.resolve("bad.bpf.o");
        String multiarch = "/usr/include/" + System.getProperty("os.arch").replace("amd64", "x86_64") + "-linux-gnu";
        Process cc = new ProcessBuilder("clang", "-O2", "-g", "-target", "bpf", "-I" + multiarch, "-c", src.toString(),
                "-o", obj.toString()).redirectErrorStream(true).start();
        String out = new String(cc.getInputStream().readAllBytes());
        assertTrue(cc.waitFor(60, TimeUnit.SECONDS) && cc.exitValue() == 0, "clang: " + out);

        try (BpfObject object = BpfObject.open(libbpf, "bad", Files.readAllBytes(obj), host.bpffs)) {
            BpfException e = assertThrows(BpfException.class, object::load);
            assertEquals("bpf_object__load", e.call());
            assertEquals(Errno.EACCES.number(), e.errno());
            assertTrue(e.getMessage().contains("verifier log"), e.getMessage());
            assertTrue(e.getMessage().contains("map_value_or_null"), e.getMessage());
            assertEquals(0, object.verifierLogBytes(), "the log buffer is freed once the load returned");
            IllegalStateException again = assertThrows(IllegalStateException.class, object::load);
            assertTrue(again.getMessage().contains("bad") && again.getMessage().contains("open it again"),
                    again.getMessage());
        }
    }

    @Test
    void aLoadedObjectGivesItsVerifierLogBufferBack() throws Exception {
        Path pins = Files.createDirectories(host.bpffs.resolve("log-buffer"));
        try (BpfObject object = BpfObject.open(libbpf, "getpeername", SocketLoadBalancer.packagedObject("getpeername"),
                pins)) {
            assertEquals(4L << 20, object.verifierLogBytes(), "opened: libbpf may write the log while loading");
            object.load();
            assertEquals(0, object.verifierLogBytes(), "loaded: no 4 MiB held for a log no one writes any more");
            assertTrue(object.programs().stream().allMatch(p -> p.fd() >= 0), "programs still usable");
        }
    }
}
