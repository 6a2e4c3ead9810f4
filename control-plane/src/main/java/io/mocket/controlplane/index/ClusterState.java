package io.mocket.controlplane.index;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.Gateway;
import io.mocket.api.istio.workload.Locality;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The objects the sources delivered, the values derived from them at event time, and the secondary indexes
 * that dirty tracking and translation look things up by.
 *
 * <p>Thread safety: only the ambient index writes, one event at a time under its lock; the translating thread
 * reads concurrently. Every map is concurrent, so a read sees each object either before or after a change;
 * a change it missed has marked the affected outputs dirty again, so the next batch corrects them.
 */
final class ClusterState {
    final Map<String, Namespace> namespaces = new ConcurrentHashMap<>();
    final Map<String, Node> nodes = new ConcurrentHashMap<>();
    /** Node name to locality, only for nodes with topology labels. */
    final Map<String, Locality> localities = new ConcurrentHashMap<>();
    final Map<ObjectKey, Pod> pods = new ConcurrentHashMap<>();
    final Map<ObjectKey, Service> services = new ConcurrentHashMap<>();
    final Map<ObjectKey, GenericKubernetesResource> authorizationPolicies = new ConcurrentHashMap<>();
    /** The conversions of each AuthorizationPolicy (latest and last good), made when it was delivered. */
    final Map<ObjectKey, PolicyVersions> policyVersions = new ConcurrentHashMap<>();
    final Map<ObjectKey, GenericKubernetesResource> peerAuthentications = new ConcurrentHashMap<>();
    final Map<ObjectKey, Gateway> gateways = new ConcurrentHashMap<>();
    /** The Gateways that are usable waypoints. */
    final Map<ObjectKey, Waypoint> waypoints = new ConcurrentHashMap<>();

    final SecondaryIndex<String, ObjectKey> podsByNamespace = new SecondaryIndex<>();
    final SecondaryIndex<String, ObjectKey> podsByNode = new SecondaryIndex<>();
    final SecondaryIndex<String, ObjectKey> servicesByNamespace = new SecondaryIndex<>();
    /**
     * Served Services with a selector, each under one label of its selector (the first by name), so a pod
     * finds the services that may select it from its own labels instead of testing every service of its
     * namespace.
     */
    final SecondaryIndex<SelectorLabel, ObjectKey> servicesBySelectorLabel = new SecondaryIndex<>();
    final SecondaryIndex<String, ObjectKey> policiesByNamespace = new SecondaryIndex<>();
    final SecondaryIndex<String, ObjectKey> peerAuthenticationsByNamespace = new SecondaryIndex<>();
    /** Gateway to the pods and services whose own use-waypoint label names it. */
    final SecondaryIndex<ObjectKey, OutputKey> waypointUsers = new SecondaryIndex<>();
    /** Gateway to the pods that are its instances (gateway-name label). */
    final SecondaryIndex<ObjectKey, ObjectKey> waypointInstances = new SecondaryIndex<>();

    /** One label of a Service selector, within a namespace. */
    record SelectorLabel(String namespace, String key, String value) {
    }

    /** The entry a Service is indexed under, or null when it selects nothing or is not served. */
    static SelectorLabel selectorLabel(Service s) {
        if (!ServiceTranslator.served(s) || s.getSpec() == null || s.getSpec().getSelector() == null
                || s.getSpec().getSelector().isEmpty()) {
            return null;
        }
        Map.Entry<String, String> first = null;
        for (Map.Entry<String, String> e : s.getSpec().getSelector().entrySet()) {
            if (first == null || e.getKey().compareTo(first.getKey()) < 0) {
                first = e;
            }
        }
        return new SelectorLabel(s.getMetadata().getNamespace(), first.getKey(), first.getValue());
    }

    Map<String, String> namespaceLabels(String namespace) {
        return MeshLabels.labels(namespaces.get(namespace));
    }
}
