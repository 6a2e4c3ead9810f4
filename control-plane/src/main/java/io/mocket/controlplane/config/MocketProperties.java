package io.mocket.controlplane.config;

import java.nio.file.Path;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * Every setting of the control plane, bound from Spring configuration under the prefix {@code mocket}
 * (application.yaml, {@code --mocket.x=y} flags or {@code MOCKET_X} environment variables). The defaults
 * match an Istio install with default settings. See docs/configuration.md for the full table.
 *
 * @param source         where cluster objects come from: {@code kubernetes} (informers against the API
 *                       server of the kubeconfig or in-cluster account) or {@code file:<dir>} (a directory
 *                       of Kubernetes YAML, watched for changes)
 * @param clusterId      cluster id used in workload uids ({@code <cluster>//Pod/<ns>/<name>}), as istiod's
 * @param domainSuffix   Kubernetes DNS domain suffix of service hostnames
 * @param trustDomain    SPIFFE trust domain of workload identities
 * @param rootNamespace  Istio root namespace: policies there without a selector apply mesh-wide
 * @param network        network name of this cluster's addresses ("" is the default network)
 * @param xds            the xDS gRPC listener
 * @param debounce       batching of source events before a push
 * @param kubernetes     Kubernetes source settings
 * @param leaderElection Lease-based election guarding every write to the API server
 */
@ConfigurationProperties("mocket")
public record MocketProperties(
        @DefaultValue("kubernetes") String source,
        @DefaultValue("Kubernetes") String clusterId,
        @DefaultValue("cluster.local") String domainSuffix,
        @DefaultValue("cluster.local") String trustDomain,
        @DefaultValue("istio-system") String rootNamespace,
        @DefaultValue("") String network,
        @DefaultValue Xds xds,
        @DefaultValue Debounce debounce,
        @DefaultValue Kubernetes kubernetes,
        @DefaultValue LeaderElection leaderElection) {

    /** The plaintext xDS listener (public resources only). */
    public record Xds(@DefaultValue("15110") int port, @DefaultValue("0.0.0.0") String address) {
    }

    /**
     * Events are batched until {@code quiet} passes without a new one, but never longer than {@code max}
     * after the first.
     */
    public record Debounce(@DefaultValue("10ms") Duration quiet, @DefaultValue("100ms") Duration max) {
    }

    /** Informer settings: {@code resync} 0 means off (watches already deliver every change). */
    public record Kubernetes(@DefaultValue("0s") Duration resync) {
    }

    /** Lease-based leader election; only the leader writes to the API server. */
    public record LeaderElection(
            @DefaultValue("true") boolean enabled,
            @DefaultValue("istio-system") String namespace,
            @DefaultValue("mocket-control-plane") String leaseName,
            @DefaultValue("15s") Duration leaseDuration,
            @DefaultValue("10s") Duration renewDeadline,
            @DefaultValue("2s") Duration retryPeriod) {
    }

    /** True when {@link #source} names a directory. */
    public boolean fileSource() {
        return source.startsWith("file:");
    }

    /** The directory of a {@code file:<dir>} source. */
    public Path sourceDirectory() {
        if (!fileSource()) {
            throw new IllegalStateException("mocket.source is '" + source + "', not file:<dir>");
        }
        return Path.of(source.substring("file:".length()));
    }

    /** Fails with a message naming the property and the fix when the settings cannot work. */
    public void validate() {
        if (!source.equals("kubernetes") && !fileSource()) {
            throw new IllegalArgumentException("mocket.source='" + source
                    + "' is not valid: use 'kubernetes' or 'file:<directory of Kubernetes YAML>'");
        }
        if (fileSource() && source.length() == "file:".length()) {
            throw new IllegalArgumentException("mocket.source='file:' names no directory: use file:<dir>, e.g. file:examples/cluster");
        }
        if (xds.port() < 0 || xds.port() > 65535) {
            throw new IllegalArgumentException("mocket.xds.port=" + xds.port() + " is not a TCP port (0-65535; 0 picks a free one)");
        }
        if (debounce.quiet().isNegative() || debounce.max().compareTo(debounce.quiet()) < 0) {
            throw new IllegalArgumentException("mocket.debounce: quiet (" + debounce.quiet() + ") must be >= 0 and <= max ("
                    + debounce.max() + ")");
        }
        if (clusterId.isBlank() || domainSuffix.isBlank() || trustDomain.isBlank() || rootNamespace.isBlank()) {
            throw new IllegalArgumentException("mocket.cluster-id, domain-suffix, trust-domain and root-namespace must not be empty");
        }
    }
}
