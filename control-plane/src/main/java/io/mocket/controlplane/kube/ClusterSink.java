package io.mocket.controlplane.kube;

import io.fabric8.kubernetes.api.model.HasMetadata;
import java.util.Collection;

/**
 * Where a source (Kubernetes informers or a directory of YAML) delivers the objects it reads; the
 * ambient index implements it. Both sources deliver the same object classes for the same kind, so the
 * index cannot tell them apart:
 * Namespace, Node, Pod and Service as fabric8's typed models; AuthorizationPolicy and
 * PeerAuthentication as {@code GenericKubernetesResource}; Gateway as fabric8's
 * {@code io.fabric8.kubernetes.api.model.gatewayapi.v1.Gateway}.
 *
 * <p>Thread safety: implementations accept calls from any thread; a source calls in the order it
 * observed changes. Calls return quickly (translation is deferred and debounced).
 */
public interface ClusterSink {

    /** An object was added or changed. */
    void upsert(KubeKind kind, HasMetadata object);

    /** An object was deleted. */
    void delete(KubeKind kind, HasMetadata object);

    /**
     * The complete current set of one kind, after an initial list, a relist following watch errors, or
     * a reload of the file source. Objects absent from {@code objects} are deleted.
     */
    void replaceAll(KubeKind kind, Collection<? extends HasMetadata> objects);
}
