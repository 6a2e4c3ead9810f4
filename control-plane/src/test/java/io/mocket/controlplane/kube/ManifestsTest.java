package io.mocket.controlplane.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.mocket.controlplane.config.MocketProperties;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The install manifests agree with the code: ports, probe paths, and RBAC for every kind the sources read. */
class ManifestsTest {
    private static final Path MANIFEST = Path.of("..", "manifests", "control-plane.yaml");

    @SuppressWarnings("unchecked")
    private static List<HasMetadata> objects() throws Exception {
        try (InputStream in = Files.newInputStream(MANIFEST)) {
            Object parsed = new KubernetesSerialization().unmarshal(in);
            return parsed instanceof KubernetesList l ? l.getItems() : (List<HasMetadata>) parsed;
        }
    }

    private static <T> T one(List<HasMetadata> all, Class<T> type) {
        List<T> found = all.stream().filter(type::isInstance).map(type::cast).toList();
        assertThat(found).as(type.getSimpleName()).hasSize(1);
        return found.getFirst();
    }

    @Test
    void portsAndProbesMatchTheDefaults() throws Exception {
        List<HasMetadata> all = objects();
        Deployment d = one(all, Deployment.class);
        var container = d.getSpec().getTemplate().getSpec().getContainers().getFirst();
        assertThat(container.getPorts()).extracting(ContainerPort::getContainerPort).containsExactlyInAnyOrder(15110, 15114);
        assertThat(container.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/health/readiness");
        assertThat(container.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/health/liveness");
        assertThat(d.getSpec().getTemplate().getMetadata().getLabels()).containsEntry("istio.io/dataplane-mode", "none");
        assertThat(one(all, Service.class).getSpec().getPorts()).extracting(ServicePort::getPort)
                .containsExactlyInAnyOrder(15110, 15114);
        MocketProperties.Xds defaults = new MocketProperties.Xds(15110, "0.0.0.0");
        assertThat(container.getPorts()).extracting(ContainerPort::getContainerPort).contains(defaults.port());
    }

    @Test
    void rbacGrantsListAndWatchOnEveryKindTheSourcesRead() throws Exception {
        List<HasMetadata> all = objects();
        ClusterRole role = one(all, ClusterRole.class);
        for (KubeKind kind : KubeKind.values()) {
            String plural = KindModel.plural(kind);
            assertThat(role.getRules()).as("%s", kind).anySatisfy(r -> {
                assertThat(r.getApiGroups()).contains(kind.group());
                assertThat(r.getResources()).contains(plural);
                assertThat(r.getVerbs()).contains("get", "list", "watch");
            });
        }
        assertThat(role.getRules()).flatExtracting(PolicyRule::getVerbs)
                .as("the control plane writes nothing outside its Lease").doesNotContain("create", "update", "patch", "delete");
        Role lease = one(all, Role.class);
        assertThat(lease.getRules()).anySatisfy(r -> {
            assertThat(r.getResources()).contains("leases");
            assertThat(r.getVerbs()).contains("get", "create", "update");
        });
    }
}
