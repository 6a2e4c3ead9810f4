package io.mocket.controlplane.index;

import io.mocket.controlplane.kube.KubeKind;
import java.util.Map;

/**
 * A point-in-time summary of the ambient index for the debug endpoint. Immutable.
 *
 * @param inputs           objects held per Kubernetes kind
 * @param outputs          resources served per output kind ("workload", "service", "authorization")
 * @param pendingOutputs   outputs marked dirty and not yet committed
 * @param invalidPolicies  "namespace/name" of each AuthorizationPolicy whose latest version is invalid, with the
 *                         reason and what is served in its place
 * @param unservedPolicies "namespace/name" of each valid AuthorizationPolicy not served to L4 clients, with why
 */
public record IndexDescription(Map<KubeKind, Integer> inputs, Map<String, Integer> outputs, int pendingOutputs,
                               Map<String, InvalidPolicy> invalidPolicies, Map<String, String> unservedPolicies) {

    public IndexDescription {
        inputs = Map.copyOf(inputs);
        outputs = Map.copyOf(outputs);
        invalidPolicies = Map.copyOf(invalidPolicies);
        unservedPolicies = Map.copyOf(unservedPolicies);
    }

    /**
     * An AuthorizationPolicy whose latest version is invalid, and what clients get for it instead.
     *
     * @param version the invalid version's resourceVersion and generation
     * @param reason  the field, its problem and the fix
     * @param outcome kept_last_good, allow_nothing, deny_widened or skipped (the counter's outcome tag)
     * @param serving what is served for it, in words
     */
    public record InvalidPolicy(String version, String reason, String outcome, String serving) {
    }
}
