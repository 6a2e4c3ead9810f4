package io.mocket.controlplane.index;

import io.mocket.controlplane.kube.KubeKind;
import java.util.Map;

/**
 * A point-in-time summary of the ambient index for the debug endpoint. Immutable.
 *
 * @param inputs           objects held per Kubernetes kind
 * @param outputs          resources served per output kind ("workload", "service", "authorization")
 * @param pendingOutputs   outputs marked dirty and not yet committed
 * @param invalidPolicies  "namespace/name" of each AuthorizationPolicy skipped as invalid, with the reason and fix
 * @param unservedPolicies "namespace/name" of each valid AuthorizationPolicy not served to L4 clients, with why
 */
public record IndexDescription(Map<KubeKind, Integer> inputs, Map<String, Integer> outputs, int pendingOutputs,
                               Map<String, String> invalidPolicies, Map<String, String> unservedPolicies) {

    public IndexDescription {
        inputs = Map.copyOf(inputs);
        outputs = Map.copyOf(outputs);
        invalidPolicies = Map.copyOf(invalidPolicies);
        unservedPolicies = Map.copyOf(unservedPolicies);
    }
}
