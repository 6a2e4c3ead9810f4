package io.mocket.controlplane.index;

import io.fabric8.kubernetes.api.model.HasMetadata;

/** Namespace and name of a namespaced Kubernetes object; prints as "namespace/name". */
record ObjectKey(String namespace, String name) {

    static ObjectKey of(HasMetadata o) {
        return new ObjectKey(o.getMetadata().getNamespace(), o.getMetadata().getName());
    }

    @Override
    public String toString() {
        return namespace + "/" + name;
    }
}
