package io.mocket.controlplane.index;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GatewayBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.workload.Address;
import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import io.mocket.controlplane.kube.KubeKind;
import io.mocket.controlplane.resources.Commit;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.XdsResource;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/** An ambient index over a fresh store and meter registry, with builders for the objects tests feed it. */
final class IndexFixture implements AutoCloseable {
    static final KubernetesSerialization YAML = new KubernetesSerialization();

    final MeshSettings settings;
    final ResourceStore store = new ResourceStore();
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    final AmbientIndex index;
    final List<Commit> commits = new CopyOnWriteArrayList<>();

    IndexFixture() {
        this(MeshSettings.defaults());
    }

    IndexFixture(MeshSettings settings) {
        this.settings = settings;
        this.index = new AmbientIndex(settings, store, meters);
        store.addListener(commits::add);
    }

    @Override
    public void close() {
        index.close();
    }

    // ------------------------------------------------------------ feeding

    IndexFixture apply(KubeKind kind, HasMetadata... objects) {
        for (HasMetadata o : objects) {
            index.upsert(kind, o);
        }
        return settle();
    }

    IndexFixture remove(KubeKind kind, HasMetadata object) {
        index.delete(kind, object);
        return settle();
    }

    IndexFixture settle() {
        try {
            assertThat(index.awaitIdle(Duration.ofSeconds(10))).as("index settles within 10 s").isTrue();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        return this;
    }

    // ------------------------------------------------------------ reading

    XdsResource resource(ResourceType type, String name) {
        return store.current().get(type, name);
    }

    Workload workload(String ns, String name) {
        XdsResource r = resource(ResourceType.ADDRESS, settings.clusterId() + "//Pod/" + ns + "/" + name);
        assertThat(r).as("workload %s/%s is served", ns, name).isNotNull();
        return ((Address) r.message()).getWorkload();
    }

    boolean hasWorkload(String ns, String name) {
        return resource(ResourceType.ADDRESS, settings.clusterId() + "//Pod/" + ns + "/" + name) != null;
    }

    Service service(String ns, String name) {
        XdsResource r = resource(ResourceType.ADDRESS, serviceName(ns, name));
        assertThat(r).as("service %s/%s is served", ns, name).isNotNull();
        return ((Address) r.message()).getService();
    }

    String serviceName(String ns, String name) {
        return ns + "/" + name + "." + ns + ".svc." + settings.domainSuffix();
    }

    boolean hasService(String ns, String name) {
        return resource(ResourceType.ADDRESS, serviceName(ns, name)) != null;
    }

    Authorization authorization(String ns, String name) {
        XdsResource r = resource(ResourceType.AUTHORIZATION, ns + "/" + name);
        assertThat(r).as("authorization %s/%s is served", ns, name).isNotNull();
        return (Authorization) r.message();
    }

    boolean hasAuthorization(String ns, String name) {
        return resource(ResourceType.AUTHORIZATION, ns + "/" + name) != null;
    }

    /** The sum of the counters named {@code name} that carry {@code tags} (all of them when none are given). */
    double counter(String name, String... tags) {
        return meters.find(name).tags(tags).counters().stream().mapToDouble(c -> c.count()).sum();
    }

    // ------------------------------------------------------------ objects

    static Namespace namespace(String name, Map<String, String> labels) {
        return new NamespaceBuilder().withNewMetadata().withName(name).withLabels(labels).endMetadata().build();
    }

    static Namespace ambientNamespace(String name) {
        return namespace(name, Map.of("istio.io/dataplane-mode", "ambient"));
    }

    static Node node(String name, String region, String zone, String subzone) {
        NodeBuilder b = new NodeBuilder().withNewMetadata().withName(name).endMetadata();
        if (region != null) {
            b.editMetadata().addToLabels("topology.kubernetes.io/region", region).endMetadata();
        }
        if (zone != null) {
            b.editMetadata().addToLabels("topology.kubernetes.io/zone", zone).endMetadata();
        }
        if (subzone != null) {
            b.editMetadata().addToLabels("topology.istio.io/subzone", subzone).endMetadata();
        }
        return b.build();
    }

    /** A running, ready pod on node-a with one IP and an "http" container port 8080. */
    static PodBuilder pod(String ns, String name, String ip) {
        return new PodBuilder()
                .withNewMetadata().withName(name).withNamespace(ns).withLabels(Map.of("app", "web")).endMetadata()
                .withNewSpec().withNodeName("node-a").withServiceAccountName("web")
                .addNewContainer().withName("app").addNewPort().withName("http").withContainerPort(8080).withProtocol("TCP").endPort().endContainer()
                .endSpec()
                .withNewStatus().withPhase("Running").withPodIP(ip).addNewPodIP().withIp(ip).endPodIP()
                .addNewCondition().withType("Ready").withStatus("True").endCondition()
                .endStatus();
    }

    /** A ClusterIP Service selecting app=web with port 80 → 8080. */
    static ServiceBuilder service(String ns, String name, String clusterIp) {
        return new ServiceBuilder()
                .withNewMetadata().withName(name).withNamespace(ns).endMetadata()
                .withNewSpec().withType("ClusterIP").withClusterIP(clusterIp).withClusterIPs(clusterIp)
                .withSelector(Map.of("app", "web"))
                .addNewPort().withName("http").withPort(80).withNewTargetPort(8080).withProtocol("TCP").endPort()
                .endSpec();
    }

    /** A waypoint Gateway with a hostname status address and the standard HBONE listener. */
    static GatewayBuilder waypoint(String ns, String name, String waypointFor) {
        GatewayBuilder b = new GatewayBuilder()
                .withNewMetadata().withName(name).withNamespace(ns).endMetadata()
                .withNewSpec().withGatewayClassName("istio-waypoint")
                .addNewListener().withName("mesh").withPort(15008).withProtocol("HBONE").endListener()
                .endSpec()
                .withNewStatus().addNewAddress().withType("Hostname").withValue(name + "." + ns + ".svc.cluster.local").endAddress().endStatus();
        if (waypointFor != null) {
            b.editMetadata().addToLabels("istio.io/waypoint-for", waypointFor).endMetadata();
        }
        return b;
    }

    /** An AuthorizationPolicy from YAML, as a source delivers it. */
    static GenericKubernetesResource policy(String yaml) {
        return YAML.unmarshal(yaml, GenericKubernetesResource.class);
    }

    static GenericKubernetesResource policy(String ns, String name, String specYaml) {
        String indented = specYaml.stripIndent().lines().map(l -> "  " + l).reduce("", (a, b) -> a + b + "\n");
        return policy("""
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata:
                  name: %s
                  namespace: %s
                spec:
                %s""".formatted(name, ns, indented));
    }
}
