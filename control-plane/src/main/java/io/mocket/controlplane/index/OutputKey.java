package io.mocket.controlplane.index;

/**
 * One thing the index serves, named by the object it is translated from. Dirty tracking works on these
 * keys; the served resource name follows from the key alone, so a removal needs no lookup.
 */
sealed interface OutputKey {

    /** The served resource name under {@code settings}. */
    String resourceName(MeshSettings settings);

    /** A pod's Workload address. */
    record WorkloadKey(ObjectKey pod) implements OutputKey {
        @Override
        public String resourceName(MeshSettings settings) {
            return workloadUid(settings, pod);
        }
    }

    /** A Kubernetes Service's Service address. */
    record ServiceKey(ObjectKey service) implements OutputKey {
        @Override
        public String resourceName(MeshSettings settings) {
            return service.namespace() + "/" + hostname(settings, service);
        }
    }

    /** An AuthorizationPolicy's Authorization. */
    record AuthorizationKey(ObjectKey policy) implements OutputKey {
        @Override
        public String resourceName(MeshSettings settings) {
            return policy.toString();
        }
    }

    /** istiod's uid of a pod workload: "cluster//Pod/namespace/name". */
    static String workloadUid(MeshSettings settings, ObjectKey pod) {
        return settings.clusterId() + "//Pod/" + pod.namespace() + "/" + pod.name();
    }

    /** The FQDN of a Kubernetes Service: "name.namespace.svc.suffix". */
    static String hostname(MeshSettings settings, ObjectKey service) {
        return service.name() + "." + service.namespace() + ".svc." + settings.domainSuffix();
    }
}
