package io.mocket.controlplane.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mocket.api.istio.security.Action;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.security.Scope;
import io.mocket.api.istio.workload.Address;
import io.mocket.api.istio.workload.TunnelProtocol;
import io.mocket.api.istio.workload.Workload;
import io.mocket.api.istio.workload.WorkloadStatus;
import io.mocket.api.istio.workload.WorkloadType;
import io.mocket.controlplane.index.AmbientIndex;
import io.mocket.controlplane.index.MeshSettings;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.Snapshot;
import io.mocket.controlplane.resources.XdsResource;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The example cluster, served once from an API server through informers and once from its YAML directory,
 * must translate into byte-identical resources (same names, same content versions) that meet the same
 * expectations. The API server is fabric8's KubernetesMockServer in CRUD mode on loopback: the only stand-in
 * for a kube-apiserver that can run on the build machines.
 */
class TranslationAcrossSourcesTest {
    private static final Path CLUSTER = Path.of("..", "examples", "cluster").toAbsolutePath().normalize();
    private static final Duration SETTLE = Duration.ofSeconds(30);

    @Test
    void informersAndFilesServeTheSameResources() throws Exception {
        MeshSettings mesh = MeshSettings.defaults().withDebounce(Duration.ofMillis(1), Duration.ofMillis(20));
        ResourceStore viaApi = new ResourceStore();
        ResourceStore viaFiles = new ResourceStore();
        try (MockApiServer api = MockApiServer.start();
             KubernetesClient client = MockApiServer.client(api.port());
             AmbientIndex apiIndex = new AmbientIndex(mesh, viaApi, new SimpleMeterRegistry());
             AmbientIndex fileIndex = new AmbientIndex(mesh, viaFiles, new SimpleMeterRegistry());
             KubernetesSource informers = new KubernetesSource(client, apiIndex, KubernetesSource.Settings.defaults(),
                     new SimpleMeterRegistry());
             FileSource files = new FileSource(CLUSTER, fileIndex, FileSource.Settings.defaults(), new SimpleMeterRegistry())) {
            List<HasMetadata> objects = load(CLUSTER.resolve("sample-cluster.yaml"));
            for (HasMetadata o : objects) {
                create(api, o);
            }

            informers.start();
            files.start();
            await().atMost(SETTLE).until(() -> informers.health().synced());
            assertThat(files.problems()).isEmpty();
            assertThat(apiIndex.awaitIdle(SETTLE)).isTrue();
            assertThat(fileIndex.awaitIdle(SETTLE)).isTrue();

            for (ResourceType type : ResourceType.values()) {
                assertThat(versions(viaApi.current(), type)).as("%s from the API vs from files", type)
                        .isNotEmpty()
                        .isEqualTo(versions(viaFiles.current(), type));
            }
            assertThat(viaApi.current().aliases()).isEqualTo(viaFiles.current().aliases());
            meetsTheExampleExpectations(viaApi.current());
            meetsTheExampleExpectations(viaFiles.current());
        }
    }

    /** What the example's comments promise, checked the same way whichever source produced the snapshot. */
    private static void meetsTheExampleExpectations(Snapshot s) throws Exception {
        assertThat(s.size(ResourceType.ADDRESS)).isEqualTo(13); // 6 workloads + 7 services
        assertThat(s.size(ResourceType.AUTHORIZATION)).isEqualTo(4);

        Workload productpage = Address.parseFrom(s.resolve(ResourceType.ADDRESS, "/10.244.1.10").orElseThrow()
                .message().toByteString()).getWorkload();
        assertThat(productpage.getUid()).isEqualTo("Kubernetes//Pod/shop/productpage-v1-6b746f74dc-9stvs");
        assertThat(productpage.getTunnelProtocol()).isEqualTo(TunnelProtocol.HBONE);
        assertThat(productpage.getWorkloadType()).isEqualTo(WorkloadType.DEPLOYMENT);
        assertThat(productpage.getWorkloadName()).isEqualTo("productpage-v1");
        assertThat(productpage.getStatus()).isEqualTo(WorkloadStatus.HEALTHY);
        assertThat(productpage.getLocality().getZone()).isNotEmpty();
        assertThat(productpage.getServicesMap()).containsKey("shop/productpage.shop.svc.cluster.local");

        Workload billing = workloadNamed(s, "Kubernetes//Pod/legacy/billing-6d9f7c8b47-zq8rt");
        assertThat(billing.getTunnelProtocol()).as("not enrolled, still served").isEqualTo(TunnelProtocol.NONE);

        Authorization global = Authorization.parseFrom(s.get(ResourceType.AUTHORIZATION, "istio-system/deny-test-net")
                .message().toByteString());
        assertThat(global.getScope()).isEqualTo(Scope.GLOBAL);
        assertThat(global.getAction()).isEqualTo(Action.DENY);
        Authorization l7 = Authorization.parseFrom(s.get(ResourceType.AUTHORIZATION, "shop/reviews-get-only")
                .message().toByteString());
        assertThat(l7.getAction()).isEqualTo(Action.ALLOW);
        assertThat(l7.getGroupsList()).as("an ALLOW rule needing HTTP attributes matches nothing").isEmpty();
    }

    private static Workload workloadNamed(Snapshot s, String uid) throws Exception {
        XdsResource r = s.get(ResourceType.ADDRESS, uid);
        assertThat(r).as(uid).isNotNull();
        return Address.parseFrom(r.message().toByteString()).getWorkload();
    }

    private static Map<String, String> versions(Snapshot s, ResourceType type) {
        Map<String, String> out = new TreeMap<>();
        s.all(type).forEach(r -> out.put(r.name(), r.version()));
        return out;
    }

    private static void create(MockApiServer api, HasMetadata o) {
        KubeKind kind = KubeKind.of(o.getApiVersion(), o.getKind()).orElse(null);
        if (kind == null) {
            return; // kinds the control plane does not read are not needed on the server either
        }
        if (o instanceof GenericKubernetesResource generic) {
            api.admin().genericKubernetesResources(KindModel.context(kind))
                    .inNamespace(generic.getMetadata().getNamespace()).resource(generic).create();
        } else {
            api.admin().resource(o).create();
        }
    }

    @SuppressWarnings("unchecked")
    private static List<HasMetadata> load(Path file) throws Exception {
        Object parsed;
        try (InputStream in = Files.newInputStream(file)) {
            parsed = new KubernetesSerialization().unmarshal(in);
        }
        if (parsed instanceof KubernetesList list) {
            return list.getItems();
        }
        return (List<HasMetadata>) parsed;
    }
}
