package io.mocket.controlplane.index;

import static io.mocket.controlplane.index.IndexFixture.ambientNamespace;
import static io.mocket.controlplane.index.IndexFixture.pod;
import static io.mocket.controlplane.index.IndexFixture.policy;
import static io.mocket.controlplane.kube.KubeKind.AUTHORIZATION_POLICY;
import static io.mocket.controlplane.kube.KubeKind.NAMESPACE;
import static io.mocket.controlplane.kube.KubeKind.POD;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.mocket.api.istio.security.Action;
import io.mocket.api.istio.security.Address;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.security.Group;
import io.mocket.api.istio.security.Match;
import io.mocket.api.istio.security.Rules;
import io.mocket.api.istio.security.Scope;
import io.mocket.api.istio.security.StringMatch;
import io.mocket.controlplane.resources.Commit;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.XdsResource;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * An invalid AuthorizationPolicy: the last good version keeps serving; one that was never valid is served
 * fail-closed; a deleted one is removed; other policies are untouched throughout.
 */
class AmbientIndexInvalidPolicyTest {
    private static final String INVALID = "mocket.authorization.invalid";

    private final IndexFixture f = new IndexFixture();

    @BeforeEach
    void cluster() {
        f.apply(NAMESPACE, ambientNamespace("shop"), ambientNamespace("other"));
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").build(),
                pod("shop", "api-0", "10.1.0.6").editMetadata().withLabels(Map.of("app", "api")).endMetadata().build(),
                pod("other", "web-0", "10.1.0.7").build());
        // A bystander in the same namespace and one selecting the same pods: neither may move.
        f.apply(AUTHORIZATION_POLICY,
                policy("shop", "bystander", "action: DENY\nrules: [{from: [{source: {namespaces: [evil]}}]}]"),
                policy("shop", "web-neighbour", "selector: {matchLabels: {app: web}}\nrules: [{from: [{source: {namespaces: [front]}}]}]"));
    }

    @AfterEach
    void close() {
        f.close();
    }

    private static GenericKubernetesResource versioned(String resourceVersion, long generation, GenericKubernetesResource p) {
        p.getMetadata().setResourceVersion(resourceVersion);
        p.getMetadata().setGeneration(generation);
        return p;
    }

    private static StringMatch exact(String s) {
        return StringMatch.newBuilder().setExact(s).build();
    }

    private static Address cidr(String ip, int len) {
        return Address.newBuilder().setAddress(ByteString.copyFrom(InetAddress.ofLiteral(ip).getAddress())).setLength(len).build();
    }

    private static Group group(Rules... rules) {
        return Group.newBuilder().addAllRules(List.of(rules)).build();
    }

    private static Rules rules(Match... matches) {
        return Rules.newBuilder().addAllMatches(List.of(matches)).build();
    }

    private List<Commit> commitsOf(Runnable change) {
        int before = f.commits.size();
        change.run();
        f.settle();
        return List.copyOf(f.commits.subList(before, f.commits.size()));
    }

    private List<String> listed(String ns, String pod) {
        return f.workload(ns, pod).getAuthorizationPoliciesList();
    }

    private void assertBystandersUntouched(XdsResource bystander, XdsResource neighbour) {
        assertThat(f.resource(ResourceType.AUTHORIZATION, "shop/bystander").wire()).isEqualTo(bystander.wire());
        assertThat(f.resource(ResourceType.AUTHORIZATION, "shop/web-neighbour").wire()).isEqualTo(neighbour.wire());
        assertThat(f.index.describe().invalidPolicies()).doesNotContainKeys("shop/bystander", "shop/web-neighbour");
    }

    // ------------------------------------------------------------ last good

    @Test
    void validPolicyEditedIntoAnInvalidOneKeepsServingItsLastGoodVersion() {
        XdsResource bystander = f.resource(ResourceType.AUTHORIZATION, "shop/bystander");
        XdsResource neighbour = f.resource(ResourceType.AUTHORIZATION, "shop/web-neighbour");
        f.apply(AUTHORIZATION_POLICY, versioned("41", 3, policy("shop", "p",
                "selector: {matchLabels: {app: web}}\nrules: [{to: [{operation: {ports: [\"8080\"]}}]}]")));
        XdsResource good = f.resource(ResourceType.AUTHORIZATION, "shop/p");
        assertThat(listed("shop", "web-0")).containsExactly("shop/p", "shop/web-neighbour");

        // Port written as a name; the selector changes too, but an invalid version changes nothing served.
        List<Commit> commits = commitsOf(() -> f.index.upsert(AUTHORIZATION_POLICY, versioned("42", 4, policy("shop", "p",
                "selector: {matchLabels: {app: api}}\nrules: [{to: [{operation: {ports: [\"http\"]}}]}]"))));

        assertThat(commits).as("nothing served changed").isEmpty();
        assertThat(f.resource(ResourceType.AUTHORIZATION, "shop/p").wire().toByteString()).isEqualTo(good.wire().toByteString());
        assertThat(listed("shop", "web-0")).containsExactly("shop/p", "shop/web-neighbour");
        assertThat(listed("shop", "api-0")).isEmpty();
        assertThat(f.counter(INVALID, "outcome", "kept_last_good")).isEqualTo(1);
        assertThat(f.counter(INVALID)).isEqualTo(1);
        IndexDescription.InvalidPolicy d = f.index.describe().invalidPolicies().get("shop/p");
        assertThat(d.outcome()).isEqualTo("kept_last_good");
        assertThat(d.version()).isEqualTo("resourceVersion 42, generation 4");
        assertThat(d.reason()).contains("spec.rules[0].to[0].operation.ports[0]").contains("'http'").contains("fix:");
        assertThat(d.serving()).contains("last good version").contains("resourceVersion 41, generation 3");
        assertBystandersUntouched(bystander, neighbour);

        // A second bad edit still serves the same last good version.
        f.apply(AUTHORIZATION_POLICY, versioned("43", 5, policy("shop", "p", "action: PERMIT")));
        assertThat(f.resource(ResourceType.AUTHORIZATION, "shop/p").wire()).isEqualTo(good.wire());
        assertThat(f.index.describe().invalidPolicies().get("shop/p").serving()).contains("resourceVersion 41, generation 3");
        assertThat(f.counter(INVALID, "outcome", "kept_last_good")).isEqualTo(2);

        // Fixed: the new version is served, with its own selector.
        f.apply(AUTHORIZATION_POLICY, versioned("44", 6, policy("shop", "p",
                "selector: {matchLabels: {app: api}}\nrules: [{to: [{operation: {ports: [\"9090\"]}}]}]")));
        assertThat(f.authorization("shop", "p").getGroupsList()).containsExactly(
                group(rules(Match.newBuilder().addDestinationPorts(9090).build())));
        assertThat(listed("shop", "web-0")).containsExactly("shop/web-neighbour");
        assertThat(listed("shop", "api-0")).containsExactly("shop/p");
        assertThat(f.index.describe().invalidPolicies()).isEmpty();
        assertBystandersUntouched(bystander, neighbour);
    }

    @Test
    void theLastGoodVersionIsTheLastValidOneNotTheFirst() {
        f.apply(AUTHORIZATION_POLICY, versioned("1", 1, policy("shop", "p", "rules: [{to: [{operation: {ports: [\"80\"]}}]}]")));
        f.apply(AUTHORIZATION_POLICY, versioned("2", 2, policy("shop", "p", "rules: [{to: [{operation: {ports: [\"81\"]}}]}]")));
        Authorization second = f.authorization("shop", "p");
        f.apply(AUTHORIZATION_POLICY, versioned("3", 3, policy("shop", "p", "rules: [{to: [{operation: {ports: [\"0\"]}}]}]")));
        assertThat(f.authorization("shop", "p")).isEqualTo(second);
        assertThat(f.index.describe().invalidPolicies().get("shop/p").serving()).contains("resourceVersion 2, generation 2");
    }

    @Test
    void validPolicyNotServedToL4KeepsBeingNotServedWhenItTurnsInvalid() {
        f.apply(AUTHORIZATION_POLICY, policy("shop", "audit", "action: AUDIT\nrules: [{}]"));
        f.apply(AUTHORIZATION_POLICY, policy("shop", "audit", "action: AUDIT\nrules: [{to: [{operation: {ports: [\"x\"]}}]}]"));
        assertThat(f.hasAuthorization("shop", "audit")).isFalse();
        IndexDescription.InvalidPolicy d = f.index.describe().invalidPolicies().get("shop/audit");
        assertThat(d.outcome()).isEqualTo("kept_last_good");
        assertThat(d.serving()).contains("not served to L4 clients");
        assertThat(f.index.describe().unservedPolicies()).doesNotContainKey("shop/audit");
    }

    // ------------------------------------------------------------ never valid: fail closed

    @Test
    void neverValidAllowIsServedAsAllowNothingToTheWorkloadsItSelects() {
        XdsResource bystander = f.resource(ResourceType.AUTHORIZATION, "shop/bystander");
        XdsResource neighbour = f.resource(ResourceType.AUTHORIZATION, "shop/web-neighbour");
        f.apply(AUTHORIZATION_POLICY, policy("shop", "p",
                "selector: {matchLabels: {app: web}}\nrules: [{from: [{source: {ipBlocks: [10.0.0.0/33]}}]}]"));

        Authorization a = f.authorization("shop", "p");
        assertThat(a.getAction()).isEqualTo(Action.ALLOW);
        assertThat(a.getScope()).isEqualTo(Scope.WORKLOAD_SELECTOR);
        assertThat(a.getGroupsList()).as("no rule: matches nothing, so allows nothing").isEmpty();
        assertThat(listed("shop", "web-0")).containsExactly("shop/p", "shop/web-neighbour");
        assertThat(listed("shop", "api-0")).isEmpty();
        assertThat(listed("other", "web-0")).isEmpty();
        assertThat(f.counter(INVALID, "outcome", "allow_nothing")).isEqualTo(1);
        IndexDescription.InvalidPolicy d = f.index.describe().invalidPolicies().get("shop/p");
        assertThat(d.outcome()).isEqualTo("allow_nothing");
        assertThat(d.serving()).contains("allow-nothing").contains("app=web in namespace shop");
        assertBystandersUntouched(bystander, neighbour);
    }

    @Test
    void neverValidAllowWithoutSelectorKeepsItsScope() {
        f.apply(AUTHORIZATION_POLICY,
                policy("shop", "ns", "rules: [{to: [{operation: {ports: [\"-1\"]}}]}]"),
                policy("istio-system", "mesh", "rules: [{to: [{operation: {ports: [\"-1\"]}}]}]"));
        assertThat(f.authorization("shop", "ns").getScope()).isEqualTo(Scope.NAMESPACE);
        assertThat(f.authorization("shop", "ns").getGroupsList()).isEmpty();
        assertThat(f.authorization("istio-system", "mesh").getScope()).isEqualTo(Scope.GLOBAL);
        assertThat(f.authorization("istio-system", "mesh").getGroupsList()).isEmpty();
        // Found by scope, not by list, exactly as valid ones.
        assertThat(listed("shop", "web-0")).containsExactly("shop/web-neighbour");
        assertThat(f.index.describe().invalidPolicies().get("istio-system/mesh").serving()).contains("every workload of the mesh");
    }

    @Test
    void neverValidDenyDeniesItsReadablePartWithUnreadableConditionsMatchingEverything() {
        f.apply(AUTHORIZATION_POLICY, policy("shop", "d", """
                action: DENY
                selector: {matchLabels: {app: web}}
                rules:
                - from: [{source: {namespaces: [evil], ipBlocks: [10.0.0.0/33]}}]
                  to: [{operation: {ports: ["22"]}}]
                - from: [{source: {ipBlocks: [not-an-ip]}}, {source: {namespaces: [ops]}}]
                  to: [{operation: {ports: ["9090"]}}]
                - when:
                  - {key: source.ip, values: [10.1.0.0/99], notValues: [10.1.0.1]}
                  - {key: destination.port, values: [ssh]}
                  - {values: ["80"]}
                  to: [{operation: {ports: ["80"]}}]
                """));

        Authorization a = f.authorization("shop", "d");
        assertThat(a.getAction()).isEqualTo(Action.DENY);
        assertThat(a.getScope()).isEqualTo(Scope.WORKLOAD_SELECTOR);
        assertThat(a.getGroupsList()).containsExactly(
                // The unreadable ipBlocks is left out of its match: every source in namespace evil, to port 22.
                group(rules(Match.newBuilder().addDestinationPorts(22).build()),
                        rules(Match.newBuilder().addNamespaces(exact("evil")).build())),
                // One source entry matches everything, so the whole from clause does: every source, to port 9090.
                group(rules(Match.newBuilder().addDestinationPorts(9090).build())),
                // Unreadable values are left out (notValues stays); a condition with nothing left matches everything.
                group(rules(Match.newBuilder().addDestinationPorts(80).build()),
                        rules(Match.newBuilder().addNotSourceIps(cidr("10.1.0.1", 32)).build())));
        assertThat(listed("shop", "web-0")).containsExactly("shop/d", "shop/web-neighbour");
        assertThat(listed("shop", "api-0")).isEmpty();
        assertThat(f.counter(INVALID, "outcome", "deny_widened")).isEqualTo(1);
        IndexDescription.InvalidPolicy d = f.index.describe().invalidPolicies().get("shop/d");
        assertThat(d.outcome()).isEqualTo("deny_widened");
        assertThat(d.reason()).contains("spec.rules[0].from[0].source.ipBlocks[0]");
        assertThat(d.serving()).contains("DENY of its readable part").contains("denies more than written")
                .contains("spec.rules[1].from[0].source.ipBlocks[0]").contains("spec.rules[2].when[1].values[0]")
                .contains("spec.rules[2].when[2].key");
    }

    @Test
    void neverValidDenyWhoseRulesCannotBeReadDeniesEverythingInItsScope() {
        f.apply(AUTHORIZATION_POLICY,
                policy("shop", "rules-not-list", "action: DENY\nselector: {matchLabels: {app: web}}\nrules: {from: []}"),
                policy("shop", "rule-not-object", "action: DENY\nselector: {matchLabels: {app: web}}\nrules: [deny-ssh]"));
        // One group without clauses matches every connection.
        assertThat(f.authorization("shop", "rules-not-list").getGroupsList()).containsExactly(Group.getDefaultInstance());
        assertThat(f.authorization("shop", "rule-not-object").getGroupsList()).containsExactly(Group.getDefaultInstance());
        assertThat(listed("shop", "api-0")).isEmpty();
    }

    @Test
    void unreadableSelectorLabelsAreLeftOutSoItSelectsAtLeastTheWorkloadsWrittenFor() {
        f.apply(AUTHORIZATION_POLICY,
                // version: 1 is a number, not a string: read as "any version".
                policy("shop", "label", "selector: {matchLabels: {app: web, version: 1}}\nrules: [{}]"),
                // Nothing of the selector can be read: every workload of the namespace.
                policy("shop", "selector", "selector: app=web\naction: DENY\nrules: [{from: [{source: {namespaces: [evil]}}]}]"));
        assertThat(f.authorization("shop", "label").getScope()).isEqualTo(Scope.WORKLOAD_SELECTOR);
        assertThat(f.authorization("shop", "label").getGroupsList()).isEmpty();
        assertThat(f.authorization("shop", "selector").getGroupsList()).containsExactly(
                group(rules(Match.newBuilder().addNamespaces(exact("evil")).build())));
        assertThat(listed("shop", "web-0")).containsExactly("shop/label", "shop/selector", "shop/web-neighbour");
        assertThat(listed("shop", "api-0")).containsExactly("shop/selector");
        assertThat(listed("other", "web-0")).isEmpty();
        assertThat(f.index.describe().invalidPolicies().get("shop/label").serving())
                .contains("app=web in namespace shop").contains("spec.selector.matchLabels.version");
        assertThat(f.index.describe().invalidPolicies().get("shop/selector").serving())
                .contains("every workload of namespace shop").contains("spec.selector");
    }

    @Test
    void unreadableActionIsServedAsAllowNothing() {
        f.apply(AUTHORIZATION_POLICY,
                policy("shop", "permit", "selector: {matchLabels: {app: web}}\naction: PERMIT\nrules: [{}]"),
                policy("shop", "spec", "just-a-string"));
        assertThat(f.authorization("shop", "permit").getAction()).isEqualTo(Action.ALLOW);
        assertThat(f.authorization("shop", "permit").getGroupsList()).isEmpty();
        assertThat(f.index.describe().invalidPolicies().get("shop/permit").serving()).contains("action cannot be read");
        // A spec that is not an object hides its selector: every workload of the namespace lists it.
        assertThat(f.authorization("shop", "spec").getGroupsList()).isEmpty();
        assertThat(listed("shop", "api-0")).containsExactly("shop/spec");
        assertThat(f.counter(INVALID, "outcome", "allow_nothing")).isEqualTo(2);
    }

    @Test
    void neverValidAuditOrCustomIsNotServedAsNoValidVersionWouldBe() {
        f.apply(AUTHORIZATION_POLICY, policy("shop", "audit", "action: AUDIT\nrules: [{to: [{operation: {ports: [\"x\"]}}]}]"));
        assertThat(f.hasAuthorization("shop", "audit")).isFalse();
        assertThat(f.counter(INVALID, "outcome", "skipped")).isEqualTo(1);
        assertThat(f.index.describe().invalidPolicies().get("shop/audit").outcome()).isEqualTo("skipped");
    }

    // ------------------------------------------------------------ delete

    @Test
    void deletingAnInvalidPolicyRemovesItWhateverIsServedForIt() {
        XdsResource bystander = f.resource(ResourceType.AUTHORIZATION, "shop/bystander");
        XdsResource neighbour = f.resource(ResourceType.AUTHORIZATION, "shop/web-neighbour");
        String valid = "selector: {matchLabels: {app: web}}\nrules: [{}]";
        String invalid = "selector: {matchLabels: {app: web}}\nrules: [{to: [{operation: {ports: [\"x\"]}}]}]";

        // Kept last good, then deleted.
        f.apply(AUTHORIZATION_POLICY, policy("shop", "kept", valid));
        f.apply(AUTHORIZATION_POLICY, policy("shop", "kept", invalid));
        assertThat(f.hasAuthorization("shop", "kept")).isTrue();
        f.remove(AUTHORIZATION_POLICY, policy("shop", "kept", invalid));
        assertThat(f.hasAuthorization("shop", "kept")).isFalse();
        assertThat(listed("shop", "web-0")).containsExactly("shop/web-neighbour");
        assertThat(f.index.describe().invalidPolicies()).isEmpty();

        // Recreated invalid: the deleted policy's last good version is gone with it, so it is never-valid now.
        f.apply(AUTHORIZATION_POLICY, policy("shop", "kept", invalid));
        assertThat(f.authorization("shop", "kept").getGroupsList()).isEmpty();
        assertThat(f.index.describe().invalidPolicies().get("shop/kept").outcome()).isEqualTo("allow_nothing");

        // Served allow-nothing, then deleted.
        f.remove(AUTHORIZATION_POLICY, policy("shop", "kept", invalid));
        assertThat(f.hasAuthorization("shop", "kept")).isFalse();
        assertThat(listed("shop", "web-0")).containsExactly("shop/web-neighbour");
        assertThat(f.index.describe().invalidPolicies()).isEmpty();
        assertBystandersUntouched(bystander, neighbour);
    }
}
