package io.mocket.controlplane.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.Gateway;
import java.util.Arrays;
import java.util.Optional;

/** The Kubernetes kinds the control plane reads, with the group/version it reads them at. */
public enum KubeKind {
    NAMESPACE("", "v1", "Namespace", false),
    NODE("", "v1", "Node", false),
    POD("", "v1", "Pod", true),
    SERVICE("", "v1", "Service", true),
    AUTHORIZATION_POLICY("security.istio.io", "v1", "AuthorizationPolicy", true),
    PEER_AUTHENTICATION("security.istio.io", "v1", "PeerAuthentication", true),
    GATEWAY("gateway.networking.k8s.io", "v1", "Gateway", true);

    private final String group;
    private final String version;
    private final String kind;
    private final boolean namespaced;

    KubeKind(String group, String version, String kind, boolean namespaced) {
        this.group = group;
        this.version = version;
        this.kind = kind;
        this.namespaced = namespaced;
    }

    public String group() {
        return group;
    }

    public String version() {
        return version;
    }

    public String kind() {
        return kind;
    }

    public boolean namespaced() {
        return namespaced;
    }

    /**
     * The class every source delivers objects of this kind as, and the index expects (the
     * {@link ClusterSink} contract).
     */
    public Class<? extends HasMetadata> modelClass() {
        return switch (this) {
            case NAMESPACE -> Namespace.class;
            case NODE -> Node.class;
            case POD -> Pod.class;
            case SERVICE -> Service.class;
            // Istio ships no fabric8 model; the generic form keeps every field the CRD may grow.
            case AUTHORIZATION_POLICY, PEER_AUTHENTICATION -> GenericKubernetesResource.class;
            case GATEWAY -> Gateway.class;
        };
    }

    /** "v1" for the core group, "group/version" otherwise. */
    public String apiVersion() {
        return group.isEmpty() ? version : group + "/" + version;
    }

    /**
     * The kind an object of {@code apiVersion}/{@code kind} is read as. Any version of a known group is
     * accepted (security.istio.io/v1beta1 reads as v1: the fields Mocket uses are the same).
     */
    public static Optional<KubeKind> of(String apiVersion, String kind) {
        String group = apiVersion == null || !apiVersion.contains("/") ? "" : apiVersion.substring(0, apiVersion.indexOf('/'));
        return Arrays.stream(values()).filter(k -> k.kind.equals(kind) && k.group.equals(group)).findFirst();
    }
}
