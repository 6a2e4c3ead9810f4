package io.mocket.controlplane.index;

import com.google.protobuf.ByteString;
import com.google.protobuf.Empty;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.mocket.api.istio.security.Action;
import io.mocket.api.istio.security.Address;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.security.Group;
import io.mocket.api.istio.security.Match;
import io.mocket.api.istio.security.Rules;
import io.mocket.api.istio.security.Scope;
import io.mocket.api.istio.security.ServiceAccountMatch;
import io.mocket.api.istio.security.StringMatch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Converts an AuthorizationPolicy into the L4 {@code istio.security.Authorization} istiod serves to ztunnel.
 * A pure function of the policy and the root namespace: it logs nothing, so it can run at event time to learn
 * which workloads a policy attaches to and again when the resource is built.
 *
 * <p>The structure follows istiod exactly, because clients evaluate it with ztunnel's rules: per policy rule
 * one Group; in it one Rules of the {@code to} matches, one Rules of the {@code from} matches, and one Rules
 * per {@code when} condition. HTTP attributes are dropped; an ALLOW rule that had any is dropped whole (it then
 * allows nothing), a DENY rule keeps what is left. An entry whose attributes were all HTTP leaves an empty
 * Match, which ztunnel skips, so such a DENY rule can no longer match: istiod serves it the same way.
 */
final class AuthorizationConverter {

    private static final Set<String> L4_WHEN_KEYS = Set.of(
            "source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port");
    private static final List<String> L7_OPERATION_FIELDS = List.of("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths");
    private static final List<String> L7_SOURCE_FIELDS = List.of("remoteIpBlocks", "notRemoteIpBlocks", "requestPrincipals", "notRequestPrincipals");

    private final String rootNamespace;

    AuthorizationConverter(String rootNamespace) {
        this.rootNamespace = rootNamespace;
    }

    PolicyConversion convert(GenericKubernetesResource policy) {
        try {
            return convertChecked(policy);
        } catch (InvalidField e) {
            return new PolicyConversion.Invalid(e.field, e.problem, e.fix);
        }
    }

    private PolicyConversion convertChecked(GenericKubernetesResource policy) {
        ObjectKey key = ObjectKey.of(policy);
        String dryRun = MeshLabels.annotations(policy).get(MeshLabels.DRY_RUN);
        if (dryRun != null && parseGoBool(dryRun)) {
            // istiod serves dry-run policies only behind a feature flag that is off by default, because older
            // ztunnels enforce them.
            return new PolicyConversion.NotServed("annotation " + MeshLabels.DRY_RUN + "=" + dryRun
                    + ": dry-run policies are not served to L4 clients (istiod's default)");
        }
        Object specObj = policy.getAdditionalProperties().get("spec");
        Map<String, Object> spec = specObj == null ? Map.of() : map(specObj, "spec");
        if (spec.get("targetRef") != null || spec.get("targetRefs") != null) {
            return new PolicyConversion.NotServed("it has a targetRef: it is for the waypoint it targets, not for L4 enforcement");
        }

        Map<String, String> selector = null;
        boolean hasSelector = false;
        if (spec.get("selector") != null) {
            hasSelector = true;
            Map<String, Object> sel = map(spec.get("selector"), "spec.selector");
            if (sel.get("matchLabels") != null) {
                selector = stringMap(sel.get("matchLabels"), "spec.selector.matchLabels");
            }
        }

        Object actionObj = spec.get("action");
        String actionName = actionObj == null ? "ALLOW" : string(actionObj, "spec.action");
        Action action = switch (actionName) {
            case "", "ALLOW" -> Action.ALLOW;
            case "DENY" -> Action.DENY;
            case "AUDIT", "CUSTOM" -> null;
            default -> throw new InvalidField("spec.action", "'" + actionName + "' is not an action",
                    "use ALLOW, DENY, AUDIT or CUSTOM");
        };

        List<Object> rules = spec.get("rules") == null ? List.of() : list(spec.get("rules"), "spec.rules");
        Authorization.Builder out = Authorization.newBuilder()
                .setName(key.name())
                .setNamespace(key.namespace())
                .setScope(!hasSelector ? (rootNamespace.equals(key.namespace()) ? Scope.GLOBAL : Scope.NAMESPACE)
                        : Scope.WORKLOAD_SELECTOR);
        List<PolicyConversion.L7Rule> l7Rules = new ArrayList<>();
        // Validate every rule before deciding about the action, so an invalid AUDIT policy is reported too.
        List<ConvertedRule> converted = new ArrayList<>();
        for (int i = 0; i < rules.size(); i++) {
            converted.add(convertRule(map(rules.get(i), "spec.rules[" + i + "]"), "spec.rules[" + i + "]", key.namespace()));
        }
        if (action == null) {
            return new PolicyConversion.NotServed("action " + actionName + " is not enforced by L4 clients (istiod serves it only to waypoints)");
        }
        out.setAction(action);
        for (int i = 0; i < converted.size(); i++) {
            ConvertedRule r = converted.get(i);
            boolean l7 = !r.l7Attributes.isEmpty();
            if (l7 && action == Action.ALLOW) {
                // Fail closed: the rule cannot be checked, so it allows nothing.
                l7Rules.add(new PolicyConversion.L7Rule(i, List.copyOf(r.l7Attributes), action, false));
                continue;
            }
            out.addGroups(Group.newBuilder().addAllRules(r.rules));
            if (l7) {
                l7Rules.add(new PolicyConversion.L7Rule(i, List.copyOf(r.l7Attributes), action, canMatch(r.rules)));
            }
        }
        return new PolicyConversion.Served(out.build(), hasSelector ? selector : null, List.copyOf(l7Rules));
    }

    private record ConvertedRule(List<Rules> rules, TreeSet<String> l7Attributes) {
    }

    private ConvertedRule convertRule(Map<String, Object> rule, String path, String policyNamespace) {
        TreeSet<String> l7 = new TreeSet<>();
        List<Rules> rules = new ArrayList<>();

        List<Match> toMatches = new ArrayList<>();
        List<Object> tos = rule.get("to") == null ? List.of() : list(rule.get("to"), path + ".to");
        for (int j = 0; j < tos.size(); j++) {
            String p = path + ".to[" + j + "]";
            Map<String, Object> to = map(tos.get(j), p);
            Map<String, Object> op = to.get("operation") == null ? Map.of() : map(to.get("operation"), p + ".operation");
            p = p + ".operation";
            for (String f : L7_OPERATION_FIELDS) {
                if (!strings(op.get(f), p + "." + f).isEmpty()) {
                    l7.add(f);
                }
            }
            toMatches.add(Match.newBuilder()
                    .addAllDestinationPorts(ports(strings(op.get("ports"), p + ".ports"), p + ".ports"))
                    .addAllNotDestinationPorts(ports(strings(op.get("notPorts"), p + ".notPorts"), p + ".notPorts"))
                    .build());
        }

        List<Match> fromMatches = new ArrayList<>();
        List<Object> froms = rule.get("from") == null ? List.of() : list(rule.get("from"), path + ".from");
        for (int j = 0; j < froms.size(); j++) {
            String p = path + ".from[" + j + "]";
            Map<String, Object> from = map(froms.get(j), p);
            Map<String, Object> src = from.get("source") == null ? Map.of() : map(from.get("source"), p + ".source");
            p = p + ".source";
            for (String f : L7_SOURCE_FIELDS) {
                List<String> values = strings(src.get(f), p + "." + f);
                if (f.endsWith("emoteIpBlocks")) {
                    addresses(values, p + "." + f); // validated like ipBlocks, though only a waypoint can check them
                }
                if (!values.isEmpty()) {
                    l7.add(f);
                }
            }
            fromMatches.add(Match.newBuilder()
                    .addAllSourceIps(addresses(strings(src.get("ipBlocks"), p + ".ipBlocks"), p + ".ipBlocks"))
                    .addAllNotSourceIps(addresses(strings(src.get("notIpBlocks"), p + ".notIpBlocks"), p + ".notIpBlocks"))
                    .addAllNamespaces(stringMatches(strings(src.get("namespaces"), p + ".namespaces")))
                    .addAllNotNamespaces(stringMatches(strings(src.get("notNamespaces"), p + ".notNamespaces")))
                    .addAllServiceAccounts(serviceAccounts(strings(src.get("serviceAccounts"), p + ".serviceAccounts"), policyNamespace))
                    .addAllNotServiceAccounts(serviceAccounts(strings(src.get("notServiceAccounts"), p + ".notServiceAccounts"), policyNamespace))
                    .addAllPrincipals(stringMatches(strings(src.get("principals"), p + ".principals")))
                    .addAllNotPrincipals(stringMatches(strings(src.get("notPrincipals"), p + ".notPrincipals")))
                    .build());
        }
        if (!toMatches.isEmpty()) {
            rules.add(Rules.newBuilder().addAllMatches(toMatches).build());
        }
        if (!fromMatches.isEmpty()) {
            rules.add(Rules.newBuilder().addAllMatches(fromMatches).build());
        }

        List<Object> whens = rule.get("when") == null ? List.of() : list(rule.get("when"), path + ".when");
        for (int j = 0; j < whens.size(); j++) {
            String p = path + ".when[" + j + "]";
            Map<String, Object> when = map(whens.get(j), p);
            String whenKey = when.get("key") == null ? "" : string(when.get("key"), p + ".key");
            if (whenKey.isEmpty()) {
                throw new InvalidField(p + ".key", "is empty", "name the attribute to test, e.g. source.ip or destination.port");
            }
            List<String> values = strings(when.get("values"), p + ".values");
            List<String> notValues = strings(when.get("notValues"), p + ".notValues");
            if (!L4_WHEN_KEYS.contains(whenKey)) {
                l7.add(whenKey);
            }
            Match.Builder m = Match.newBuilder();
            switch (whenKey) {
                case "source.namespace" -> m.addAllNamespaces(stringMatches(values)).addAllNotNamespaces(stringMatches(notValues));
                case "source.principal" -> m.addAllPrincipals(stringMatches(values)).addAllNotPrincipals(stringMatches(notValues));
                case "source.ip" -> m.addAllSourceIps(addresses(values, p + ".values"))
                        .addAllNotSourceIps(addresses(notValues, p + ".notValues"));
                case "destination.ip" -> m.addAllDestinationIps(addresses(values, p + ".values"))
                        .addAllNotDestinationIps(addresses(notValues, p + ".notValues"));
                case "destination.port" -> m.addAllDestinationPorts(ports(values, p + ".values"))
                        .addAllNotDestinationPorts(ports(notValues, p + ".notValues"));
                default -> {
                }
            }
            // An HTTP condition leaves an empty match here, as istiod emits it.
            rules.add(Rules.newBuilder().addMatches(m).build());
        }
        return new ConvertedRule(rules, l7);
    }

    /** Whether a group can match under ztunnel's rules: every clause needs a non-empty match (or no matches). */
    private static boolean canMatch(List<Rules> clauses) {
        for (Rules clause : clauses) {
            if (clause.getMatchesCount() == 0) {
                continue;
            }
            boolean any = false;
            for (Match m : clause.getMatchesList()) {
                if (!m.equals(Match.getDefaultInstance())) {
                    any = true;
                    break;
                }
            }
            if (!any) {
                return false;
            }
        }
        return true;
    }

    /** istiod's pattern conversion: "*" any non-empty value, "*x" suffix, "x*" prefix, else exact. */
    static List<StringMatch> stringMatches(List<String> values) {
        List<StringMatch> out = new ArrayList<>(values.size());
        for (String v : values) {
            StringMatch.Builder b = StringMatch.newBuilder();
            if (v.equals("*")) {
                b.setPresence(Empty.getDefaultInstance());
            } else if (v.startsWith("*")) {
                b.setSuffix(v.substring(1));
            } else if (v.endsWith("*")) {
                b.setPrefix(v.substring(0, v.length() - 1));
            } else {
                b.setExact(v);
            }
            out.add(b.build());
        }
        return out;
    }

    private static List<ServiceAccountMatch> serviceAccounts(List<String> values, String policyNamespace) {
        List<ServiceAccountMatch> out = new ArrayList<>(values.size());
        for (String v : values) {
            int slash = v.indexOf('/');
            out.add(slash >= 0
                    ? ServiceAccountMatch.newBuilder().setNamespace(v.substring(0, slash)).setServiceAccount(v.substring(slash + 1)).build()
                    : ServiceAccountMatch.newBuilder().setNamespace(policyNamespace).setServiceAccount(v).build());
        }
        return out;
    }

    private static List<Address> addresses(List<String> values, String field) {
        List<Address> out = new ArrayList<>(values.size());
        for (int i = 0; i < values.size(); i++) {
            String v = values.get(i);
            IpAddresses.Cidr cidr = IpAddresses.parseCidr(v);
            if (cidr == null) {
                throw new InvalidField(field + "[" + i + "]", "'" + v + "' is not an IP address or CIDR",
                        "write an address such as 10.1.2.3 or a CIDR such as 10.1.0.0/16 or fd00::/8");
            }
            out.add(Address.newBuilder().setAddress(ByteString.copyFrom(cidr.address())).setLength(cidr.length()).build());
        }
        return out;
    }

    private static List<Integer> ports(List<String> values, String field) {
        List<Integer> out = new ArrayList<>(values.size());
        for (int i = 0; i < values.size(); i++) {
            String v = values.get(i);
            int port = -1;
            if (!v.isEmpty() && v.length() <= 5 && v.chars().allMatch(c -> c >= '0' && c <= '9')) {
                port = Integer.parseInt(v);
            }
            if (port < 1 || port > 65535) {
                throw new InvalidField(field + "[" + i + "]", "'" + v + "' is not a port number",
                        "write a port between 1 and 65535 as a quoted string, e.g. \"8080\"");
            }
            out.add(port);
        }
        return out;
    }

    /** Go's strconv.ParseBool, which istiod uses for the dry-run annotation; anything else reads as false. */
    private static boolean parseGoBool(String v) {
        return switch (v) {
            case "1", "t", "T", "true", "TRUE", "True" -> true;
            default -> false;
        };
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o, String field) {
        if (o instanceof Map<?, ?> m) {
            return (Map<String, Object>) m;
        }
        throw new InvalidField(field, "is " + describe(o) + ", not an object", "write " + field + " as a YAML mapping");
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object o, String field) {
        if (o instanceof List<?> l) {
            return (List<Object>) l;
        }
        throw new InvalidField(field, "is " + describe(o) + ", not a list", "write " + field + " as a YAML list");
    }

    private static String string(Object o, String field) {
        if (o instanceof String s) {
            return s;
        }
        throw new InvalidField(field, "is " + describe(o) + ", not a string", "quote the value of " + field);
    }

    private static List<String> strings(Object o, String field) {
        if (o == null) {
            return List.of();
        }
        List<Object> raw = list(o, field);
        List<String> out = new ArrayList<>(raw.size());
        for (int i = 0; i < raw.size(); i++) {
            out.add(string(raw.get(i), field + "[" + i + "]"));
        }
        return out;
    }

    private static Map<String, String> stringMap(Object o, String field) {
        Map<String, Object> raw = map(o, field);
        Map<String, String> out = new LinkedHashMap<>();
        raw.forEach((k, v) -> out.put(k, string(v, field + "." + k)));
        return Map.copyOf(out);
    }

    private static String describe(Object o) {
        return o == null ? "null" : o instanceof Map ? "an object" : o instanceof List ? "a list"
                : "'" + o + "' (" + o.getClass().getSimpleName().toLowerCase() + ")";
    }

    /** A policy field that cannot be converted. */
    private static final class InvalidField extends RuntimeException {
        final String field;
        final String problem;
        final String fix;

        InvalidField(String field, String problem, String fix) {
            super(field + " " + problem, null, false, false);
            this.field = field;
            this.problem = problem;
            this.fix = fix;
        }
    }
}
