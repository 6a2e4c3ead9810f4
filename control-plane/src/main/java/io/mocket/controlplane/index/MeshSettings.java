package io.mocket.controlplane.index;

import java.time.Duration;
import java.util.Objects;

/**
 * The mesh-wide values the ambient index translates with, and how long it batches source events before a
 * commit. Immutable.
 *
 * @param clusterId      the cluster id in workload uids and {@code cluster_id} (istiod's default "Kubernetes")
 * @param domainSuffix   the DNS suffix of service hostnames ("cluster.local")
 * @param trustDomain    the SPIFFE trust domain of workload identities ("cluster.local")
 * @param rootNamespace  the namespace whose policies apply mesh-wide ("istio-system")
 * @param network        the network of every local address; empty for a single-network mesh
 * @param debounceQuiet  a batch is committed once no event arrived for this long (default 10 ms)
 * @param debounceMax    and at the latest this long after its first event (default 100 ms)
 */
public record MeshSettings(String clusterId, String domainSuffix, String trustDomain, String rootNamespace,
                           String network, Duration debounceQuiet, Duration debounceMax) {

    public static final String DEFAULT_CLUSTER_ID = "Kubernetes";
    public static final String DEFAULT_DOMAIN_SUFFIX = "cluster.local";
    public static final String DEFAULT_TRUST_DOMAIN = "cluster.local";
    public static final String DEFAULT_ROOT_NAMESPACE = "istio-system";
    public static final Duration DEFAULT_DEBOUNCE_QUIET = Duration.ofMillis(10);
    public static final Duration DEFAULT_DEBOUNCE_MAX = Duration.ofMillis(100);

    public MeshSettings {
        clusterId = orDefault(clusterId, DEFAULT_CLUSTER_ID);
        domainSuffix = orDefault(domainSuffix, DEFAULT_DOMAIN_SUFFIX);
        trustDomain = orDefault(trustDomain, DEFAULT_TRUST_DOMAIN);
        rootNamespace = orDefault(rootNamespace, DEFAULT_ROOT_NAMESPACE);
        network = Objects.requireNonNullElse(network, "");
        debounceQuiet = Objects.requireNonNullElse(debounceQuiet, DEFAULT_DEBOUNCE_QUIET);
        debounceMax = Objects.requireNonNullElse(debounceMax, DEFAULT_DEBOUNCE_MAX);
        if (debounceQuiet.isNegative() || debounceMax.isNegative()) {
            throw new IllegalArgumentException("debounce durations must not be negative, got quiet " + debounceQuiet
                    + " and max " + debounceMax + ": set them to 0 or more");
        }
        if (debounceMax.compareTo(debounceQuiet) < 0) {
            throw new IllegalArgumentException("debounce max delay " + debounceMax + " is shorter than the quiet period "
                    + debounceQuiet + ": set the max delay to at least the quiet period");
        }
    }

    /** The settings of a default Istio installation. */
    public static MeshSettings defaults() {
        return new MeshSettings(null, null, null, null, null, null, null);
    }

    public MeshSettings withClusterId(String id) {
        return new MeshSettings(id, domainSuffix, trustDomain, rootNamespace, network, debounceQuiet, debounceMax);
    }

    public MeshSettings withTrustDomain(String td) {
        return new MeshSettings(clusterId, domainSuffix, td, rootNamespace, network, debounceQuiet, debounceMax);
    }

    public MeshSettings withNetwork(String net) {
        return new MeshSettings(clusterId, domainSuffix, trustDomain, rootNamespace, net, debounceQuiet, debounceMax);
    }

    public MeshSettings withDebounce(Duration quiet, Duration max) {
        return new MeshSettings(clusterId, domainSuffix, trustDomain, rootNamespace, network, quiet, max);
    }

    private static String orDefault(String value, String fallback) {
        return value == null || value.isBlank() ? fallback : value;
    }
}
