package io.mocket.controlplane.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The index must not be able to tell the sources apart: the same objects, read through informers from an API
 * server and from a YAML file, arrive as the same classes with the same content. The API server is fabric8's
 * KubernetesMockServer in CRUD mode on loopback, the only stand-in the build machines can run.
 */
class SourcesAgreeTest {

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    @TempDir
    Path dir;

    @Test
    void theSameObjectsArriveAsTheSameClassesWithTheSameContent() throws Exception {
        RecordingSink fromApi = new RecordingSink();
        RecordingSink fromFiles = new RecordingSink();
        try (MockApiServer api = MockApiServer.start();
             KubernetesClient client = MockApiServer.client(api.port());
             KubernetesSource informers = new KubernetesSource(client, fromApi, KubernetesSource.Settings.defaults(),
                     new SimpleMeterRegistry());
             FileSource files = new FileSource(dir, fromFiles, FileSource.Settings.defaults(),
                     new SimpleMeterRegistry())) {
            for (KubeKind kind : KubeKind.values()) {
                api.create(MockApiServer.object(kind, "same"));
            }
            Files.writeString(dir.resolve("cluster.yaml"), Stream.of(KubeKind.values())
                    .map(kind -> SERIALIZATION.asYaml(MockApiServer.object(kind, "same")))
                    .collect(Collectors.joining()));

            informers.start();
            files.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> informers.health().synced());

            assertThat(files.problems()).isEmpty();
            for (KubeKind kind : KubeKind.values()) {
                HasMetadata viaApi = fromApi.objects(kind).values().iterator().next();
                HasMetadata viaFile = fromFiles.objects(kind).values().iterator().next();
                assertThat(viaFile.getClass()).as("%s", kind).isEqualTo(viaApi.getClass());
                assertThat(withoutServerFields(viaFile)).as("%s", kind).isEqualTo(withoutServerFields(viaApi));
                assertThat(viaFile.getMetadata().getUid()).as("%s uid", kind).isNotBlank();
                assertThat(viaFile.getMetadata().getResourceVersion()).as("%s resourceVersion", kind).isNotBlank();
            }
        }
    }

    /** The object as JSON with only the metadata a manifest carries (the server adds uid, versions, times). */
    private static String withoutServerFields(HasMetadata object) {
        HasMetadata copy = SERIALIZATION.clone(object);
        ObjectMeta meta = copy.getMetadata();
        copy.setMetadata(new ObjectMetaBuilder().withName(meta.getName()).withNamespace(meta.getNamespace())
                .withLabels(meta.getLabels()).withAnnotations(meta.getAnnotations()).build());
        return SERIALIZATION.asJson(copy);
    }
}
