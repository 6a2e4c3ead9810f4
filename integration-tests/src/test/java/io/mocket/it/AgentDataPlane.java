package io.mocket.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The production data plane on a {@link TestCluster}: the real control plane in a child JVM with a file source,
 * and one real node agent per node in its own child JVM. Services become Kubernetes YAML (Namespace, Nodes,
 * Pods with status, Services with selectors) in the control plane's watched directory; the agents learn them
 * over xDS and program their node's pinned maps.
 *
 * <p>The child JVMs run in the root network namespace but talk only to loopback (xDS and their admin ports);
 * pod traffic never leaves the cluster's namespaces. They are not in any node cgroup, so no node program
 * applies to them. Not thread-safe.
 */
final class AgentDataPlane implements MeshDataPlane {

    /** Kubernetes namespace of every test pod and service; enrolled in ambient. */
    static final String NAMESPACE = "mesh";
    static final Duration READY = Duration.ofSeconds(60);
    private static final String SELECTOR_PREFIX = "mocket.io/service-";

    private final TestCluster cluster;
    private final Path sourceDir;
    private final Path logDir;
    private final String classPath;
    private final int xdsPort;
    private final int controlPlaneAdminPort;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final Map<String, MeshService> services = new TreeMap<>();
    /** Every pod ever named by a service: a pod outside every service still exists, with no service label. */
    private final Map<String, Pod> pods = new TreeMap<>();
    // Read by the shutdown hook while the test thread may still change them.
    private final Map<String, NodeAgent> agents = new ConcurrentHashMap<>();
    /** Ends the child JVMs if this JVM is stopped (SIGTERM, Ctrl-C) before {@link #close()}. */
    private final Thread stopOnExit = new Thread(this::destroyChildren, "stop-mocket-children");
    private volatile Process controlPlane;
    private int controlPlaneStarts;

    /** One agent process of a node and the admin port it keeps across restarts. */
    private record NodeAgent(ClusterNode node, int adminPort, Process process) {
    }

    /** Starts the control plane on free loopback ports and waits until it is ready. */
    AgentDataPlane(TestCluster cluster, Path logDir) {
        this.cluster = cluster;
        this.logDir = logDir;
        this.classPath = System.getProperty("java.class.path");
        try {
            Files.createDirectories(logDir);
            this.sourceDir = Files.createTempDirectory(cluster.id() + "-source-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.xdsPort = freePort();
        this.controlPlaneAdminPort = freePort();
        Runtime.getRuntime().addShutdownHook(stopOnExit);
        try {
            writeCluster();
            startControlPlane();
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    // ------------------------------------------------------------------ MeshDataPlane

    @Override
    public void startNode(ClusterNode node) {
        if (agents.containsKey(node.name())) {
            throw new IllegalStateException("the agent of " + node.name() + " is already running");
        }
        startAgent(node, freePort());
    }

    @Override
    public void publish(MeshService service) {
        services.put(service.name(), service);
        for (Pod pod : service.endpoints()) {
            pods.put(pod.name(), pod);
        }
        writeCluster();
    }

    @Override
    public void withdraw(String serviceName) {
        services.remove(serviceName);
        writeCluster();
    }

    /** Stops every agent and the control plane, then removes the nodes' pins and the watched directory. */
    @Override
    public void close() {
        List<Process> all = new ArrayList<>();
        agents.values().forEach(a -> all.add(a.process()));
        if (controlPlane != null) {
            all.add(controlPlane);
        }
        all.forEach(Process::destroy);
        for (Process p : all) {
            stop(p);
        }
        // A stopped agent leaves its pins on purpose (hitless restarts); the test owns them and removes them,
        // which detaches the links and frees the maps.
        for (NodeAgent a : agents.values()) {
            deleteTree(a.node().pinDirectory());
        }
        agents.clear();
        controlPlane = null;
        deleteTree(sourceDir);
        try {
            Runtime.getRuntime().removeShutdownHook(stopOnExit);
        } catch (IllegalStateException e) {
            // already shutting down: the hook is running or has run
        }
    }

    private void destroyChildren() {
        agents.values().forEach(a -> a.process().destroyForcibly());
        if (controlPlane != null) {
            controlPlane.destroyForcibly();
        }
        deleteTree(sourceDir);
    }

    // ------------------------------------------------------------------ agents and control plane

    /** kill -9 of a node's agent; waits until the process is gone. */
    void killAgent(ClusterNode node) {
        NodeAgent a = agent(node);
        a.process().destroyForcibly();
        stop(a.process());
    }

    /** Starts the agent of a node again, on its previous admin port, and waits until it is ready. */
    void restartAgent(ClusterNode node) {
        NodeAgent a = agent(node);
        if (a.process().isAlive()) {
            throw new IllegalStateException("the agent of " + node.name() + " is still running");
        }
        agents.remove(node.name());
        startAgent(node, a.adminPort());
    }

    /** kill -9 of the control plane; the agents keep serving from the kernel and keep reconnecting. */
    void killControlPlane() {
        controlPlane.destroyForcibly();
        stop(controlPlane);
    }

    /** Starts the control plane again on the same ports and directory; waits until it is ready. */
    void restartControlPlane() {
        if (controlPlane.isAlive()) {
            throw new IllegalStateException("the control plane is still running");
        }
        startControlPlane();
    }

    /** A node agent's admin path, e.g. {@code /metrics}: the status code and the body. */
    HttpResponse<String> agentAdmin(ClusterNode node, String path) throws IOException, InterruptedException {
        return get(agent(node).adminPort(), path);
    }

    /** Waits until a node's agent answers 200 on {@code /healthz/ready}, failing with its last answer. */
    void awaitAgentReady(ClusterNode node) {
        NodeAgent a = agent(node);
        awaitOk(a.adminPort(), "/healthz/ready", a.process(), "agent of " + node.name(),
                logDir.resolve("agent-" + node.name() + ".log"));
    }

    private NodeAgent agent(ClusterNode node) {
        NodeAgent a = agents.get(node.name());
        if (a == null) {
            throw new IllegalStateException("no agent started on " + node.name());
        }
        return a;
    }

    private void startAgent(ClusterNode node, int adminPort) {
        Path log = logDir.resolve("agent-" + node.name() + ".log");
        Process p = launch(List.of("--enable-native-access=ALL-UNNAMED", "-cp", classPath, "io.mocket.agent.Agent",
                "--node-name", node.name(),
                "--pin-root", node.pinDirectory().getParent().toString(),
                "--cgroup", node.cgroup().toString(),
                "--control-plane", "127.0.0.1:" + xdsPort,
                "--admin-address", "127.0.0.1",
                "--admin-port", Integer.toString(adminPort),
                "--pod-ip", node.underlayIp().getHostAddress(),
                "--pod-name", "mocket-agent-" + node.name()), log);
        agents.put(node.name(), new NodeAgent(node, adminPort, p));
        awaitAgentReady(node);
    }

    private void startControlPlane() {
        Path log = logDir.resolve("control-plane-" + (++controlPlaneStarts) + ".log");
        controlPlane = launch(List.of("-Xmx256m", "-cp", classPath, "io.mocket.controlplane.ControlPlaneApplication",
                "--mocket.source=file:" + sourceDir,
                "--mocket.xds.address=127.0.0.1",
                "--mocket.xds.port=" + xdsPort,
                "--server.address=127.0.0.1",
                "--server.port=" + controlPlaneAdminPort,
                "--mocket.leader-election.enabled=false"), log);
        awaitOk(controlPlaneAdminPort, "/health/readiness", controlPlane, "control plane", log);
    }

    private Process launch(List<String> args, Path log) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(args);
        try {
            return new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command, e);
        }
    }

    private void awaitOk(int port, String path, Process process, String what, Path log) {
        long deadline = System.nanoTime() + READY.toNanos();
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException(what + " exited with " + process.exitValue() + "; see " + log
                        + ":\n" + tail(log));
            }
            try {
                HttpResponse<String> r = get(port, path);
                if (r.statusCode() == 200) {
                    return;
                }
                last = r.statusCode() + " " + r.body();
            } catch (IOException e) {
                last = e.toString();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for " + what, e);
            }
            sleep(100);
        }
        throw new IllegalStateException(what + " not ready within " + READY + ": " + last + "; see " + log + ":\n"
                + tail(log));
    }

    private HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }

    // ------------------------------------------------------------------ the cluster as Kubernetes YAML

    /**
     * Writes the whole cluster as one file, through a temporary file and an atomic move: the control plane's
     * watcher never reads half a cluster.
     */
    private void writeCluster() {
        StringBuilder y = new StringBuilder();
        y.append("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ").append(NAMESPACE)
                .append("\n  labels:\n    istio.io/dataplane-mode: ambient\n");
        for (ClusterNode node : cluster.nodes()) {
            y.append("---\napiVersion: v1\nkind: Node\nmetadata:\n  name: ").append(node.name())
                    .append("\n  labels:\n    kubernetes.io/hostname: ").append(node.name())
                    .append("\nstatus:\n  addresses:\n  - type: InternalIP\n    address: ")
                    .append(node.underlayIp().getHostAddress()).append('\n');
        }
        for (Pod pod : pods.values()) {
            Set<String> memberOf = new LinkedHashSet<>();
            services.values().stream().filter(s -> s.endpoints().contains(pod)).forEach(s -> memberOf.add(s.name()));
            y.append("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: ").append(pod.name())
                    .append("\n  namespace: ").append(NAMESPACE)
                    .append("\n  uid: ").append(UUID.nameUUIDFromBytes((cluster.id() + pod.name()).getBytes()))
                    .append("\n  labels:\n    app: ").append(pod.name()).append('\n');
            for (String s : memberOf) {
                y.append("    ").append(SELECTOR_PREFIX).append(s).append(": \"true\"\n");
            }
            String ip = pod.ip();
            y.append("spec:\n  nodeName: ").append(pod.node().name())
                    .append("\n  containers:\n  - name: probe\n    image: probe\n")
                    .append("status:\n  phase: Running\n  hostIP: ").append(pod.node().underlayIp().getHostAddress())
                    .append("\n  podIP: ").append(ip).append("\n  podIPs:\n  - ip: ").append(ip)
                    .append("\n  conditions:\n  - type: Ready\n    status: \"True\"\n");
        }
        for (MeshService s : services.values()) {
            String vip = s.vip().getHostAddress();
            y.append("---\napiVersion: v1\nkind: Service\nmetadata:\n  name: ").append(s.name())
                    .append("\n  namespace: ").append(NAMESPACE)
                    .append("\nspec:\n  type: ClusterIP\n  clusterIP: ").append(vip)
                    .append("\n  clusterIPs: [").append(vip).append("]\n  ipFamilies: [IPv4]\n  selector:\n    ")
                    .append(SELECTOR_PREFIX).append(s.name()).append(": \"true\"\n  ports:\n");
            for (MeshService.Port p : s.ports()) {
                y.append("  - name: p").append(p.port()).append('-').append(p.protocol().name().toLowerCase())
                        .append("\n    port: ").append(p.port())
                        .append("\n    targetPort: ").append(p.targetPort())
                        .append("\n    protocol: ").append(p.protocol().name()).append('\n');
            }
        }
        try {
            Path tmp = sourceDir.resolve(".cluster.yaml.tmp");
            Files.writeString(tmp, y);
            Files.move(tmp, sourceDir.resolve("cluster.yaml"), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the cluster to " + sourceDir, e);
        }
    }

    // ------------------------------------------------------------------ small things

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits for a process to end: 15 s after a SIGTERM, then SIGKILL and 15 s more. */
    private static void stop(Process p) {
        try {
            if (!p.waitFor(15, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(15, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + root, e);
        }
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
