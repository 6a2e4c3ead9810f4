package io.mocket.controlplane.index;

import java.util.Map;

/**
 * The mTLS mode that applies to a workload after inheritance (mesh, namespace, workload selector; UNSET
 * inherits), with its port-level overrides. Immutable.
 *
 * @param mode      the effective workload-wide mode, never UNSET (PERMISSIVE when nothing is configured)
 * @param portModes port-level modes of the selecting policy, already resolved (never UNSET)
 * @param source    "namespace/name" of the policy that decided {@code mode}, or null for the default
 */
public record EffectivePeerAuthentication(MtlsMode mode, Map<Integer, MtlsMode> portModes, String source) {

    public EffectivePeerAuthentication {
        portModes = Map.copyOf(portModes);
    }

    /** The mode for traffic to {@code port}. */
    public MtlsMode modeForPort(int port) {
        return portModes.getOrDefault(port, mode);
    }
}
