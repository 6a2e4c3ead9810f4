package io.mocket.controlplane.index;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import java.util.Map;

/**
 * What the index holds for one AuthorizationPolicy: the conversion of the version delivered last and the last
 * valid one, and from them what is in force. Immutable, so the translating thread reads one consistent pair.
 *
 * @param latest        the conversion of the version delivered last
 * @param latestVersion that version's resourceVersion and generation, in words
 * @param lastGood      the last version that converted without error, or null when none did since the policy
 *                      appeared (the index keeps it in memory only: a restarted control plane starts without it)
 */
record PolicyVersions(PolicyConversion latest, String latestVersion, LastGood lastGood) {

    /**
     * A version that converted without error (served or deliberately not served).
     *
     * @param version its resourceVersion and generation, in words
     */
    record LastGood(PolicyConversion conversion, String version) {
    }

    /** The state after {@code delivered} arrived; {@code previous} is null for a policy new to the index. */
    static PolicyVersions next(PolicyVersions previous, HasMetadata delivered, PolicyConversion conversion) {
        String version = version(delivered.getMetadata());
        if (conversion instanceof PolicyConversion.Invalid) {
            return new PolicyVersions(conversion, version, previous == null ? null : previous.lastGood);
        }
        return new PolicyVersions(conversion, version, new LastGood(conversion, version));
    }

    /** The conversion clients get: the latest when valid, else the last good one, else the stand-in; or null. */
    PolicyConversion inForce() {
        if (!(latest instanceof PolicyConversion.Invalid invalid)) {
            return latest;
        }
        if (lastGood != null) {
            return lastGood.conversion;
        }
        return invalid.standIn().served();
    }

    /** What is served in place of an invalid latest version, or null when the latest is valid. */
    PolicyConversion.Outcome outcome() {
        if (!(latest instanceof PolicyConversion.Invalid invalid)) {
            return null;
        }
        return lastGood != null ? PolicyConversion.Outcome.KEPT_LAST_GOOD : invalid.standIn().outcome();
    }

    /** The labels of the workloads that list the policy in force, or null when none lists it. */
    Map<String, String> workloadSelector() {
        PolicyConversion c = inForce();
        return c == null ? null : c.workloadSelector();
    }

    /** "resourceVersion 41, generation 3"; objects read from files may have neither. */
    static String version(ObjectMeta meta) {
        String rv = meta.getResourceVersion();
        Long generation = meta.getGeneration();
        boolean hasRv = rv != null && !rv.isEmpty();
        if (!hasRv && generation == null) {
            return "no resourceVersion or generation";
        }
        return (hasRv ? "resourceVersion " + rv : "") + (hasRv && generation != null ? ", " : "")
                + (generation != null ? "generation " + generation : "");
    }
}
