package io.mocket.controlplane.index;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import java.util.List;
import java.util.Map;

/** Kubernetes label selection: equality maps (Service, policy selectors) and full label selectors. */
final class Selector {
    private Selector() {
    }

    /** True when every entry of {@code selector} is in {@code labels}; an empty selector selects everything. */
    static boolean subsetOf(Map<String, String> selector, Map<String, String> labels) {
        for (Map.Entry<String, String> e : selector.entrySet()) {
            if (!e.getValue().equals(labels.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }

    /** Kubernetes Service semantics: a missing or empty selector selects nothing. */
    static boolean selectsNonEmpty(Map<String, String> selector, Map<String, String> labels) {
        return selector != null && !selector.isEmpty() && subsetOf(selector, labels);
    }

    /**
     * A metav1.LabelSelector: matchLabels and matchExpressions AND-ed; null selects nothing, as Gateway API
     * reads a missing selector under {@code from: Selector}.
     */
    static boolean matches(LabelSelector selector, Map<String, String> labels) {
        if (selector == null) {
            return false;
        }
        if (selector.getMatchLabels() != null && !subsetOf(selector.getMatchLabels(), labels)) {
            return false;
        }
        List<LabelSelectorRequirement> exprs = selector.getMatchExpressions();
        if (exprs != null) {
            for (LabelSelectorRequirement r : exprs) {
                String value = labels.get(r.getKey());
                List<String> values = r.getValues() == null ? List.of() : r.getValues();
                boolean ok = switch (r.getOperator() == null ? "" : r.getOperator()) {
                    case "In" -> value != null && values.contains(value);
                    case "NotIn" -> value == null || !values.contains(value);
                    case "Exists" -> labels.containsKey(r.getKey());
                    case "DoesNotExist" -> !labels.containsKey(r.getKey());
                    default -> false;
                };
                if (!ok) {
                    return false;
                }
            }
        }
        return true;
    }
}
