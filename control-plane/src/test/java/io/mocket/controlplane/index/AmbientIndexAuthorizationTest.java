package io.mocket.controlplane.index;

import static io.mocket.controlplane.index.IndexFixture.policy;
import static io.mocket.controlplane.kube.KubeKind.AUTHORIZATION_POLICY;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.Empty;
import io.mocket.api.istio.security.Action;
import io.mocket.api.istio.security.Address;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.security.Group;
import io.mocket.api.istio.security.Match;
import io.mocket.api.istio.security.Rules;
import io.mocket.api.istio.security.Scope;
import io.mocket.api.istio.security.ServiceAccountMatch;
import io.mocket.api.istio.security.StringMatch;
import java.net.InetAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AmbientIndexAuthorizationTest {
    private final IndexFixture f = new IndexFixture();

    @AfterEach
    void close() {
        f.close();
    }

    private static StringMatch exact(String s) {
        return StringMatch.newBuilder().setExact(s).build();
    }

    private static Address cidr(String ip, int len) {
        return Address.newBuilder().setAddress(ByteString.copyFrom(InetAddress.ofLiteral(ip).getAddress())).setLength(len).build();
    }

    private static Group group(Rules... rules) {
        return Group.newBuilder().addAllRules(java.util.List.of(rules)).build();
    }

    private static Rules rules(Match... matches) {
        return Rules.newBuilder().addAllMatches(java.util.List.of(matches)).build();
    }

    @Test
    void scopesFollowSelectorAndRootNamespace() {
        f.apply(AUTHORIZATION_POLICY,
                policy("istio-system", "global", "rules: [{}]"),
                policy("istio-system", "root-selector", "selector: {matchLabels: {app: web}}\nrules: [{}]"),
                policy("shop", "ns", "rules: [{}]"),
                policy("shop", "sel", "selector: {matchLabels: {app: web}}\nrules: [{}]"));
        assertThat(f.authorization("istio-system", "global").getScope()).isEqualTo(Scope.GLOBAL);
        assertThat(f.authorization("istio-system", "root-selector").getScope()).isEqualTo(Scope.WORKLOAD_SELECTOR);
        assertThat(f.authorization("shop", "ns").getScope()).isEqualTo(Scope.NAMESPACE);
        Authorization sel = f.authorization("shop", "sel");
        assertThat(sel.getScope()).isEqualTo(Scope.WORKLOAD_SELECTOR);
        assertThat(sel.getName()).isEqualTo("sel");
        assertThat(sel.getNamespace()).isEqualTo("shop");
    }

    @Test
    void actionsAllowDenyServedAuditCustomNot() {
        f.apply(AUTHORIZATION_POLICY,
                policy("shop", "default-allow", "rules: [{}]"),
                policy("shop", "allow", "action: ALLOW\nrules: [{}]"),
                policy("shop", "deny", "action: DENY\nrules: [{}]"),
                policy("shop", "audit", "action: AUDIT\nrules: [{}]"),
                policy("shop", "custom", "action: CUSTOM\nprovider: {name: ext}\nrules: [{}]"));
        assertThat(f.authorization("shop", "default-allow").getAction()).isEqualTo(Action.ALLOW);
        assertThat(f.authorization("shop", "allow").getAction()).isEqualTo(Action.ALLOW);
        assertThat(f.authorization("shop", "deny").getAction()).isEqualTo(Action.DENY);
        assertThat(f.hasAuthorization("shop", "audit")).isFalse();
        assertThat(f.hasAuthorization("shop", "custom")).isFalse();
        assertThat(f.index.describe().unservedPolicies()).containsOnlyKeys("shop/audit", "shop/custom");
        assertThat(f.counter("mocket.authorization.invalid")).isZero();
    }

    @Test
    void emptySpecAllowsNothingAndEmptyRuleAllowsEverything() {
        f.apply(AUTHORIZATION_POLICY,
                policy("shop", "allow-nothing", "{}"),
                policy("shop", "no-rules", "action: ALLOW"),
                policy("shop", "allow-all", "rules: [{}]"));
        // No group: ztunnel matches nothing, so an ALLOW policy allows nothing.
        assertThat(f.authorization("shop", "allow-nothing").getGroupsList()).isEmpty();
        assertThat(f.authorization("shop", "no-rules").getGroupsList()).isEmpty();
        // One group without clauses: matches every connection.
        assertThat(f.authorization("shop", "allow-all").getGroupsList()).containsExactly(Group.getDefaultInstance());
    }

    @Test
    void everySourceFieldAndItsNotForm() {
        f.apply(AUTHORIZATION_POLICY, policy("shop", "p", """
                rules:
                - from:
                  - source:
                      namespaces: [front, "team-*", "*-prod", "*"]
                      notNamespaces: [kube-system]
                      principals: [cluster.local/ns/front/sa/web, "cluster.local/ns/front/*"]
                      notPrincipals: ["*/sa/evil"]
                      serviceAccounts: [front/web, api]
                      notServiceAccounts: [front/evil]
                      ipBlocks: [10.0.0.0/8, 192.168.1.7, "fd00::/16"]
                      notIpBlocks: [10.9.0.0/16]
                  - source:
                      namespaces: [other]
                """));
        Match first = Match.newBuilder()
                .addSourceIps(cidr("10.0.0.0", 8)).addSourceIps(cidr("192.168.1.7", 32)).addSourceIps(cidr("fd00::", 16))
                .addNotSourceIps(cidr("10.9.0.0", 16))
                .addNamespaces(exact("front")).addNamespaces(StringMatch.newBuilder().setPrefix("team-"))
                .addNamespaces(StringMatch.newBuilder().setSuffix("-prod")).addNamespaces(StringMatch.newBuilder().setPresence(Empty.getDefaultInstance()))
                .addNotNamespaces(exact("kube-system"))
                .addServiceAccounts(ServiceAccountMatch.newBuilder().setNamespace("front").setServiceAccount("web"))
                .addServiceAccounts(ServiceAccountMatch.newBuilder().setNamespace("shop").setServiceAccount("api"))
                .addNotServiceAccounts(ServiceAccountMatch.newBuilder().setNamespace("front").setServiceAccount("evil"))
                .addPrincipals(exact("cluster.local/ns/front/sa/web")).addPrincipals(StringMatch.newBuilder().setPrefix("cluster.local/ns/front/"))
                .addNotPrincipals(StringMatch.newBuilder().setSuffix("/sa/evil"))
                .build();
        Match second = Match.newBuilder().addNamespaces(exact("other")).build();
        assertThat(f.authorization("shop", "p").getGroupsList()).containsExactly(group(rules(first, second)));
    }

    @Test
    void toPortsAndWhenConditionsAreSeparateClauses() {
        f.apply(AUTHORIZATION_POLICY, policy("shop", "p", """
                action: DENY
                rules:
                - to:
                  - operation: {ports: ["8080", "9090"], notPorts: ["9091"]}
                  from:
                  - source: {namespaces: [front]}
                  when:
                  - {key: source.ip, values: [10.1.0.0/16], notValues: [10.1.2.3]}
                  - {key: destination.port, values: ["8080"], notValues: ["22"]}
                  - {key: source.namespace, values: [front], notValues: [kube-system]}
                  - {key: source.principal, values: ["*"], notValues: [cluster.local/ns/x/sa/y]}
                  - {key: destination.ip, values: [10.96.0.0/12], notValues: [10.96.0.1]}
                """));
        Authorization a = f.authorization("shop", "p");
        assertThat(a.getGroupsList()).containsExactly(group(
                rules(Match.newBuilder().addDestinationPorts(8080).addDestinationPorts(9090).addNotDestinationPorts(9091).build()),
                rules(Match.newBuilder().addNamespaces(exact("front")).build()),
                rules(Match.newBuilder().addSourceIps(cidr("10.1.0.0", 16)).addNotSourceIps(cidr("10.1.2.3", 32)).build()),
                rules(Match.newBuilder().addDestinationPorts(8080).addNotDestinationPorts(22).build()),
                rules(Match.newBuilder().addNamespaces(exact("front")).addNotNamespaces(exact("kube-system")).build()),
                rules(Match.newBuilder().addPrincipals(StringMatch.newBuilder().setPresence(Empty.getDefaultInstance()))
                        .addNotPrincipals(exact("cluster.local/ns/x/sa/y")).build()),
                rules(Match.newBuilder().addDestinationIps(cidr("10.96.0.0", 12)).addNotDestinationIps(cidr("10.96.0.1", 32)).build())));
        assertThat(f.counter("mocket.authorization.l7.failclosed", "action", "deny")).isZero();
    }

    @Test
    void allowRuleWithHttpAttributesMatchesNothingAndIsCounted() {
        f.apply(AUTHORIZATION_POLICY, policy("shop", "p", """
                rules:
                - from: [{source: {namespaces: [front]}}]
                  to: [{operation: {methods: [GET], ports: ["8080"]}}]
                - from: [{source: {namespaces: [ops]}}]
                - when: [{key: "request.headers[x-user]", values: [admin]}]
                - from: [{source: {requestPrincipals: ["*"]}}]
                - from: [{source: {remoteIpBlocks: [1.2.3.4]}}]
                """));
        // Only the L4 rule is left; the others allow nothing.
        assertThat(f.authorization("shop", "p").getGroupsList())
                .containsExactly(group(rules(Match.newBuilder().addNamespaces(exact("ops")).build())));
        assertThat(f.counter("mocket.authorization.l7.failclosed", "action", "allow")).isEqualTo(4);
    }

    @Test
    void everyHttpAttributeAndItsNotFormIsRecognised() {
        f.apply(AUTHORIZATION_POLICY, policy("shop", "p", """
                rules:
                - to: [{operation: {hosts: [a.example]}}]
                - to: [{operation: {notHosts: [a.example]}}]
                - to: [{operation: {notMethods: [DELETE]}}]
                - to: [{operation: {notPaths: [/x]}}]
                - from: [{source: {notRequestPrincipals: [x/y]}}]
                - from: [{source: {notRemoteIpBlocks: [10.0.0.0/8]}}]
                - when: [{key: remote.ip, values: [10.0.0.1]}]
                - when: [{key: connection.sni, values: [a.example]}]
                """));
        assertThat(f.authorization("shop", "p").getGroupsList()).isEmpty();
        assertThat(f.counter("mocket.authorization.l7.failclosed", "action", "allow")).isEqualTo(8);
    }

    @Test
    void allowPolicyWithOnlyHttpRulesAllowsNothing() {
        f.apply(AUTHORIZATION_POLICY, policy("shop", "p", "rules: [{to: [{operation: {paths: [/admin]}}]}]"));
        assertThat(f.authorization("shop", "p").getGroupsList()).isEmpty();
        assertThat(f.counter("mocket.authorization.l7.failclosed", "action", "allow")).isEqualTo(1);
    }

    @Test
    void denyRuleWithHttpAttributesDeniesOnItsL4Part() {
        f.apply(AUTHORIZATION_POLICY, policy("shop", "p", """
                action: DENY
                rules:
                - to: [{operation: {methods: [POST], ports: ["8080"]}}]
                  from: [{source: {namespaces: [front], requestPrincipals: ["*"]}}]
                """));
        assertThat(f.authorization("shop", "p").getGroupsList()).containsExactly(group(
                rules(Match.newBuilder().addDestinationPorts(8080).build()),
                rules(Match.newBuilder().addNamespaces(exact("front")).build())));
        assertThat(f.counter("mocket.authorization.l7.failclosed", "action", "deny")).isEqualTo(1);
    }

    @Test
    void denyRuleWhoseOnlyClauseIsHttpKeepsAnEmptyMatchAsIstiodDoes() {
        f.apply(AUTHORIZATION_POLICY, policy("shop", "p", """
                action: DENY
                rules:
                - from: [{source: {namespaces: [front]}}]
                  when: [{key: "request.auth.claims[iss]", values: [bad]}]
                """));
        // ztunnel skips empty matches, so this rule denies nothing; istiod serves exactly this.
        assertThat(f.authorization("shop", "p").getGroupsList()).containsExactly(group(
                rules(Match.newBuilder().addNamespaces(exact("front")).build()),
                rules(Match.getDefaultInstance())));
        assertThat(f.counter("mocket.authorization.l7.failclosed", "action", "deny")).isEqualTo(1);
    }

    @Test
    void neverValidPolicyIsServedFailClosedCountedAndReplacedOnceFixed() {
        f.apply(AUTHORIZATION_POLICY,
                policy("shop", "good", "rules: [{from: [{source: {namespaces: [front]}}]}]"),
                policy("shop", "bad-cidr", "rules: [{from: [{source: {ipBlocks: [10.0.0.0/33]}}]}]"));
        assertThat(f.hasAuthorization("shop", "good")).isTrue();
        // Never valid and ALLOW: served as allow-nothing, not skipped (skipping would leave the namespace allow-all).
        assertThat(f.authorization("shop", "bad-cidr").getAction()).isEqualTo(Action.ALLOW);
        assertThat(f.authorization("shop", "bad-cidr").getGroupsList()).isEmpty();
        assertThat(f.counter("mocket.authorization.invalid")).isEqualTo(1);
        assertThat(f.counter("mocket.authorization.invalid", "outcome", "allow_nothing")).isEqualTo(1);
        assertThat(f.index.describe().invalidPolicies().get("shop/bad-cidr").reason())
                .contains("spec.rules[0].from[0].source.ipBlocks[0]").contains("10.0.0.0/33").contains("fix");

        f.apply(AUTHORIZATION_POLICY, policy("shop", "bad-cidr", "rules: [{from: [{source: {ipBlocks: [10.0.0.0/16]}}]}]"));
        assertThat(f.authorization("shop", "bad-cidr").getGroupsList()).containsExactly(
                group(rules(Match.newBuilder().addSourceIps(cidr("10.0.0.0", 16)).build())));
        assertThat(f.index.describe().invalidPolicies()).isEmpty();
    }

    @Test
    void servedPolicyThatBecomesInvalidKeepsServingItsLastGoodVersion() {
        f.apply(AUTHORIZATION_POLICY, policy("shop", "p", "rules: [{to: [{operation: {ports: [\"80\"]}}]}]"));
        Authorization good = f.authorization("shop", "p");
        f.apply(AUTHORIZATION_POLICY, policy("shop", "p", "rules: [{to: [{operation: {ports: [\"http\"]}}]}]"));
        assertThat(f.authorization("shop", "p")).isEqualTo(good);
        assertThat(f.counter("mocket.authorization.invalid", "outcome", "kept_last_good")).isEqualTo(1);
    }

    @Test
    void otherInvalidForms() {
        f.apply(AUTHORIZATION_POLICY,
                policy("shop", "action", "action: PERMIT\nrules: [{}]"),
                policy("shop", "port", "rules: [{to: [{operation: {notPorts: [\"70000\"]}}]}]"),
                policy("shop", "unquoted-port", "rules: [{to: [{operation: {ports: [8080]}}]}]"),
                policy("shop", "rules-not-list", "rules: {from: []}"),
                policy("shop", "when-ip", "rules: [{when: [{key: destination.ip, values: [not-an-ip]}]}]"),
                policy("shop", "when-key", "rules: [{when: [{values: [a]}]}]"),
                policy("shop", "remote", "action: DENY\nrules: [{from: [{source: {notRemoteIpBlocks: [1.2.3.4/99]}}]}]"),
                policy("shop", "spec", "just-a-string"));
        assertThat(f.index.describe().invalidPolicies()).containsOnlyKeys(
                "shop/action", "shop/port", "shop/unquoted-port", "shop/rules-not-list", "shop/when-ip", "shop/when-key", "shop/remote", "shop/spec");
        assertThat(f.index.describe().invalidPolicies().get("shop/action").reason()).contains("spec.action").contains("ALLOW, DENY");
        assertThat(f.counter("mocket.authorization.invalid")).isEqualTo(8);
        // None was ever valid: each is served fail-closed (seven ALLOW or unreadable actions, one DENY).
        assertThat(f.counter("mocket.authorization.invalid", "outcome", "allow_nothing")).isEqualTo(7);
        assertThat(f.counter("mocket.authorization.invalid", "outcome", "deny_widened")).isEqualTo(1);
        assertThat(f.index.describe().outputs()).containsEntry("authorization", 8);
    }

    @Test
    void waypointTargetedAndDryRunPoliciesAreNotServed() {
        f.apply(AUTHORIZATION_POLICY,
                policy("shop", "for-waypoint", "targetRefs: [{kind: Service, group: \"\", name: web}]\nrules: [{}]"),
                policy("""
                        apiVersion: security.istio.io/v1
                        kind: AuthorizationPolicy
                        metadata: {name: dry, namespace: shop, annotations: {istio.io/dry-run: "true"}}
                        spec: {rules: [{}]}
                        """),
                policy("""
                        apiVersion: security.istio.io/v1
                        kind: AuthorizationPolicy
                        metadata: {name: wet, namespace: shop, annotations: {istio.io/dry-run: "false"}}
                        spec: {rules: [{}]}
                        """));
        assertThat(f.hasAuthorization("shop", "for-waypoint")).isFalse();
        assertThat(f.hasAuthorization("shop", "dry")).isFalse();
        assertThat(f.authorization("shop", "wet").getDryRun()).isFalse();
        assertThat(f.index.describe().unservedPolicies()).containsOnlyKeys("shop/for-waypoint", "shop/dry");
    }

    @Test
    void deletedPolicyIsRemoved() {
        var p = policy("shop", "p", "rules: [{}]");
        f.apply(AUTHORIZATION_POLICY, p);
        assertThat(f.hasAuthorization("shop", "p")).isTrue();
        f.remove(AUTHORIZATION_POLICY, p);
        assertThat(f.hasAuthorization("shop", "p")).isFalse();
    }
}
