package io.mocket.controlplane.kube;

/**
 * What a source says about itself, for readiness: whether it has delivered a complete view, and if not,
 * why (e.g. "Kubernetes API unreachable at https://10.0.0.1:443: connect timed out; serving the last
 * state from 12:00:03").
 *
 * @param synced  every kind has been listed at least once and the source is currently connected
 * @param reason  a human-readable reason when not synced, null otherwise
 */
public record SourceHealth(boolean synced, String reason) {
    public static SourceHealth ok() {
        return new SourceHealth(true, null);
    }

    public static SourceHealth notReady(String reason) {
        return new SourceHealth(false, reason);
    }
}
