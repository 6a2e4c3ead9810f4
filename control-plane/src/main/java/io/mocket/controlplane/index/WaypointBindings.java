package io.mocket.controlplane.index;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import java.util.Map;

/**
 * Which waypoint a pod or service uses, decided as istiod decides it: the object's own
 * {@code istio.io/use-waypoint} label (value "none" opts out), else its namespace's label; the waypoint must
 * exist, admit the object's namespace, and accept the kind of traffic (service or workload).
 */
final class WaypointBindings {
    private final ClusterState state;

    WaypointBindings(ClusterState state) {
        this.state = state;
    }

    /** The waypoint for traffic to a service, or null. */
    Waypoint forService(Service service) {
        String managed = MeshLabels.labels(service).get(MeshLabels.GATEWAY_MANAGED);
        // A waypoint's or east-west gateway's own service never goes through a waypoint.
        if (MeshLabels.MANAGED_BY_MESH_CONTROLLER.equals(managed) || MeshLabels.MANAGED_BY_EASTWEST_CONTROLLER.equals(managed)) {
            return null;
        }
        Waypoint w = target(service);
        return w != null && w.acceptsServiceTraffic() ? w : null;
    }

    /** The waypoint for traffic addressed to a pod directly, or null. */
    Waypoint forWorkload(Pod pod) {
        Waypoint w = target(pod);
        return w != null && w.acceptsWorkloadTraffic() ? w : null;
    }

    /** The waypoint this pod is an instance of (gateway-name label), or null. */
    Waypoint instanceOf(Pod pod) {
        String gateway = MeshLabels.labels(pod).get(MeshLabels.GATEWAY_NAME);
        return gateway == null ? null : state.waypoints.get(new ObjectKey(pod.getMetadata().getNamespace(), gateway));
    }

    private Waypoint target(HasMetadata o) {
        String ns = o.getMetadata().getNamespace();
        Waypoint.Reference own = Waypoint.Reference.in(MeshLabels.labels(o), ns);
        if (own != null) {
            return own.none() ? null : admitted(own.gateway(), ns, state.namespaceLabels(ns));
        }
        Namespace namespace = state.namespaces.get(ns);
        if (namespace == null) {
            return null;
        }
        Map<String, String> nsLabels = MeshLabels.labels(namespace);
        Waypoint.Reference inherited = Waypoint.Reference.in(nsLabels, ns);
        return inherited == null || inherited.none() ? null : admitted(inherited.gateway(), ns, nsLabels);
    }

    private Waypoint admitted(ObjectKey gateway, String namespace, Map<String, String> namespaceLabels) {
        Waypoint w = state.waypoints.get(gateway);
        return w != null && w.allowsAttachmentFrom(namespace, namespaceLabels) ? w : null;
    }
}
