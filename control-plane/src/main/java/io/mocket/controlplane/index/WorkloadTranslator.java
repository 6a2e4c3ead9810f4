package io.mocket.controlplane.index;

import com.google.protobuf.ByteString;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodIP;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.mocket.api.istio.workload.Address;
import io.mocket.api.istio.workload.Extension;
import io.mocket.api.istio.workload.Locality;
import io.mocket.api.istio.workload.NetworkMode;
import io.mocket.api.istio.workload.Port;
import io.mocket.api.istio.workload.PortList;
import io.mocket.api.istio.workload.TunnelProtocol;
import io.mocket.api.istio.workload.Workload;
import io.mocket.api.istio.workload.WorkloadStatus;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.XdsResource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Translates a pod into its Workload address, as istiod does for ztunnel, plus Mocket's enrollment marker. */
final class WorkloadTranslator {
    private static final Logger log = LoggerFactory.getLogger(WorkloadTranslator.class);

    /** The {@code Workload.extensions} entry that marks a workload whose traffic Mocket's mTLS-lite carries. */
    static final String MTLS_LITE_EXTENSION = "mocket.io/mtls-lite";
    private static final List<String> CANONICAL_NAME_LABELS = List.of(MeshLabels.CANONICAL_NAME, "app.kubernetes.io/name", "app");
    private static final List<String> CANONICAL_REVISION_LABELS = List.of(MeshLabels.CANONICAL_REVISION, "app.kubernetes.io/version", "version");

    private final MeshSettings settings;
    private final ClusterState state;
    private final WaypointBindings waypoints;

    WorkloadTranslator(MeshSettings settings, ClusterState state, WaypointBindings waypoints) {
        this.settings = settings;
        this.state = state;
        this.waypoints = waypoints;
    }

    /** The served resource for {@code pod}, or null when the pod is not a workload (no IP yet, or finished). */
    XdsResource translate(Pod pod) {
        ObjectKey key = ObjectKey.of(pod);
        String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
        // A pending pod with an IP (init containers still running) is served, as istiod does.
        if ("Succeeded".equals(phase) || "Failed".equals(phase)) {
            return null;
        }
        List<String> ips = podIps(pod);
        if (ips.isEmpty()) {
            return null;
        }
        List<ByteString> addresses = new ArrayList<>(ips.size());
        for (String ip : ips) {
            byte[] bytes = IpAddresses.parse(ip);
            if (bytes == null) {
                log.warn("Pod {}: status IP '{}' is not an IP address; the pod is not served until its status is fixed", key, ip);
                return null;
            }
            addresses.add(ByteString.copyFrom(bytes));
        }
        Map<String, String> labels = MeshLabels.labels(pod);
        Map<String, String> annotations = MeshLabels.annotations(pod);
        Map<String, String> nsLabels = state.namespaceLabels(key.namespace());
        var spec = pod.getSpec();
        String node = spec == null || spec.getNodeName() == null ? "" : spec.getNodeName();

        Workload.Builder w = Workload.newBuilder()
                .setUid(OutputKey.workloadUid(settings, key))
                .setName(key.name())
                .setNamespace(key.namespace())
                .addAllAddresses(addresses)
                .setNetwork(settings.network())
                .setNode(node)
                .setServiceAccount(serviceAccount(pod))
                .setTrustDomain(trustDomain())
                .setClusterId(settings.clusterId())
                .setStatus(ready(pod) && pod.getMetadata().getDeletionTimestamp() == null
                        ? WorkloadStatus.HEALTHY : WorkloadStatus.UNHEALTHY);
        Locality locality = state.localities.get(node);
        if (locality != null) {
            w.setLocality(locality);
        }
        if (spec != null && Boolean.TRUE.equals(spec.getHostNetwork())) {
            w.setNetworkMode(NetworkMode.HOST_NETWORK);
        }
        WorkloadMeta meta = WorkloadMeta.of(pod);
        w.setWorkloadName(meta.name()).setWorkloadType(meta.type())
                .setCanonicalName(firstLabel(labels, CANONICAL_NAME_LABELS, meta.name()))
                .setCanonicalRevision(firstLabel(labels, CANONICAL_REVISION_LABELS, "latest"));

        Waypoint instanceOf = waypoints.instanceOf(pod);
        if (instanceOf != null) {
            // A waypoint's own pods are reached directly; they may ask for an inbound application tunnel.
            if (instanceOf.inboundBinding() != null) {
                w.setApplicationTunnel(instanceOf.inboundBinding());
            }
        } else {
            Waypoint waypoint = waypoints.forWorkload(pod);
            if (waypoint != null && waypoint.address() != null) {
                w.setWaypoint(waypoint.address());
            }
        }
        w.putAllServices(services(pod, key.namespace(), labels));
        w.addAllAuthorizationPolicies(policies(key.namespace(), labels));

        boolean enrolled = enrolled(pod, nsLabels);
        if (enrolled || MeshLabels.AMBIENT_REDIRECTION_ENABLED.equals(annotations.get(MeshLabels.AMBIENT_REDIRECTION))) {
            w.setTunnelProtocol(TunnelProtocol.HBONE);
        }
        if (supportsHttpTunnel(labels)) {
            w.setTunnelProtocol(TunnelProtocol.HBONE).setNativeTunnel(true);
        }
        if (enrolled) {
            w.addExtensions(Extension.newBuilder().setName(MTLS_LITE_EXTENSION));
        }

        List<String> aliases = new ArrayList<>(ips.size());
        for (String ip : ips) {
            aliases.add(settings.network() + "/" + ip);
        }
        return XdsResource.of(ResourceType.ADDRESS, w.getUid(), aliases, Address.newBuilder().setWorkload(w).build());
    }

    /**
     * Ambient enrollment as istio-cni decides it with its default selectors: the pod label
     * {@code istio.io/dataplane-mode=ambient}, or that label on the namespace unless the pod says "none";
     * never host-network pods (their traffic cannot be captured) nor pods with a sidecar.
     */
    static boolean enrolled(Pod pod, Map<String, String> namespaceLabels) {
        if (pod.getSpec() != null && Boolean.TRUE.equals(pod.getSpec().getHostNetwork())) {
            return false;
        }
        if (MeshLabels.annotations(pod).containsKey(MeshLabels.SIDECAR_STATUS)) {
            return false;
        }
        String podMode = MeshLabels.labels(pod).get(MeshLabels.DATAPLANE_MODE);
        if (MeshLabels.DATAPLANE_MODE_AMBIENT.equals(podMode)) {
            return true;
        }
        return !MeshLabels.DATAPLANE_MODE_NONE.equals(podMode)
                && MeshLabels.DATAPLANE_MODE_AMBIENT.equals(namespaceLabels.get(MeshLabels.DATAPLANE_MODE));
    }

    private static boolean supportsHttpTunnel(Map<String, String> labels) {
        String tunnel = labels.get(MeshLabels.TUNNEL);
        if (tunnel == null) {
            return false;
        }
        for (String t : tunnel.split(",")) {
            if (t.equals(MeshLabels.TUNNEL_HTTP)) {
                return true;
            }
        }
        return false;
    }

    /** Every selecting Service, keyed "namespace/hostname", with its ports resolved against this pod. */
    private Map<String, PortList> services(Pod pod, String namespace, Map<String, String> labels) {
        // Sorted, so the serialized map, and with it the content version, does not depend on iteration order.
        TreeMap<String, PortList> out = new TreeMap<>();
        for (Map.Entry<String, String> label : labels.entrySet()) {
            for (ObjectKey sk : state.servicesBySelectorLabel.get(new ClusterState.SelectorLabel(namespace, label.getKey(), label.getValue()))) {
                Service s = state.services.get(sk);
                if (s != null && ServiceTranslator.served(s) && Selector.selectsNonEmpty(s.getSpec().getSelector(), labels)) {
                    out.put(sk.namespace() + "/" + OutputKey.hostname(settings, sk), ports(pod, s));
                }
            }
        }
        return out;
    }

    /** The ports of Service {@code s} as they reach {@code pod}. */
    private static PortList ports(Pod pod, Service s) {
        PortList.Builder ports = PortList.newBuilder();
        for (ServicePort p : s.getSpec().getPorts() == null ? List.<ServicePort>of() : s.getSpec().getPorts()) {
            if (p.getPort() == null) {
                continue;
            }
            IntOrString target = p.getTargetPort();
            int targetPort;
            if (target != null && target.getStrVal() != null && !target.getStrVal().isEmpty()) {
                targetPort = namedContainerPort(pod, target.getStrVal());
                if (targetPort < 0) {
                    // The pod does not expose the named port: this service port does not reach it.
                    continue;
                }
            } else {
                // The API server defaults a missing targetPort to the port.
                targetPort = target == null || target.getIntVal() == null ? p.getPort() : target.getIntVal();
            }
            ports.addPorts(Port.newBuilder().setServicePort(p.getPort()).setTargetPort(targetPort));
        }
        return ports.build();
    }

    /** The TCP container port named {@code name}, also in native sidecars (restartPolicy Always), or -1. */
    static int namedContainerPort(Pod pod, String name) {
        if (pod.getSpec() == null) {
            return -1;
        }
        List<Container> candidates = new ArrayList<>();
        if (pod.getSpec().getContainers() != null) {
            candidates.addAll(pod.getSpec().getContainers());
        }
        if (pod.getSpec().getInitContainers() != null) {
            for (Container c : pod.getSpec().getInitContainers()) {
                if ("Always".equals(c.getRestartPolicy())) {
                    candidates.add(c);
                }
            }
        }
        for (Container c : candidates) {
            for (ContainerPort cp : c.getPorts() == null ? List.<ContainerPort>of() : c.getPorts()) {
                // The API server defaults the protocol to TCP.
                boolean tcp = cp.getProtocol() == null || "TCP".equals(cp.getProtocol());
                if (name.equals(cp.getName()) && tcp && cp.getContainerPort() != null) {
                    return cp.getContainerPort();
                }
            }
        }
        return -1;
    }

    /**
     * The served selector policies of the pod's namespace and of the root namespace that select it, sorted.
     * Namespace and global policies are not listed: clients find them by scope.
     */
    private List<String> policies(String namespace, Map<String, String> labels) {
        TreeSet<String> out = new TreeSet<>();
        addSelecting(out, namespace, labels);
        if (!namespace.equals(settings.rootNamespace())) {
            addSelecting(out, settings.rootNamespace(), labels);
        }
        return List.copyOf(out);
    }

    private void addSelecting(TreeSet<String> out, String namespace, Map<String, String> labels) {
        for (ObjectKey pk : state.policiesByNamespace.get(namespace)) {
            // What is in force: an invalid policy is listed as its last good version or its stand-in is.
            PolicyVersions v = state.policyVersions.get(pk);
            Map<String, String> selector = v == null ? null : v.workloadSelector();
            if (selector != null && Selector.subsetOf(selector, labels)) {
                out.add(pk.toString());
            }
        }
    }

    private String serviceAccount(Pod pod) {
        var spec = pod.getSpec();
        if (spec != null && spec.getServiceAccountName() != null && !spec.getServiceAccountName().isEmpty()) {
            return spec.getServiceAccountName();
        }
        // Kubernetes admission always fills it in; objects read from files may lack it.
        return "default";
    }

    /** istiod leaves the trust domain out when it is the default, which clients assume. */
    private String trustDomain() {
        return MeshSettings.DEFAULT_TRUST_DOMAIN.equals(settings.trustDomain()) ? "" : settings.trustDomain();
    }

    private static boolean ready(Pod pod) {
        if (pod.getStatus() == null || pod.getStatus().getConditions() == null) {
            return false;
        }
        for (PodCondition c : pod.getStatus().getConditions()) {
            if ("Ready".equals(c.getType())) {
                return "True".equals(c.getStatus());
            }
        }
        return false;
    }

    private static List<String> podIps(Pod pod) {
        var status = pod.getStatus();
        if (status == null) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (status.getPodIPs() != null) {
            for (PodIP ip : status.getPodIPs()) {
                if (ip.getIp() != null && !ip.getIp().isEmpty()) {
                    out.add(ip.getIp());
                }
            }
        }
        if (out.isEmpty() && status.getPodIP() != null && !status.getPodIP().isEmpty()) {
            out.add(status.getPodIP());
        }
        return out;
    }

    private static String firstLabel(Map<String, String> labels, List<String> keys, String fallback) {
        for (String k : keys) {
            String v = labels.get(k);
            if (v != null) {
                return v;
            }
        }
        return fallback;
    }
}
