package io.mocket.controlplane.bench;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A synthetic ambient cluster made of the objects a Kubernetes source would deliver: namespaces enrolled in
 * ambient, nodes with zone labels, Deployments' pods (ReplicaSet-owned, Running, Ready, one IP each) behind
 * selector Services, and AuthorizationPolicies of every scope. Deterministic: the same shape gives the same
 * objects, so runs are comparable.
 *
 * @param shape      the sizes it was built with
 * @param namespaces the application namespaces plus the root namespace
 * @param nodes      nodes spread over the zones of one region
 * @param services   ClusterIP Services, each selecting one Deployment's pods
 * @param pods       the Deployments' pods, spread evenly over the Services and round-robin over the nodes
 * @param policies   per namespace one namespace-wide and one selector policy, plus one mesh-wide policy
 */
record SyntheticCluster(Shape shape, List<Namespace> namespaces, List<Node> nodes, List<Service> services,
                        List<Pod> pods, List<GenericKubernetesResource> policies) {

    static final String ROOT_NAMESPACE = "istio-system";

    /**
     * Sizes of the cluster.
     *
     * @param namespaces application namespaces, all enrolled in ambient
     * @param services   Services in total, spread evenly over the namespaces; one Deployment each
     * @param pods       pods in total, spread evenly over the Deployments
     * @param nodes      nodes the pods are scheduled on
     * @param zones      zones the nodes are spread over
     */
    record Shape(int namespaces, int services, int pods, int nodes, int zones) {
        Shape {
            if (namespaces < 1 || services < namespaces || pods < services || nodes < 1 || zones < 1) {
                throw new IllegalArgumentException("cluster shape " + namespaces + " namespaces, " + services
                        + " services, " + pods + " pods, " + nodes + " nodes, " + zones
                        + " zones: need at least one Service per namespace and one pod per Service");
            }
            if (pods > 250 * 250 * 250 || services > 250 * 250) {
                throw new IllegalArgumentException("at most " + 250 * 250 * 250 + " pods and " + 250 * 250
                        + " services fit the synthetic address ranges");
            }
        }

        static Shape defaults() {
            return new Shape(100, 1_000, 10_000, 100, 3);
        }

        String describe() {
            return "%,d namespaces (ambient), %,d Services, %,d pods (%,d per Deployment), %,d nodes in %d zones, %,d AuthorizationPolicies"
                    .formatted(namespaces, services, pods, pods / services, nodes, zones, 2 * namespaces + 1);
        }
    }

    static SyntheticCluster build(Shape shape) {
        KubernetesSerialization yaml = new KubernetesSerialization();
        List<Namespace> namespaces = new ArrayList<>();
        namespaces.add(new NamespaceBuilder().withNewMetadata().withName(ROOT_NAMESPACE).endMetadata().build());
        for (int n = 0; n < shape.namespaces(); n++) {
            namespaces.add(new NamespaceBuilder().withNewMetadata().withName(namespaceName(n))
                    .withLabels(Map.of("istio.io/dataplane-mode", "ambient")).endMetadata().build());
        }

        List<Node> nodes = new ArrayList<>();
        for (int i = 0; i < shape.nodes(); i++) {
            nodes.add(new NodeBuilder().withNewMetadata().withName(nodeName(i))
                    .withLabels(Map.of("topology.kubernetes.io/region", "region-1",
                            "topology.kubernetes.io/zone", "zone-" + (char) ('a' + i % shape.zones()),
                            "kubernetes.io/hostname", nodeName(i)))
                    .endMetadata().build());
        }

        List<Service> services = new ArrayList<>();
        for (int s = 0; s < shape.services(); s++) {
            String ip = "10.96." + (s / 250) + "." + (s % 250 + 1);
            services.add(new ServiceBuilder()
                    .withNewMetadata().withName(appName(s)).withNamespace(namespaceOf(shape, s)).endMetadata()
                    .withNewSpec().withType("ClusterIP").withClusterIP(ip).withClusterIPs(ip)
                    .withSelector(Map.of("app", appName(s)))
                    .addNewPort().withName("http").withPort(80).withNewTargetPort("http").withProtocol("TCP").endPort()
                    .addNewPort().withName("grpc").withPort(9090).withNewTargetPort(9090).withProtocol("TCP").endPort()
                    .endSpec().build());
        }

        List<Pod> pods = new ArrayList<>();
        int perService = shape.pods() / shape.services();
        for (int p = 0; p < shape.pods(); p++) {
            // Every Service gets perService pods; the remainder goes to the first ones.
            int s = p < perService * shape.services() ? p / perService : p - perService * shape.services();
            pods.add(pod(shape, p, s));
        }

        List<GenericKubernetesResource> policies = new ArrayList<>();
        policies.add(policy(yaml, ROOT_NAMESPACE, "deny-blocked-ranges", """
                action: DENY
                rules:
                - from:
                  - source: {ipBlocks: ["192.0.2.0/24"]}
                """));
        for (int n = 0; n < shape.namespaces(); n++) {
            String ns = namespaceName(n);
            policies.add(policy(yaml, ns, "allow-same-namespace", """
                    action: ALLOW
                    rules:
                    - from:
                      - source: {namespaces: ["%s"]}
                    """.formatted(ns)));
            // The first Deployment of each namespace gets a selector policy, so its workloads list one.
            int firstService = n;
            policies.add(policy(yaml, ns, "allow-frontend", """
                    action: ALLOW
                    selector:
                      matchLabels: {app: %s}
                    rules:
                    - from:
                      - source: {principals: ["cluster.local/ns/%s/sa/frontend"]}
                      to:
                      - operation: {ports: ["8080"]}
                    """.formatted(appName(firstService), ns)));
        }
        return new SyntheticCluster(shape, List.copyOf(namespaces), List.copyOf(nodes), List.copyOf(services),
                List.copyOf(pods), List.copyOf(policies));
    }

    /**
     * Pod {@code index} with one change that alters exactly its own Address resource: with {@code readiness}
     * its Ready condition turns False (a failing readiness probe), otherwise its version label goes from v1
     * to v2 (a label edit that changes the canonical revision).
     */
    Pod changed(int index, boolean readiness) {
        Pod original = pods.get(index);
        PodBuilder b = new PodBuilder(original);
        if (readiness) {
            b.editStatus().withConditions(new PodConditionBuilder().withType("Ready").withStatus("False").build()).endStatus();
        } else {
            Map<String, String> labels = new HashMap<>(original.getMetadata().getLabels());
            labels.put("version", "v2");
            b.editMetadata().withLabels(labels).endMetadata();
        }
        return b.build();
    }

    static String namespaceName(int n) {
        return "bench-%03d".formatted(n);
    }

    static String nodeName(int i) {
        return "node-%03d".formatted(i);
    }

    static String appName(int service) {
        return "app-%04d".formatted(service);
    }

    /** Services go round-robin over namespaces, so service s lives in namespace s mod namespaces. */
    private static String namespaceOf(Shape shape, int service) {
        return namespaceName(service % shape.namespaces());
    }

    private static Pod pod(Shape shape, int p, int s) {
        String app = appName(s);
        // A pod-template-hash-like suffix, stable per Deployment, and a replica suffix.
        String hash = Integer.toString(0x5f00_0000 + s * 7919, 36);
        String replicaSet = app + "-" + hash;
        String name = replicaSet + "-" + Long.toString(p * 104_729L % 60_466_176 + 1_679_616, 36);
        String ip = "10." + (100 + p / 62_500) + "." + (p / 250 % 250) + "." + (p % 250 + 1);
        return new PodBuilder()
                .withNewMetadata().withName(name).withGenerateName(replicaSet + "-").withNamespace(namespaceOf(shape, s))
                .withLabels(Map.of("app", app, "version", "v1", "pod-template-hash", hash))
                .addNewOwnerReference().withApiVersion("apps/v1").withKind("ReplicaSet").withName(replicaSet)
                .withUid("00000000-0000-0000-0000-%012d".formatted(s)).withController(true).endOwnerReference()
                .endMetadata()
                .withNewSpec().withNodeName(nodeName(p % shape.nodes())).withServiceAccountName(app)
                .addNewContainer().withName("app").withImage("registry.example/" + app + ":1")
                .addNewPort().withName("http").withContainerPort(8080).withProtocol("TCP").endPort()
                .addNewPort().withName("grpc").withContainerPort(9090).withProtocol("TCP").endPort()
                .endContainer()
                .endSpec()
                .withNewStatus().withPhase("Running").withPodIP(ip).addNewPodIP().withIp(ip).endPodIP()
                .addNewCondition().withType("Ready").withStatus("True").endCondition()
                .endStatus()
                .build();
    }

    private static GenericKubernetesResource policy(KubernetesSerialization yaml, String ns, String name, String spec) {
        String indented = spec.lines().map(l -> "  " + l).reduce("", (a, b) -> a + b + "\n");
        return yaml.unmarshal("""
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata:
                  name: %s
                  namespace: %s
                spec:
                %s""".formatted(name, ns, indented), GenericKubernetesResource.class);
    }
}
