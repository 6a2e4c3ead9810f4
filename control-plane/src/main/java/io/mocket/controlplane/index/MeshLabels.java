package io.mocket.controlplane.index;

import io.fabric8.kubernetes.api.model.HasMetadata;
import java.util.Map;

/** Label and annotation names the ambient index reads, as Istio, Kubernetes and Gateway API define them. */
final class MeshLabels {
    private MeshLabels() {
    }

    // Enrollment and waypoints.
    static final String DATAPLANE_MODE = "istio.io/dataplane-mode";
    static final String DATAPLANE_MODE_AMBIENT = "ambient";
    static final String DATAPLANE_MODE_NONE = "none";
    static final String USE_WAYPOINT = "istio.io/use-waypoint";
    static final String USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace";
    static final String USE_WAYPOINT_NONE = "none";
    static final String WAYPOINT_FOR = "istio.io/waypoint-for";
    static final String INGRESS_USE_WAYPOINT = "istio.io/ingress-use-waypoint";
    static final String GATEWAY_NAME = "gateway.networking.k8s.io/gateway-name";
    static final String GATEWAY_MANAGED = "gateway.istio.io/managed";
    static final String MANAGED_BY_MESH_CONTROLLER = "istio.io-mesh-controller";
    static final String MANAGED_BY_EASTWEST_CONTROLLER = "istio.io-eastwest-controller";
    static final String WAYPOINT_INBOUND_BINDING = "ambient.istio.io/waypoint-inbound-binding";
    /** Set by istio-cni once it redirected a pod to a node proxy. */
    static final String AMBIENT_REDIRECTION = "ambient.istio.io/redirection";
    static final String AMBIENT_REDIRECTION_ENABLED = "enabled";
    static final String SIDECAR_STATUS = "sidecar.istio.io/status";
    /** Comma-separated tunnel protocols a workload terminates itself ("http" = HBONE). */
    static final String TUNNEL = "networking.istio.io/tunnel";
    static final String TUNNEL_HTTP = "http";

    // Services.
    static final String TRAFFIC_DISTRIBUTION = "networking.istio.io/traffic-distribution";

    // Authorization.
    static final String DRY_RUN = "istio.io/dry-run";

    // Workload identity and telemetry names.
    static final String WORKLOAD_NAME = "service.istio.io/workload-name";
    static final String CANONICAL_NAME = "service.istio.io/canonical-name";
    static final String CANONICAL_REVISION = "service.istio.io/canonical-revision";
    static final String POD_TEMPLATE_HASH = "pod-template-hash";
    static final String ROLLOUTS_POD_TEMPLATE_HASH = "rollouts-pod-template-hash";
    static final String DEPLOYMENT_CONFIG = "deploymentconfig";

    // Node locality.
    static final String TOPOLOGY_REGION = "topology.kubernetes.io/region";
    static final String TOPOLOGY_ZONE = "topology.kubernetes.io/zone";
    static final String TOPOLOGY_SUBZONE = "topology.istio.io/subzone";

    static Map<String, String> labels(HasMetadata o) {
        if (o == null || o.getMetadata() == null || o.getMetadata().getLabels() == null) {
            return Map.of();
        }
        return o.getMetadata().getLabels();
    }

    static Map<String, String> annotations(HasMetadata o) {
        if (o == null || o.getMetadata() == null || o.getMetadata().getAnnotations() == null) {
            return Map.of();
        }
        return o.getMetadata().getAnnotations();
    }
}
