package io.mocket.controlplane.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.mocket.controlplane.kube.ManifestParser.Document;
import io.mocket.controlplane.kube.ManifestParser.Ignored;
import io.mocket.controlplane.kube.ManifestParser.Invalid;
import io.mocket.controlplane.kube.ManifestParser.Parsed;
import java.util.List;
import org.junit.jupiter.api.Test;

class ManifestParserTest {

    private final ManifestParser parser = new ManifestParser(new KubernetesSerialization());

    @Test
    void aV1ListIsReadItemByItemAtTheItemsLines() {
        List<Document> documents = parser.parse("""
                apiVersion: v1
                kind: List
                items:
                - apiVersion: v1
                  kind: Pod
                  metadata:
                    name: a
                - apiVersion: v1
                  kind: ConfigMap
                  metadata:
                    name: settings
                """);

        assertThat(documents).hasSize(2);
        assertThat(documents.get(0)).isInstanceOfSatisfying(Parsed.class, p -> {
            assertThat(p.line()).isEqualTo(4);
            assertThat(p.object()).isInstanceOf(Pod.class);
            assertThat(p.object().getMetadata().getNamespace()).isEqualTo("default");
        });
        assertThat(documents.get(1)).isEqualTo(new Ignored("v1", "ConfigMap", 8));
    }

    @Test
    void aFieldOfTheWrongShapeNamesTheObjectAndTheLine() {
        List<Document> documents = parser.parse("""
                apiVersion: v1
                kind: Service
                metadata:
                  name: ok
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: web
                spec:
                  containers: "not a list"
                """);

        assertThat(documents.get(0)).isInstanceOf(Parsed.class);
        assertThat(documents.get(1)).isInstanceOfSatisfying(Invalid.class, i -> {
            assertThat(i.line()).isEqualTo(6);
            assertThat(i.message()).contains("the Pod web at line 6 does not match the Pod schema")
                    .contains("fix the field");
        });
    }

    @Test
    void aDocumentThatIsNotAMappingAndYaml12ScalarsAreHandledAsKubectlWould() {
        List<Document> documents = parser.parse("""
                - just
                - a list
                ---
                apiVersion: v1
                kind: Namespace
                metadata:
                  name: demo
                  labels:
                    enabled: yes
                """);

        assertThat(documents.get(0)).isInstanceOfSatisfying(Invalid.class,
                i -> assertThat(i.message()).contains("line 1 is not a mapping"));
        // YAML 1.2 (as fabric8 and kubectl read it): "yes" is a string, so the label survives as written.
        assertThat(documents.get(1)).isInstanceOfSatisfying(Parsed.class, p -> assertThat(
                p.object().getMetadata().getLabels()).containsEntry("enabled", "yes"));
    }
}
