package io.mocket.controlplane.index;

import io.mocket.api.istio.security.Action;
import io.mocket.api.istio.security.Authorization;
import java.util.List;
import java.util.Map;

/** What became of one AuthorizationPolicy: served, deliberately not served, or rejected as invalid. */
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

    /** Rejected: {@code field} has {@code problem}; {@code fix} says how to correct it. */
    record Invalid(String field, String problem, String fix) implements PolicyConversion {
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
