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
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import java.util.function.Supplier;

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
 *
 * <p>A policy with a value that cannot be read is {@link PolicyConversion.Invalid}; it carries the stand-in to
 * serve while no version of the policy has been valid (see {@link #standIn}).
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
            return new PolicyConversion.Invalid(e.field, e.problem, e.fix, standIn(policy));
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

        Reader strict = new Reader(false);
        WorkloadSelection selection = selection(spec, strict);

        Object actionObj = spec.get("action");
        String actionName = actionObj == null ? "ALLOW" : string(actionObj, "spec.action");
        Action action = switch (actionName) {
            case "", "ALLOW" -> Action.ALLOW;
            case "DENY" -> Action.DENY;
            case "AUDIT", "CUSTOM" -> null;
            default -> throw new InvalidField("spec.action", "'" + actionName + "' is not an action",
                    "use ALLOW, DENY, AUDIT or CUSTOM");
        };

        // Validate every rule before deciding about the action, so an invalid AUDIT policy is reported too.
        List<ConvertedRule> converted = rules(spec, key.namespace(), strict);
        if (action == null) {
            return new PolicyConversion.NotServed("action " + actionName + " is not enforced by L4 clients (istiod serves it only to waypoints)");
        }
        Authorization.Builder out = authorization(key, selection).setAction(action);
        List<PolicyConversion.L7Rule> l7Rules = addGroups(out, action, converted);
        return new PolicyConversion.Served(out.build(), selection.listedBy(), l7Rules);
    }

    /**
     * What to serve for an invalid policy that has never been valid. Whatever an unreadable condition or selector
     * meant, the result does not let through a connection the written policy would have stopped (an unreadable
     * action is the one guess: it is read as ALLOW, see the package documentation):
     * <ul>
     *   <li>ALLOW, or an action that cannot be read: an ALLOW without rules, which matches nothing, so the workloads
     *       it applies to accept only what their other ALLOW policies allow (ztunnel denies a connection when ALLOW
     *       policies apply and none matches).</li>
     *   <li>DENY: the rules as far as they can be read, each unreadable condition read as matching every connection,
     *       so the rule denies at least what was written. istiod treats what ztunnel cannot check the same way
     *       (a DENY rule with HTTP attributes is served without them), and so does its CUSTOM fallback (a CUSTOM
     *       policy whose provider cannot be used becomes a deny of its rules).</li>
     *   <li>AUDIT, CUSTOM: nothing, as for a valid one; L4 clients do not enforce them.</li>
     * </ul>
     * The selector is read the same way: a label that cannot be read is left out, and a selector that cannot be
     * read at all selects every workload of the namespace (of the mesh in the root namespace), so it applies to
     * at least the workloads it was written for.
     */
    private PolicyConversion.StandIn standIn(GenericKubernetesResource policy) {
        ObjectKey key = ObjectKey.of(policy);
        Reader lenient = new Reader(true);
        Object specObj = policy.getAdditionalProperties().get("spec");
        Map<String, Object> spec = specObj == null ? Map.of() : lenient.read(() -> map(specObj, "spec"));
        // An unreadable spec hides both the selector and the action: every workload it may apply to, as ALLOW.
        WorkloadSelection selection = spec == null ? new WorkloadSelection(true, Map.of()) : selection(spec, lenient);
        Object actionObj = spec == null ? null : spec.get("action");
        String actionName = spec == null ? null : actionObj == null ? "ALLOW" : actionObj instanceof String s ? s : null;
        if ("AUDIT".equals(actionName) || "CUSTOM".equals(actionName)) {
            return new PolicyConversion.StandIn(null, PolicyConversion.Outcome.SKIPPED,
                    "nothing, as for a valid version: L4 clients do not enforce action " + actionName);
        }
        Action action = "DENY".equals(actionName) ? Action.DENY : Action.ALLOW;
        boolean actionUnreadable = action == Action.ALLOW && !"ALLOW".equals(actionName) && !"".equals(actionName);

        Authorization.Builder out = authorization(key, selection).setAction(action);
        List<PolicyConversion.L7Rule> l7Rules = List.of();
        if (action == Action.DENY) {
            l7Rules = addGroups(out, action, rules(spec, key.namespace(), lenient));
        }
        PolicyConversion.Served served = new PolicyConversion.Served(out.build(), selection.listedBy(), l7Rules);

        StringBuilder d = new StringBuilder();
        if (action == Action.ALLOW) {
            d.append("allow-nothing: an ALLOW policy without rules for ").append(target(key, selection))
                    .append(", which accept only what their other ALLOW policies allow");
        } else {
            d.append("a DENY of its readable part for ").append(target(key, selection));
        }
        if (actionUnreadable) {
            d.append("; its action cannot be read and is taken as ALLOW");
        }
        if (!lenient.unreadable.isEmpty()) {
            d.append("; read as matching everything, so it ").append(action == Action.DENY ? "denies" : "applies to")
                    .append(" more than written: ").append(String.join(", ", lenient.unreadable));
        }
        PolicyConversion.Outcome outcome = action == Action.ALLOW
                ? PolicyConversion.Outcome.ALLOW_NOTHING : PolicyConversion.Outcome.DENY_WIDENED;
        return new PolicyConversion.StandIn(served, outcome, d.toString());
    }

    /** The workloads a policy applies to, in words. */
    private String target(ObjectKey key, WorkloadSelection selection) {
        boolean root = rootNamespace.equals(key.namespace());
        if (selection.present() && selection.labels() == null) {
            return "no workload (its selector has no matchLabels)";
        }
        if (!selection.present() || selection.labels().isEmpty()) {
            return root ? "every workload of the mesh" : "every workload of namespace " + key.namespace();
        }
        StringBuilder labels = new StringBuilder();
        new TreeMap<>(selection.labels()).forEach((k, v) -> labels.append(labels.isEmpty() ? "" : ",").append(k).append('=').append(v));
        return "the workloads labelled " + labels + (root ? " anywhere in the mesh" : " in namespace " + key.namespace());
    }

    private Authorization.Builder authorization(ObjectKey key, WorkloadSelection selection) {
        Scope scope = selection.present() ? Scope.WORKLOAD_SELECTOR
                : rootNamespace.equals(key.namespace()) ? Scope.GLOBAL : Scope.NAMESPACE;
        return Authorization.newBuilder().setName(key.name()).setNamespace(key.namespace()).setScope(scope);
    }

    /** One Group per rule; an ALLOW rule with HTTP attributes is left out (it allows nothing). */
    private static List<PolicyConversion.L7Rule> addGroups(Authorization.Builder out, Action action, List<ConvertedRule> converted) {
        List<PolicyConversion.L7Rule> l7Rules = new ArrayList<>();
        for (int i = 0; i < converted.size(); i++) {
            ConvertedRule r = converted.get(i);
            boolean l7 = !r.l7Attributes.isEmpty();
            if (l7 && action == Action.ALLOW) {
                // Fail closed: the rule cannot be checked, so it allows nothing.
                l7Rules.add(new PolicyConversion.L7Rule(i, r.l7Attributes, action, false));
                continue;
            }
            out.addGroups(Group.newBuilder().addAllRules(r.rules));
            if (l7) {
                l7Rules.add(new PolicyConversion.L7Rule(i, r.l7Attributes, action, canMatch(r.rules)));
            }
        }
        return List.copyOf(l7Rules);
    }

    /**
     * Whether the policy has a selector, and its matchLabels (null when the selector has none).
     */
    private record WorkloadSelection(boolean present, Map<String, String> labels) {
        /** The labels of the workloads that list the policy; null when none lists it by label. */
        Map<String, String> listedBy() {
            return present ? labels : null;
        }
    }

    private static WorkloadSelection selection(Map<String, Object> spec, Reader reader) {
        Object selectorObj = spec.get("selector");
        if (selectorObj == null) {
            return new WorkloadSelection(false, null);
        }
        Map<String, Object> selector = reader.read(() -> map(selectorObj, "spec.selector"));
        if (selector == null) {
            return new WorkloadSelection(true, Map.of());
        }
        Object matchLabels = selector.get("matchLabels");
        if (matchLabels == null) {
            return new WorkloadSelection(true, null);
        }
        Map<String, Object> raw = reader.read(() -> map(matchLabels, "spec.selector.matchLabels"));
        if (raw == null) {
            return new WorkloadSelection(true, Map.of());
        }
        Map<String, String> labels = new LinkedHashMap<>();
        raw.forEach((k, v) -> {
            // Leaving an unreadable label out selects more workloads, never fewer.
            String value = reader.read(() -> string(v, "spec.selector.matchLabels." + k));
            if (value != null) {
                labels.put(k, value);
            }
        });
        return new WorkloadSelection(true, Map.copyOf(labels));
    }

    /** The rules of spec.rules, in order; each unreadable one (lenient reading) matches every connection. */
    private static List<ConvertedRule> rules(Map<String, Object> spec, String policyNamespace, Reader reader) {
        List<Object> rules = reader.read(() -> spec.get("rules") == null ? List.of() : list(spec.get("rules"), "spec.rules"));
        if (rules == null) {
            return List.of(ConvertedRule.MATCHES_ALL);
        }
        List<ConvertedRule> out = new ArrayList<>(rules.size());
        for (int i = 0; i < rules.size(); i++) {
            String path = "spec.rules[" + i + "]";
            Object ruleObj = rules.get(i);
            Map<String, Object> rule = reader.read(() -> map(ruleObj, path));
            out.add(rule == null ? ConvertedRule.MATCHES_ALL : convertRule(rule, path, policyNamespace, reader));
        }
        return out;
    }

    /**
     * The clauses of one rule (AND) and the HTTP attributes it named, sorted. A rule without clauses matches every
     * connection.
     */
    private record ConvertedRule(List<Rules> rules, List<String> l7Attributes) {
        static final ConvertedRule MATCHES_ALL = new ConvertedRule(List.of(), List.of());
    }

    private static ConvertedRule convertRule(Map<String, Object> rule, String path, String policyNamespace, Reader reader) {
        TreeSet<String> l7 = new TreeSet<>();
        List<Rules> rules = new ArrayList<>();

        // A clause is an OR of entries: one entry that matches every connection makes the whole clause match.
        List<Match> toMatches = new ArrayList<>();
        boolean toMatchesAll = false;
        List<Object> tos = reader.read(() -> rule.get("to") == null ? List.of() : list(rule.get("to"), path + ".to"));
        if (tos == null) {
            toMatchesAll = true;
        } else {
            for (int j = 0; j < tos.size(); j++) {
                String p = path + ".to[" + j + "].operation";
                Object toObj = tos.get(j);
                String entryPath = path + ".to[" + j + "]";
                Map<String, Object> op = reader.read(() -> {
                    Map<String, Object> to = map(toObj, entryPath);
                    return to.get("operation") == null ? Map.of() : map(to.get("operation"), p);
                });
                if (op == null) {
                    toMatchesAll = true;
                    continue;
                }
                for (String f : L7_OPERATION_FIELDS) {
                    List<String> values = reader.read(() -> strings(op.get(f), p + "." + f));
                    if (values == null || !values.isEmpty()) {
                        l7.add(f);
                    }
                }
                MatchReader m = new MatchReader(reader);
                m.add(() -> ports(strings(op.get("ports"), p + ".ports"), p + ".ports"), Match.Builder::addAllDestinationPorts);
                m.add(() -> ports(strings(op.get("notPorts"), p + ".notPorts"), p + ".notPorts"), Match.Builder::addAllNotDestinationPorts);
                Match built = m.build();
                if (built == null) {
                    toMatchesAll = true;
                } else {
                    toMatches.add(built);
                }
            }
        }

        List<Match> fromMatches = new ArrayList<>();
        boolean fromMatchesAll = false;
        List<Object> froms = reader.read(() -> rule.get("from") == null ? List.of() : list(rule.get("from"), path + ".from"));
        if (froms == null) {
            fromMatchesAll = true;
        } else {
            for (int j = 0; j < froms.size(); j++) {
                String p = path + ".from[" + j + "].source";
                Object fromObj = froms.get(j);
                String entryPath = path + ".from[" + j + "]";
                Map<String, Object> src = reader.read(() -> {
                    Map<String, Object> from = map(fromObj, entryPath);
                    return from.get("source") == null ? Map.of() : map(from.get("source"), p);
                });
                if (src == null) {
                    fromMatchesAll = true;
                    continue;
                }
                for (String f : L7_SOURCE_FIELDS) {
                    List<String> values = reader.read(() -> {
                        List<String> v = strings(src.get(f), p + "." + f);
                        if (f.endsWith("emoteIpBlocks")) {
                            addresses(v, p + "." + f); // validated like ipBlocks, though only a waypoint can check them
                        }
                        return v;
                    });
                    if (values == null || !values.isEmpty()) {
                        l7.add(f);
                    }
                }
                MatchReader m = new MatchReader(reader);
                m.add(() -> addresses(strings(src.get("ipBlocks"), p + ".ipBlocks"), p + ".ipBlocks"), Match.Builder::addAllSourceIps);
                m.add(() -> addresses(strings(src.get("notIpBlocks"), p + ".notIpBlocks"), p + ".notIpBlocks"), Match.Builder::addAllNotSourceIps);
                m.add(() -> stringMatches(strings(src.get("namespaces"), p + ".namespaces")), Match.Builder::addAllNamespaces);
                m.add(() -> stringMatches(strings(src.get("notNamespaces"), p + ".notNamespaces")), Match.Builder::addAllNotNamespaces);
                m.add(() -> serviceAccounts(strings(src.get("serviceAccounts"), p + ".serviceAccounts"), policyNamespace),
                        Match.Builder::addAllServiceAccounts);
                m.add(() -> serviceAccounts(strings(src.get("notServiceAccounts"), p + ".notServiceAccounts"), policyNamespace),
                        Match.Builder::addAllNotServiceAccounts);
                m.add(() -> stringMatches(strings(src.get("principals"), p + ".principals")), Match.Builder::addAllPrincipals);
                m.add(() -> stringMatches(strings(src.get("notPrincipals"), p + ".notPrincipals")), Match.Builder::addAllNotPrincipals);
                Match built = m.build();
                if (built == null) {
                    fromMatchesAll = true;
                } else {
                    fromMatches.add(built);
                }
            }
        }
        if (!toMatchesAll && !toMatches.isEmpty()) {
            rules.add(Rules.newBuilder().addAllMatches(toMatches).build());
        }
        if (!fromMatchesAll && !fromMatches.isEmpty()) {
            rules.add(Rules.newBuilder().addAllMatches(fromMatches).build());
        }

        List<Object> whens = reader.read(() -> rule.get("when") == null ? List.of() : list(rule.get("when"), path + ".when"));
        for (int j = 0; whens != null && j < whens.size(); j++) {
            String p = path + ".when[" + j + "]";
            Object whenObj = whens.get(j);
            Map<String, Object> when = reader.read(() -> map(whenObj, p));
            String whenKey = when == null ? null : reader.read(() -> {
                String k = when.get("key") == null ? "" : string(when.get("key"), p + ".key");
                if (k.isEmpty()) {
                    throw new InvalidField(p + ".key", "is empty", "name the attribute to test, e.g. source.ip or destination.port");
                }
                return k;
            });
            if (whenKey == null) {
                continue; // an unreadable condition matches every connection: no clause
            }
            Supplier<List<String>> values = () -> strings(when.get("values"), p + ".values");
            Supplier<List<String>> notValues = () -> strings(when.get("notValues"), p + ".notValues");
            MatchReader m = new MatchReader(reader);
            switch (whenKey) {
                case "source.namespace" -> {
                    m.add(() -> stringMatches(values.get()), Match.Builder::addAllNamespaces);
                    m.add(() -> stringMatches(notValues.get()), Match.Builder::addAllNotNamespaces);
                }
                case "source.principal" -> {
                    m.add(() -> stringMatches(values.get()), Match.Builder::addAllPrincipals);
                    m.add(() -> stringMatches(notValues.get()), Match.Builder::addAllNotPrincipals);
                }
                case "source.ip" -> {
                    m.add(() -> addresses(values.get(), p + ".values"), Match.Builder::addAllSourceIps);
                    m.add(() -> addresses(notValues.get(), p + ".notValues"), Match.Builder::addAllNotSourceIps);
                }
                case "destination.ip" -> {
                    m.add(() -> addresses(values.get(), p + ".values"), Match.Builder::addAllDestinationIps);
                    m.add(() -> addresses(notValues.get(), p + ".notValues"), Match.Builder::addAllNotDestinationIps);
                }
                case "destination.port" -> {
                    m.add(() -> ports(values.get(), p + ".values"), Match.Builder::addAllDestinationPorts);
                    m.add(() -> ports(notValues.get(), p + ".notValues"), Match.Builder::addAllNotDestinationPorts);
                }
                default -> {
                    // Validated though only a waypoint can check them.
                    reader.read(values);
                    reader.read(notValues);
                    l7.add(whenKey);
                }
            }
            Match built = m.build();
            if (built != null) {
                // An HTTP condition leaves an empty match here, as istiod emits it.
                rules.add(Rules.newBuilder().addMatches(built).build());
            }
        }
        return new ConvertedRule(List.copyOf(rules), List.copyOf(l7));
    }

    /**
     * Reads policy values. Strict (the conversion), an unreadable value throws {@link InvalidField}; lenient (the
     * stand-in of a never-valid policy), it reads as null, meaning "matches everything", and its field is noted.
     */
    private static final class Reader {
        private final boolean lenient;
        private final List<String> unreadable = new ArrayList<>();

        Reader(boolean lenient) {
            this.lenient = lenient;
        }

        <T> T read(Supplier<T> value) {
            try {
                return value.get();
            } catch (InvalidField e) {
                if (!lenient) {
                    throw e;
                }
                unreadable.add(e.field);
                return null;
            }
        }
    }

    /** One Match being read: a condition the reader cannot read is left out, which widens the Match. */
    private static final class MatchReader {
        private final Reader reader;
        private final Match.Builder match = Match.newBuilder();
        private boolean widened;

        MatchReader(Reader reader) {
            this.reader = reader;
        }

        <T> void add(Supplier<List<T>> read, BiConsumer<Match.Builder, List<T>> into) {
            List<T> values = reader.read(read);
            if (values == null) {
                widened = true;
            } else {
                into.accept(match, values);
            }
        }

        /**
         * The Match, or null when left-out conditions left it empty: it then matches every connection. It cannot
         * be sent so, because ztunnel skips an empty Match (it matches nothing).
         */
        Match build() {
            Match m = match.build();
            return widened && m.equals(Match.getDefaultInstance()) ? null : m;
        }
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
