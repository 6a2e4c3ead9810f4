package io.mocket.controlplane.kube;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.Gateway;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;

/**
 * The Java class both sources deliver for each {@link KubeKind}, and the REST coordinates the informers
 * read it at. Kept in one place so the file source cannot drift from the informers.
 */
final class KindModel {

    private KindModel() {
    }

    /** The lower-case plural the API serves the kind under (the first part of a CRD's name). */
    static String plural(KubeKind kind) {
        return switch (kind) {
            case NAMESPACE -> "namespaces";
            case NODE -> "nodes";
            case POD -> "pods";
            case SERVICE -> "services";
            case AUTHORIZATION_POLICY -> "authorizationpolicies";
            case PEER_AUTHENTICATION -> "peerauthentications";
            case GATEWAY -> "gateways";
        };
    }

    /** Whether the kind comes from a CustomResourceDefinition that a cluster may lack. */
    static boolean isCustomResource(KubeKind kind) {
        return !kind.group().isEmpty();
    }

    /** "authorizationpolicies.security.istio.io": the name of the CRD that defines the kind. */
    static String crdName(KubeKind kind) {
        return plural(kind) + "." + kind.group();
    }

    /** What an operator runs to install the CRD that defines {@code kind}. */
    static String crdInstallHint(KubeKind kind) {
        return switch (kind) {
            case AUTHORIZATION_POLICY, PEER_AUTHENTICATION ->
                    "install Istio's CRDs (istioctl install, or the istio/base Helm chart) at a release that serves "
                            + kind.apiVersion();
            case GATEWAY -> "install the Gateway API standard CRDs (kubectl apply -f standard-install.yaml of a "
                    + "Gateway API v1.x release)";
            default -> "nothing to install: " + kind.kind() + " is built into Kubernetes";
        };
    }

    static ResourceDefinitionContext context(KubeKind kind) {
        return new ResourceDefinitionContext.Builder()
                .withGroup(kind.group())
                .withVersion(kind.version())
                .withKind(kind.kind())
                .withPlural(plural(kind))
                .withNamespaced(kind.namespaced())
                .build();
    }

    /** "Pod default/web-0", "Namespace istio-system": how messages name one object. */
    static String describe(KubeKind kind, HasMetadata object) {
        var meta = object.getMetadata();
        String name = meta == null ? "<no name>" : meta.getName();
        String ns = meta == null ? null : meta.getNamespace();
        return kind.kind() + " " + (kind.namespaced() && ns != null ? ns + "/" + name : name);
    }
}
