package io.mocket.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The DaemonSet in manifests/agent.yaml starts the agent with flags it accepts, and probes what it serves. */
class AgentManifestTest {
    private static final Path MANIFEST = Path.of("..", "manifests", "agent.yaml");

    @SuppressWarnings("unchecked")
    private static DaemonSet daemonSet() throws Exception {
        try (InputStream in = Files.newInputStream(MANIFEST)) {
            Object parsed = new KubernetesSerialization().unmarshal(in);
            List<HasMetadata> all = parsed instanceof KubernetesList l ? l.getItems() : (List<HasMetadata>) parsed;
            return all.stream().filter(DaemonSet.class::isInstance).map(DaemonSet.class::cast).findFirst().orElseThrow();
        }
    }

    @Test
    void theAgentAcceptsTheManifestsArgumentsAndEnvironment() throws Exception {
        Container c = daemonSet().getSpec().getTemplate().getSpec().getContainers().getFirst();
        Map<String, String> env = new HashMap<>();
        for (EnvVar e : c.getEnv()) {
            // Downward-API values are filled by the kubelet; stand in a plausible value for each.
            env.put(e.getName(), e.getValue() != null ? e.getValue() : switch (e.getName()) {
                case "NODE_NAME" -> "node-1";
                case "POD_IP" -> "10.0.0.5";
                default -> "from-downward-api";
            });
        }
        AgentConfig config = AgentConfig.parse(c.getArgs().toArray(String[]::new), env);
        assertEquals("node-1", config.nodeName());
        assertEquals("mocket-control-plane.istio-system.svc:15110", config.controlPlane());
        assertEquals(15120, config.adminPort());
        assertEquals(config.adminPort(), c.getPorts().getFirst().getContainerPort());
        assertEquals(config.adminPort(), c.getReadinessProbe().getHttpGet().getPort().getIntVal());
        assertEquals("/healthz/ready", c.getReadinessProbe().getHttpGet().getPath());
        assertTrue(config.pinRoot().startsWith("/sys/fs/bpf"), "pins live on the host's bpffs");
    }

    @Test
    void theManifestShipsTheMeasuredJvmFlagsAndThisJdkAcceptsThem() throws Exception {
        Container c = daemonSet().getSpec().getTemplate().getSpec().getContainers().getFirst();
        String options = c.getEnv().stream().filter(e -> e.getName().equals("JAVA_TOOL_OPTIONS")).map(EnvVar::getValue)
                .findFirst().orElseThrow(() -> new AssertionError("no JAVA_TOOL_OPTIONS in " + MANIFEST));
        List<String> flags = List.of(options.strip().split("\\s+"));
        assertEquals(AgentBenchmark.SHIPPED_JVM_FLAGS, flags,
                "the agent benchmark measures memory with the flags the DaemonSet ships: change both together");

        // A flag this JDK does not know (or a memory setting it rejects) would stop every agent at start.
        List<String> cmd = new java.util.ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(flags);
        cmd.add("-version");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "java -version did not finish");
        assertEquals(0, p.exitValue(), "the JVM refuses the shipped flags:\n" + out);
    }
}
