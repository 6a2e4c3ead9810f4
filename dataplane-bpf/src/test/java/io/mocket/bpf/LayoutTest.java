package io.mocket.bpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Java and C agree on every byte: the map structs against the BTF of the packaged objects, and the libbpf
 * option structs against libbpf's own header compiled by the host C compiler.
 */
class LayoutTest {

    @Test
    void javaLayoutsMatchTheBtfOfEveryPackagedObject() {
        Libbpf libbpf = Libbpf.load();
        Set<String> seen = new HashSet<>();
        for (String name : SocketLoadBalancer.OBJECTS) {
            try (BpfObject object = BpfObject.open(libbpf, name, SocketLoadBalancer.packagedObject(name), null)) {
                assertEquals(List.of(), LayoutCheck.mismatches(object), name);
                for (LoadBalancerMaps.MapSpec spec : LoadBalancerMaps.SPECS) {
                    for (BpfCodec<?> codec : List.of(spec.key(), spec.value())) {
                        if (codec.cType() != null && object.btfStruct(codec.cType()).isPresent()) {
                            seen.add(codec.cType());
                        }
                    }
                }
            }
        }
        Set<String> expected = LoadBalancerMaps.SPECS.stream()
                .flatMap(s -> java.util.stream.Stream.of(s.key().cType(), s.value().cType()))
                .filter(java.util.Objects::nonNull)
                .collect(Collectors.toSet());
        assertEquals(expected, seen, "every struct was found in some object's BTF, so the check compared them all");
    }

    @Test
    void aLayoutThatDriftsFromCIsReported() {
        Libbpf libbpf = Libbpf.load();
        try (BpfObject object = BpfObject.open(libbpf, "connect", SocketLoadBalancer.packagedObject("connect"), null)) {
            BtfStruct c = object.btfStruct("mk_endpoint_value").orElseThrow();
            BpfCodec<EndpointKey> wrong = new BpfCodec<>(EndpointKey.LAYOUT, "mk_endpoint_value", (k, s) -> { },
                    s -> null);
            List<String> problems = LayoutCheck.compare(wrong, c);
            assertFalse(problems.isEmpty());
            assertTrue(problems.getFirst().contains("mk_endpoint_value is 8 bytes in C, 16 in Java"), problems.toString());
        }
    }

    @Test
    void libbpfOptionStructsMatchTheInstalledHeaders() throws Exception {
        String program = """
                #include <stdio.h>
                #include <stddef.h>
                #include <bpf/libbpf.h>
                #include <bpf/bpf.h>
                #include <linux/bpf.h>
                #define F(s, m) printf(#s "." #m "=%zu\\n", offsetof(struct s, m))
                int main(void) {
                    printf("bpf_object_open_opts=%zu\\n", sizeof(struct bpf_object_open_opts));
                    F(bpf_object_open_opts, sz); F(bpf_object_open_opts, object_name);
                    F(bpf_object_open_opts, relaxed_maps); F(bpf_object_open_opts, pin_root_path);
                    F(bpf_object_open_opts, kconfig); F(bpf_object_open_opts, btf_custom_path);
                    F(bpf_object_open_opts, kernel_log_buf); F(bpf_object_open_opts, kernel_log_size);
                    F(bpf_object_open_opts, kernel_log_level);
                    printf("bpf_map_batch_opts=%zu\\n", sizeof(struct bpf_map_batch_opts));
                    F(bpf_map_batch_opts, elem_flags); F(bpf_map_batch_opts, flags);
                    F(bpf_map_info, type); F(bpf_map_info, id); F(bpf_map_info, key_size);
                    F(bpf_map_info, value_size); F(bpf_map_info, max_entries); F(bpf_map_info, map_flags);
                    F(bpf_map_info, name);
                    F(bpf_link_info, type); F(bpf_link_info, id); F(bpf_link_info, prog_id);
                    F(bpf_link_info, cgroup.cgroup_id); F(bpf_link_info, cgroup.attach_type);
                    return 0;
                }
                """;
        Map<String, Long> c = compileAndRun(program);
        assertEquals(c.get("bpf_object_open_opts"), Libbpf.OPEN_OPTS.byteSize(), "sizeof bpf_object_open_opts");
        for (String field : List.of("sz", "object_name", "relaxed_maps", "pin_root_path", "kconfig",
                "btf_custom_path", "kernel_log_buf", "kernel_log_size", "kernel_log_level")) {
            assertEquals(c.get("bpf_object_open_opts." + field), offset(Libbpf.OPEN_OPTS, field), field);
        }
        assertEquals(c.get("bpf_map_batch_opts"), Libbpf.BATCH_OPTS.byteSize());
        assertEquals(c.get("bpf_map_batch_opts.elem_flags"), offset(Libbpf.BATCH_OPTS, "elem_flags"));
        assertEquals(c.get("bpf_map_batch_opts.flags"), offset(Libbpf.BATCH_OPTS, "flags"));
        for (String field : List.of("type", "id", "key_size", "value_size", "max_entries", "map_flags", "name")) {
            assertEquals(c.get("bpf_map_info." + field), offset(Libbpf.MAP_INFO, field), field);
        }
        for (String field : List.of("type", "id", "prog_id")) {
            assertEquals(c.get("bpf_link_info." + field), offset(Libbpf.LINK_INFO, field), field);
        }
        assertEquals(c.get("bpf_link_info.cgroup.cgroup_id"), offset(Libbpf.LINK_INFO, "cgroup_id"));
        assertEquals(c.get("bpf_link_info.cgroup.attach_type"), offset(Libbpf.LINK_INFO, "attach_type"));
    }

    private static long offset(java.lang.foreign.StructLayout layout, String field) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    /** Compiles a C program with the host compiler (clang, a build requirement) and parses its name=value lines. */
    private static Map<String, Long> compileAndRun(String source) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("mkbpf-layout");
        try {
            Path src = Files.writeString(dir.resolve("layout.c"), source);
            Path bin = dir.resolve("layout");
            String compiler = System.getenv().getOrDefault("CC", "clang");
            String out = exec(compiler, "-w", "-o", bin.toString(), src.toString());
            assertTrue(Files.exists(bin), compiler + " failed (apt-get install clang libbpf-dev): " + out);
            Map<String, Long> values = new HashMap<>();
            for (String line : exec(bin.toString()).split("\n")) {
                String[] kv = line.split("=");
                if (kv.length == 2) {
                    values.put(kv[0], Long.parseLong(kv[1].trim()));
                }
            }
            return values;
        } finally {
            try (var files = Files.walk(dir)) {
                for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private static String exec(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
        return out;
    }
}
