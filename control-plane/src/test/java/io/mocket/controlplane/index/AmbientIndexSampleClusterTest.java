package io.mocket.controlplane.index;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.mocket.api.istio.security.Action;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.security.Scope;
import io.mocket.api.istio.workload.Locality;
import io.mocket.api.istio.workload.Port;
import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.TunnelProtocol;
import io.mocket.api.istio.workload.Workload;
import io.mocket.api.istio.workload.WorkloadStatus;
import io.mocket.api.istio.workload.WorkloadType;
import io.mocket.controlplane.kube.KubeKind;
import io.mocket.controlplane.resources.ResourceType;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The example cluster under examples/cluster translates without errors into what its comments promise. */
class AmbientIndexSampleClusterTest {
    private static final Path SAMPLE = Path.of("..", "examples", "cluster", "sample-cluster.yaml");

    private final IndexFixture f = new IndexFixture();

    @AfterEach
    void close() {
        f.close();
    }

    @SuppressWarnings("unchecked")
    static List<HasMetadata> load(Path file) throws Exception {
        Object parsed;
        try (InputStream in = Files.newInputStream(file)) {
            parsed = IndexFixture.YAML.unmarshal(in);
        }
        if (parsed instanceof KubernetesList list) {
            return list.getItems();
        }
        if (parsed instanceof List<?> list) {
            return new ArrayList<>((List<HasMetadata>) list);
        }
        return List.of((HasMetadata) parsed);
    }

    @BeforeEach
    void loadSample() throws Exception {
        for (HasMetadata o : load(SAMPLE)) {
            KubeKind kind = KubeKind.of(o.getApiVersion(), o.getKind())
                    .orElseThrow(() -> new AssertionError("sample holds a kind the control plane does not read: " + o.getKind()));
            f.index.upsert(kind, o);
        }
        f.settle();
    }

    @Test
    void everythingIsReadAndNothingIsInvalid() {
        IndexDescription d = f.index.describe();
        assertThat(d.inputs()).containsEntry(KubeKind.NODE, 2).containsEntry(KubeKind.NAMESPACE, 3).containsEntry(KubeKind.POD, 6)
                .containsEntry(KubeKind.SERVICE, 7).containsEntry(KubeKind.GATEWAY, 1)
                .containsEntry(KubeKind.AUTHORIZATION_POLICY, 4).containsEntry(KubeKind.PEER_AUTHENTICATION, 1);
        assertThat(d.outputs()).containsEntry("workload", 6).containsEntry("service", 7).containsEntry("authorization", 4);
        assertThat(d.invalidPolicies()).isEmpty();
        assertThat(d.unservedPolicies()).isEmpty();
        assertThat(f.counter("mocket.authorization.invalid")).isZero();
        assertThat(f.store.current().resolve(ResourceType.ADDRESS, "/10.96.10.11")).isPresent();
    }

    @Test
    void deploymentPodsAreEnrolledWithLocalityAndNamedPortsResolved() {
        Workload reviews = f.workload("shop", "reviews-v2-7f6f8c5b6d-k8j7h");
        assertThat(reviews.getWorkloadType()).isEqualTo(WorkloadType.DEPLOYMENT);
        assertThat(reviews.getWorkloadName()).isEqualTo("reviews-v2");
        assertThat(reviews.getCanonicalName()).isEqualTo("reviews");
        assertThat(reviews.getCanonicalRevision()).isEqualTo("v2");
        assertThat(reviews.getServiceAccount()).isEqualTo("bookinfo-reviews");
        assertThat(reviews.getTunnelProtocol()).isEqualTo(TunnelProtocol.HBONE);
        assertThat(reviews.getExtensionsList()).extracting(e -> e.getName()).containsExactly("mocket.io/mtls-lite");
        assertThat(reviews.getLocality()).isEqualTo(Locality.newBuilder().setRegion("eu-west1").setZone("eu-west1-b").setSubzone("rack-2").build());
        assertThat(reviews.getServicesMap().get("shop/reviews.shop.svc.cluster.local").getPortsList())
                .containsExactly(Port.newBuilder().setServicePort(9080).setTargetPort(9080).build());
        assertThat(reviews.getAuthorizationPoliciesList()).containsExactly("shop/reviews-get-only");

        Workload ratings = f.workload("shop", "ratings-v1-85c8d7b9f5-p4m2n");
        assertThat(ratings.getStatus()).isEqualTo(WorkloadStatus.UNHEALTHY);
        assertThat(ratings.getServicesMap()).containsOnlyKeys("shop/ratings.shop.svc.cluster.local", "shop/ratings-headless.shop.svc.cluster.local");
        assertThat(ratings.getAuthorizationPoliciesList()).containsExactly("shop/ratings-deny-legacy");
    }

    @Test
    void waypointPodAndLegacyPod() {
        Workload waypoint = f.workload("shop", "shop-waypoint-7c9d8b6f5-w1w2w");
        assertThat(waypoint.getTunnelProtocol()).isEqualTo(TunnelProtocol.NONE);
        assertThat(waypoint.hasWaypoint()).isFalse();
        Workload billing = f.workload("legacy", "billing-6d9f7c8b47-zq8rt");
        assertThat(billing.getTunnelProtocol()).isEqualTo(TunnelProtocol.NONE);
        assertThat(billing.getServicesMap().get("legacy/billing.legacy.svc.cluster.local").getPorts(0).getTargetPort()).isEqualTo(8080);
    }

    @Test
    void servicesWithWaypointTrafficDistributionHeadlessAndSelectorless() {
        Service reviews = f.service("shop", "reviews");
        assertThat(reviews.getWaypoint().getHostname().getHostname()).isEqualTo("shop-waypoint.shop.svc.cluster.local");
        assertThat(reviews.getPorts(0).getTargetPort()).isZero();
        assertThat(f.service("shop", "ratings").getLoadBalancing().getMode()).isEqualTo(io.mocket.api.istio.workload.LoadBalancing.Mode.FAILOVER);
        assertThat(f.service("shop", "ratings-headless").getAddressesList()).isEmpty();
        assertThat(f.service("shop", "orders-db").getAddressesCount()).isEqualTo(1);
        assertThat(f.service("shop", "shop-waypoint").hasWaypoint()).isFalse();
    }

    @Test
    void policiesAndPeerAuthentication() {
        Authorization global = f.authorization("istio-system", "deny-test-net");
        assertThat(global.getScope()).isEqualTo(Scope.GLOBAL);
        assertThat(global.getAction()).isEqualTo(Action.DENY);
        assertThat(f.authorization("shop", "allow-shop").getScope()).isEqualTo(Scope.NAMESPACE);
        assertThat(f.authorization("shop", "ratings-deny-legacy").getGroups(0).getRulesCount()).isEqualTo(2);
        assertThat(f.authorization("shop", "reviews-get-only").getGroupsList()).as("fail-closed: allows nothing").isEmpty();
        assertThat(f.counter("mocket.authorization.l7.failclosed", "action", "allow")).isEqualTo(1);
        assertThat(f.index.peerAuthentication("shop", Map.of("app", "reviews")).mode()).isEqualTo(MtlsMode.STRICT);
    }
}
