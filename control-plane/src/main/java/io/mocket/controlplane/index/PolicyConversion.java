package io.mocket.controlplane.index;

import io.mocket.api.istio.security.Action;
import io.mocket.api.istio.security.Authorization;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** What became of one AuthorizationPolicy version: served, deliberately not served, or rejected as invalid. */
sealed interface PolicyConversion {

    /**
     * The labels whose workloads list this policy in {@code authorization_policies}, or null when the policy
     * is listed on no workload (namespace and global scope are found by scope, not by list).
     */
    default Map<String, String> workloadSelector() {
        return null;
    }

    /**
     * Served as {@code authorization}.
     *
     * @param workloadSelector the selector's matchLabels when the policy has one, else null
     * @param l7Rules          the rules that named HTTP attributes and were converted fail-closed
     */
    record Served(Authorization authorization, Map<String, String> workloadSelector, List<L7Rule> l7Rules)
            implements PolicyConversion {
    }

    /** Valid but not for L4 clients (AUDIT/CUSTOM action, targetRef to a waypoint, dry-run). */
    record NotServed(String reason) implements PolicyConversion {
    }

    /**
     * Rejected: {@code field} has {@code problem}; {@code fix} says how to correct it. Nothing of it is served
     * while an earlier version was valid (that one keeps serving); otherwise {@code standIn} is.
     *
     * @param standIn what to serve while no version of the policy has been valid
     */
    record Invalid(String field, String problem, String fix, StandIn standIn) implements PolicyConversion {
    }

    /**
     * What is served for a policy that has never been valid: built from the parts that can be read so that it is
     * never more open than the policy as written, whatever its unreadable conditions or selector meant (an
     * unreadable action is read as ALLOW).
     *
     * @param served      the Authorization and the workloads that list it, or null when nothing is served
     * @param outcome     {@link Outcome#ALLOW_NOTHING}, {@link Outcome#DENY_WIDENED} or {@link Outcome#SKIPPED}
     * @param description what is served, in words, for the log and the debug endpoint
     */
    record StandIn(Served served, Outcome outcome, String description) {
    }

    /** What is served for an invalid policy; its {@link #tag()} is the outcome tag of the invalid-policy counter. */
    enum Outcome {
        /** The last valid version keeps serving, unchanged. */
        KEPT_LAST_GOOD,
        /** Never valid, ALLOW (or an unreadable action): an ALLOW with no rules for the workloads it may select. */
        ALLOW_NOTHING,
        /** Never valid, DENY: its readable part, each unreadable condition read as matching every connection. */
        DENY_WIDENED,
        /** Never valid, with an action L4 clients do not enforce: nothing, as for a valid one. */
        SKIPPED;

        String tag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * A rule that used HTTP attributes L4 enforcement cannot see.
     *
     * @param rule       index of the rule in spec.rules
     * @param attributes the HTTP attribute names found, sorted
     * @param action     the policy's action
     * @param denies     for DENY, whether the rule can still match on its L4 part (false: it denies nothing)
     */
    record L7Rule(int rule, List<String> attributes, Action action, boolean denies) {
    }
}
