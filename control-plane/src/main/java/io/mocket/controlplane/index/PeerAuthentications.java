package io.mocket.controlplane.index;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Resolution of PeerAuthentication the way istiod resolves it for ambient workloads: one mesh-wide policy
 * (root namespace, no selector), one namespace-wide policy (no selector), one workload policy (non-empty
 * selector, not in the root namespace); when several qualify at a level the oldest wins; UNSET inherits.
 *
 * <p>For ztunnel istiod does not serve PeerAuthentication itself: an effective STRICT mode becomes a static
 * DENY Authorization ("istio_converted_static_strict" in the root namespace, matching connections without a
 * peer principal) listed on the workload, and port-level exceptions become a converted policy per
 * PeerAuthentication. Mocket does not serve those yet; mTLS-lite will enforce the mode itself.
 */
final class PeerAuthentications {
    private static final Comparator<GenericKubernetesResource> OLDEST_FIRST = Comparator
            .comparing((GenericKubernetesResource p) -> creation(p))
            .thenComparing(p -> p.getMetadata().getName());

    private PeerAuthentications() {
    }

    static EffectivePeerAuthentication effective(ClusterState state, String rootNamespace, String namespace,
                                                 Map<String, String> workloadLabels) {
        GenericKubernetesResource mesh = oldest(state, rootNamespace, p -> selector(p) == null);
        GenericKubernetesResource ns = namespace.equals(rootNamespace) ? null : oldest(state, namespace, p -> selector(p) == null);
        GenericKubernetesResource workload = namespace.equals(rootNamespace) ? null
                : oldest(state, namespace, p -> selector(p) != null && Selector.subsetOf(selector(p), workloadLabels));
        MtlsMode mode = MtlsMode.PERMISSIVE;
        String source = null;
        for (GenericKubernetesResource p : new GenericKubernetesResource[] {mesh, ns, workload}) {
            MtlsMode m = p == null ? null : mode(p);
            if (m != null && m != MtlsMode.UNSET) {
                mode = m;
                source = ObjectKey.of(p).toString();
            }
        }
        Map<Integer, MtlsMode> ports = new HashMap<>();
        if (workload != null) {
            for (Map.Entry<String, Object> e : portLevel(workload).entrySet()) {
                MtlsMode m = e.getValue() instanceof Map<?, ?> pm ? MtlsMode.parse(pm.get("mode")) : null;
                int port = parsePort(e.getKey());
                if (port > 0 && m != null) {
                    ports.put(port, m == MtlsMode.UNSET ? mode : m);
                }
            }
        }
        return new EffectivePeerAuthentication(mode, ports, source);
    }

    /** What is wrong with a PeerAuthentication's fields, or null when they can be read. */
    static String problem(GenericKubernetesResource p) {
        Object mtls = spec(p).get("mtls");
        if (mtls != null && !(mtls instanceof Map<?, ?>)) {
            return "spec.mtls is not an object: write it as a mapping such as {mode: STRICT}";
        }
        if (mtls instanceof Map<?, ?> m && MtlsMode.parse(m.get("mode")) == null) {
            return "spec.mtls.mode '" + m.get("mode") + "' is not a mode: use UNSET, DISABLE, PERMISSIVE or STRICT";
        }
        for (Map.Entry<String, Object> e : portLevel(p).entrySet()) {
            if (parsePort(e.getKey()) <= 0) {
                return "spec.portLevelMtls key '" + e.getKey() + "' is not a port: use a number between 1 and 65535";
            }
            if (!(e.getValue() instanceof Map<?, ?> pm) || MtlsMode.parse(pm.get("mode")) == null) {
                return "spec.portLevelMtls." + e.getKey() + " has no valid mode: use UNSET, DISABLE, PERMISSIVE or STRICT";
            }
        }
        return null;
    }

    private static GenericKubernetesResource oldest(ClusterState state, String namespace,
                                                    Predicate<GenericKubernetesResource> filter) {
        GenericKubernetesResource best = null;
        for (ObjectKey k : state.peerAuthenticationsByNamespace.get(namespace)) {
            GenericKubernetesResource p = state.peerAuthentications.get(k);
            if (p != null && filter.test(p) && (best == null || OLDEST_FIRST.compare(p, best) < 0)) {
                best = p;
            }
        }
        return best;
    }

    /** The selector's matchLabels when non-empty, else null (istiod treats an empty selector as namespace-wide). */
    @SuppressWarnings("unchecked")
    private static Map<String, String> selector(GenericKubernetesResource p) {
        if (spec(p).get("selector") instanceof Map<?, ?> sel && sel.get("matchLabels") instanceof Map<?, ?> ml && !ml.isEmpty()) {
            return (Map<String, String>) ml;
        }
        return null;
    }

    private static MtlsMode mode(GenericKubernetesResource p) {
        return spec(p).get("mtls") instanceof Map<?, ?> mtls ? MtlsMode.parse(mtls.get("mode")) : MtlsMode.UNSET;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> portLevel(GenericKubernetesResource p) {
        return spec(p).get("portLevelMtls") instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> spec(GenericKubernetesResource p) {
        return p.getAdditionalProperties().get("spec") instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    private static int parsePort(String s) {
        try {
            int port = Integer.parseInt(s);
            return port >= 1 && port <= 65535 ? port : -1;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static Instant creation(GenericKubernetesResource p) {
        String ts = p.getMetadata().getCreationTimestamp();
        if (ts == null) {
            return Instant.MIN;
        }
        try {
            return Instant.parse(ts);
        } catch (DateTimeParseException e) {
            return Instant.MIN;
        }
    }
}
