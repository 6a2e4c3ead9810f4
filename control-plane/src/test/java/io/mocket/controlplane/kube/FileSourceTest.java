package io.mocket.controlplane.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.Gateway;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mocket.controlplane.kube.RecordingSink.Delete;
import io.mocket.controlplane.kube.RecordingSink.ReplaceAll;
import io.mocket.controlplane.kube.RecordingSink.Upsert;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileSourceTest {

    /** Every wait in this class is bounded by this. */
    private static final Duration WAIT = Duration.ofSeconds(20);

    /** File system events on, no poll within a test's lifetime: a change seen here came through the events. */
    private static final FileSource.Settings EVENTS_ONLY =
            new FileSource.Settings(Duration.ofMillis(50), Duration.ofHours(1), true);

    static final String ALL_KINDS = """
            apiVersion: v1
            kind: Namespace
            metadata:
              name: demo
              labels:
                istio.io/dataplane-mode: ambient
            ---
            apiVersion: v1
            kind: Node
            metadata:
              name: node-a
              labels:
                topology.kubernetes.io/zone: zone-a
            status:
              addresses:
              - type: InternalIP
                address: 192.168.0.10
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: web-0
              namespace: demo
              labels:
                app: web
            spec:
              nodeName: node-a
              serviceAccountName: web
              containers:
              - name: web
                image: nginx
                ports:
                - containerPort: 8080
            status:
              phase: Running
              podIP: 10.1.0.5
              podIPs:
              - ip: 10.1.0.5
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              namespace: demo
            spec:
              clusterIP: 10.96.0.20
              selector:
                app: web
              ports:
              - name: http
                port: 80
                targetPort: 8080
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata:
              name: allow-frontend
              namespace: demo
            spec:
              selector:
                matchLabels:
                  app: web
              action: ALLOW
              rules:
              - from:
                - source:
                    principals: ["cluster.local/ns/demo/sa/frontend"]
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata:
              name: strict
              namespace: demo
            spec:
              mtls:
                mode: STRICT
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata:
              name: waypoint
              namespace: demo
              annotations:
                istio.io/for-service-account: web
            spec:
              gatewayClassName: mocket-waypoint
              listeners:
              - name: mesh
                port: 15008
                protocol: mTLS-lite
            """;

    @TempDir
    Path dir;

    private final List<AutoCloseable> toClose = new ArrayList<>();
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final RecordingSink sink = new RecordingSink();

    @AfterEach
    void closeSources() throws Exception {
        for (AutoCloseable c : toClose.reversed()) {
            c.close();
        }
    }

    private FileSource start(FileSource.Settings settings) {
        FileSource source = new FileSource(dir, sink, settings, meters);
        toClose.add(source);
        source.start();
        return source;
    }

    private double errorCount() {
        return meters.get("mocket.source.errors").tag("source", "file").counter().count();
    }

    private void write(String name, String text) throws IOException {
        Path file = dir.resolve(name);
        Files.createDirectories(file.getParent());
        // Write next to the file and move over it, as editors and kubectl cp do, so no scan sees half a file.
        Path partial = file.resolveSibling("." + file.getFileName() + ".partial");
        Files.writeString(partial, text);
        Files.move(partial, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    static String pod(String name, String label) {
        return """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: %s
                  namespace: demo
                  labels:
                    version: "%s"
                spec:
                  containers:
                  - name: app
                    image: app
                """.formatted(name, label);
    }

    @Test
    void everyKindIsParsedIntoTheClassesTheInformersDeliverAndOtherKindsAreIgnored() throws IOException {
        write("cluster.yaml", ALL_KINDS + """
                ---
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: web
                  namespace: demo
                spec:
                  replicas: 1
                ---
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: settings
                ---
                # an empty document, as left by a trailing separator
                """);
        write("nested/more.yml", """
                apiVersion: security.istio.io/v1beta1
                kind: PeerAuthentication
                metadata:
                  name: legacy
                spec:
                  mtls:
                    mode: PERMISSIVE
                """);
        write(".hidden/ignored.yaml", pod("hidden", "1"));
        write("notes.txt", pod("not-yaml", "1"));

        FileSource source = start(EVENTS_ONLY);

        assertThat(source.health().synced()).isTrue();
        assertThat(source.problems()).isEmpty();
        for (KubeKind kind : KubeKind.values()) {
            assertThat(sink.calls(ReplaceAll.class, kind)).as("one replaceAll for %s", kind).hasSize(1);
        }
        assertThat(sink.calls()).hasSize(KubeKind.values().length);
        assertThat(sink.objects(KubeKind.NAMESPACE)).containsOnlyKeys("demo")
                .allSatisfy((k, v) -> assertThat(v).isExactlyInstanceOf(Namespace.class));
        assertThat(sink.objects(KubeKind.NODE)).containsOnlyKeys("node-a")
                .allSatisfy((k, v) -> assertThat(v).isExactlyInstanceOf(Node.class));
        assertThat(sink.objects(KubeKind.POD)).containsOnlyKeys("demo/web-0")
                .allSatisfy((k, v) -> assertThat(v).isExactlyInstanceOf(Pod.class));
        assertThat(sink.objects(KubeKind.SERVICE)).containsOnlyKeys("demo/web")
                .allSatisfy((k, v) -> assertThat(v).isExactlyInstanceOf(Service.class));
        assertThat(sink.objects(KubeKind.AUTHORIZATION_POLICY)).containsOnlyKeys("demo/allow-frontend")
                .allSatisfy((k, v) -> assertThat(v).isExactlyInstanceOf(GenericKubernetesResource.class));
        assertThat(sink.objects(KubeKind.GATEWAY)).containsOnlyKeys("demo/waypoint")
                .allSatisfy((k, v) -> assertThat(v).isExactlyInstanceOf(Gateway.class));
        // v1beta1 reads as v1, and a namespaced object without a namespace lands in "default" as with kubectl.
        Map<String, ?> peers = sink.objects(KubeKind.PEER_AUTHENTICATION);
        assertThat(peers).containsOnlyKeys("demo/strict", "default/legacy");
        GenericKubernetesResource legacy = (GenericKubernetesResource) peers.get("default/legacy");
        assertThat(legacy.getApiVersion()).isEqualTo("security.istio.io/v1");
        assertThat(legacy.getMetadata().getUid()).isNotBlank();
        assertThat(legacy.getMetadata().getResourceVersion()).isNotBlank();

        Pod pod = (Pod) sink.objects(KubeKind.POD).get("demo/web-0");
        assertThat(pod.getStatus().getPodIP()).isEqualTo("10.1.0.5");
        assertThat(pod.getSpec().getNodeName()).isEqualTo("node-a");
        Gateway gateway = (Gateway) sink.objects(KubeKind.GATEWAY).get("demo/waypoint");
        assertThat(gateway.getSpec().getListeners().getFirst().getProtocol()).isEqualTo("mTLS-lite");
        assertThat(errorCount()).isZero();
    }

    @Test
    void malformedYamlNamesFileAndLineKeepsThatFilesLastGoodContentAndAppliesTheRest() throws IOException {
        write("a.yaml", pod("a", "1"));
        write("b.yaml", pod("b", "1"));
        FileSource source = start(EVENTS_ONLY);
        assertThat(sink.objects(KubeKind.POD)).containsOnlyKeys("demo/a", "demo/b");

        write("a.yaml", """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: a
                  labels: {version: "2"
                spec: {}
                """);
        write("b.yaml", pod("b", "2"));

        await().atMost(WAIT).untilAsserted(() -> assertThat(sink.objects(KubeKind.POD).get("demo/b")
                .getMetadata().getLabels()).containsEntry("version", "2"));
        await().atMost(WAIT).untilAsserted(() -> assertThat(source.problems()).hasSize(1));
        FileSource.Problem problem = source.problems().getFirst();
        assertThat(problem.file()).isEqualTo(dir.resolve("a.yaml"));
        assertThat(problem.line()).isEqualTo(6);
        assertThat(problem.message()).contains("YAML syntax error at line 6").contains("fix");
        assertThat(problem.toString()).startsWith(dir.resolve("a.yaml") + ":6: ");
        // The last good a.yaml is still served: no delete, the old label.
        assertThat(sink.calls(Delete.class, KubeKind.POD)).isEmpty();
        assertThat(sink.objects(KubeKind.POD).get("demo/a").getMetadata().getLabels()).containsEntry("version", "1");
        assertThat(errorCount()).isEqualTo(1.0);
        assertThat(source.health().synced()).isTrue();

        write("a.yaml", pod("a", "3"));
        await().atMost(WAIT).untilAsserted(() -> assertThat(sink.objects(KubeKind.POD).get("demo/a")
                .getMetadata().getLabels()).containsEntry("version", "3"));
        assertThat(source.problems()).isEmpty();
        assertThat(errorCount()).isEqualTo(1.0);
    }

    @Test
    void objectsWithoutKindOrNameAreErrorsAtTheirLineAndTheOtherFilesAreApplied() throws IOException {
        write("good.yaml", pod("good", "1"));
        write("bad.yaml", """
                apiVersion: v1
                kind: Service
                metadata:
                  name: fine-on-its-own
                  namespace: demo
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  namespace: demo
                ---
                apiVersion: v1
                metadata:
                  name: kindless
                """);

        FileSource source = start(EVENTS_ONLY);

        assertThat(source.problems()).extracting(FileSource.Problem::file, FileSource.Problem::line)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(dir.resolve("bad.yaml"), 7),
                        org.assertj.core.groups.Tuple.tuple(dir.resolve("bad.yaml"), 12));
        assertThat(source.problems().get(0).message()).contains("Pod").contains("no metadata.name");
        assertThat(source.problems().get(1).message()).contains("has no kind").contains("kind:");
        // A file with an error is served as its last good content: it has none yet, so nothing from it.
        assertThat(sink.objects(KubeKind.SERVICE)).isEmpty();
        assertThat(sink.objects(KubeKind.POD)).containsOnlyKeys("demo/good");
        assertThat(source.health().synced()).isTrue();
        assertThat(errorCount()).isEqualTo(2.0);
    }

    @Test
    void editsAdditionsAndDeletionsWhileWatchedAreDeliveredPerObject() throws IOException {
        write("pods.yaml", pod("p1", "1") + "---\n" + pod("p2", "1"));
        start(EVENTS_ONLY);
        int initialCalls = sink.calls().size();

        write("pods.yaml", pod("p1", "1") + "---\n" + pod("p2", "2"));
        await().atMost(WAIT).untilAsserted(() -> assertThat(sink.calls()).hasSize(initialCalls + 1));
        assertThat(sink.calls().getLast()).isInstanceOfSatisfying(Upsert.class, u -> {
            assertThat(u.kind()).isEqualTo(KubeKind.POD);
            assertThat(RecordingSink.key(u.object())).isEqualTo("demo/p2");
            assertThat(u.object().getMetadata().getLabels()).containsEntry("version", "2");
        });

        write("sub/service.yaml", """
                apiVersion: v1
                kind: Service
                metadata:
                  name: svc
                  namespace: demo
                spec:
                  ports:
                  - port: 80
                """);
        await().atMost(WAIT).untilAsserted(() -> assertThat(sink.objects(KubeKind.SERVICE)).containsKey("demo/svc"));

        Files.delete(dir.resolve("pods.yaml"));
        await().atMost(WAIT).untilAsserted(() -> assertThat(sink.objects(KubeKind.POD)).isEmpty());
        assertThat(sink.calls(Delete.class, KubeKind.POD)).extracting(d -> RecordingSink.key(d.object()))
                .containsExactlyInAnyOrder("demo/p1", "demo/p2");
        // After the first load everything is per object: no further replaceAll.
        assertThat(sink.calls().stream().filter(c -> c instanceof ReplaceAll).count())
                .isEqualTo(KubeKind.values().length);
        assertThat(sink.objects(KubeKind.SERVICE)).containsKey("demo/svc");
    }

    @Test
    void theSlowPollFindsChangesWithoutFileSystemEvents() throws IOException {
        start(new FileSource.Settings(Duration.ofMillis(50), Duration.ofMillis(200), false));
        assertThat(sink.objects(KubeKind.POD)).isEmpty();

        write("late.yaml", pod("late", "1"));

        await().atMost(WAIT).untilAsserted(() -> assertThat(sink.objects(KubeKind.POD)).containsKey("demo/late"));
    }

    @Test
    void theSameObjectInTwoFilesIsReportedAndTheFirstFileWins() throws IOException {
        write("a.yaml", pod("twin", "from-a"));
        write("b.yaml", pod("twin", "from-b"));

        FileSource source = start(EVENTS_ONLY);

        assertThat(sink.objects(KubeKind.POD).get("demo/twin").getMetadata().getLabels())
                .containsEntry("version", "from-a");
        assertThat(source.problems()).singleElement().satisfies(p -> {
            assertThat(p.file()).isEqualTo(dir.resolve("b.yaml"));
            assertThat(p.line()).isEqualTo(1);
            assertThat(p.message()).contains("Pod demo/twin").contains(dir.resolve("a.yaml") + ":1")
                    .contains("keep only one");
        });
    }

    @Test
    void aMissingDirectoryOrAFileInsteadOfOneFailsStartWithTheFix() throws IOException {
        Path missing = dir.resolve("does-not-exist");
        FileSource absent = new FileSource(missing, sink, EVENTS_ONLY, meters);
        toClose.add(absent);
        assertThatThrownBy(absent::start).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(missing.toString()).hasMessageContaining("does not exist")
                .hasMessageContaining("create it");

        Path file = Files.writeString(dir.resolve("single.yaml"), pod("x", "1"));
        FileSource notADirectory = new FileSource(file, sink, EVENTS_ONLY, meters);
        toClose.add(notADirectory);
        assertThatThrownBy(notADirectory::start).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("not a directory");
        assertThat(sink.calls()).isEmpty();
    }

    @Test
    void theDemoClusterOfTheRepositoryLoadsWithoutProblems() {
        Path demo = Path.of("..", "examples", "cluster").toAbsolutePath().normalize();
        assertThat(demo).as("the demo cluster next to the control-plane module").isDirectory();
        FileSource source = new FileSource(demo, sink, EVENTS_ONLY, meters);
        toClose.add(source);

        source.start();

        assertThat(source.problems()).isEmpty();
        assertThat(sink.objects(KubeKind.NAMESPACE)).containsOnlyKeys("istio-system", "shop", "legacy");
        assertThat(sink.objects(KubeKind.NODE)).containsOnlyKeys("node-1", "node-2");
        assertThat(sink.objects(KubeKind.POD)).hasSize(6).containsKeys("shop/productpage-v1-6b746f74dc-9stvs",
                "legacy/billing-6d9f7c8b47-zq8rt");
        assertThat(sink.objects(KubeKind.SERVICE)).hasSize(7).containsKeys("shop/productpage", "legacy/billing");
        assertThat(sink.objects(KubeKind.AUTHORIZATION_POLICY)).containsOnlyKeys("istio-system/deny-test-net",
                "shop/allow-shop", "shop/ratings-deny-legacy", "shop/reviews-get-only");
        assertThat(sink.objects(KubeKind.PEER_AUTHENTICATION)).containsOnlyKeys("istio-system/default");
        assertThat(sink.objects(KubeKind.GATEWAY)).containsOnlyKeys("shop/shop-waypoint");
    }
}
