package io.mocket.controlplane.xds;

/** The two variants of the aggregated discovery protocol a client can speak; closed set. */
public enum XdsProtocol {
    /** DeltaAggregatedResources: incremental, per-resource versions, on-demand subscriptions. */
    DELTA,
    /** StreamAggregatedResources: state of the world, one version for the whole subscribed set. */
    SOTW;

    /** The value of the {@code protocol} metric tag and of the debug output. */
    public String tag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
