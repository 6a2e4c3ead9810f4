package io.mocket.controlplane.index;

import static io.mocket.controlplane.kube.KubeKind.PEER_AUTHENTICATION;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AmbientIndexPeerAuthenticationTest {
    private final IndexFixture f = new IndexFixture();

    @AfterEach
    void close() {
        f.close();
    }

    private static GenericKubernetesResource pa(String ns, String name, String created, String spec) {
        return IndexFixture.YAML.unmarshal("""
                apiVersion: security.istio.io/v1
                kind: PeerAuthentication
                metadata: {name: %s, namespace: %s, creationTimestamp: "%s"}
                spec: %s
                """.formatted(name, ns, created, spec), GenericKubernetesResource.class);
    }

    private static final Map<String, String> WEB = Map.of("app", "web");

    @Test
    void permissiveWhenNothingIsConfigured() {
        EffectivePeerAuthentication e = f.index.peerAuthentication("shop", WEB);
        assertThat(e.mode()).isEqualTo(MtlsMode.PERMISSIVE);
        assertThat(e.source()).isNull();
        assertThat(e.modeForPort(8080)).isEqualTo(MtlsMode.PERMISSIVE);
    }

    @Test
    void meshNamespaceAndWorkloadLevelsWithUnsetInheriting() {
        f.apply(PEER_AUTHENTICATION, pa("istio-system", "mesh", "2026-01-01T00:00:00Z", "{mtls: {mode: STRICT}}"));
        assertThat(f.index.peerAuthentication("shop", WEB).mode()).isEqualTo(MtlsMode.STRICT);
        assertThat(f.index.peerAuthentication("shop", WEB).source()).isEqualTo("istio-system/mesh");

        f.apply(PEER_AUTHENTICATION, pa("shop", "ns", "2026-01-01T00:00:00Z", "{mtls: {mode: PERMISSIVE}}"));
        assertThat(f.index.peerAuthentication("shop", WEB).mode()).isEqualTo(MtlsMode.PERMISSIVE);
        assertThat(f.index.peerAuthentication("other", WEB).mode()).isEqualTo(MtlsMode.STRICT);

        f.apply(PEER_AUTHENTICATION, pa("shop", "web", "2026-01-01T00:00:00Z",
                "{selector: {matchLabels: {app: web}}, mtls: {mode: UNSET}, portLevelMtls: {\"8080\": {mode: DISABLE}, \"9090\": {mode: UNSET}}}"));
        EffectivePeerAuthentication web = f.index.peerAuthentication("shop", WEB);
        assertThat(web.mode()).as("UNSET inherits the namespace mode").isEqualTo(MtlsMode.PERMISSIVE);
        assertThat(web.modeForPort(8080)).isEqualTo(MtlsMode.DISABLE);
        assertThat(web.modeForPort(9090)).isEqualTo(MtlsMode.PERMISSIVE);
        assertThat(f.index.peerAuthentication("shop", Map.of("app", "api")).portModes()).isEmpty();

        f.apply(PEER_AUTHENTICATION, pa("shop", "web", "2026-01-01T00:00:00Z", "{selector: {matchLabels: {app: web}}, mtls: {mode: STRICT}}"));
        assertThat(f.index.peerAuthentication("shop", WEB).mode()).isEqualTo(MtlsMode.STRICT);
        assertThat(f.index.peerAuthentication("shop", WEB).source()).isEqualTo("shop/web");
    }

    @Test
    void oldestPolicyWinsAtALevel() {
        f.apply(PEER_AUTHENTICATION,
                pa("shop", "newer", "2026-02-01T00:00:00Z", "{mtls: {mode: DISABLE}}"),
                pa("shop", "older", "2026-01-01T00:00:00Z", "{mtls: {mode: STRICT}}"));
        assertThat(f.index.peerAuthentication("shop", WEB).source()).isEqualTo("shop/older");
        f.remove(PEER_AUTHENTICATION, pa("shop", "older", "2026-01-01T00:00:00Z", "{}"));
        assertThat(f.index.peerAuthentication("shop", WEB).mode()).isEqualTo(MtlsMode.DISABLE);
    }

    @Test
    void selectorPoliciesInTheRootNamespaceAreIgnoredAndEmptySelectorIsNamespaceWide() {
        f.apply(PEER_AUTHENTICATION,
                pa("istio-system", "root-selector", "2026-01-01T00:00:00Z", "{selector: {matchLabels: {app: web}}, mtls: {mode: STRICT}}"),
                pa("shop", "empty-selector", "2026-01-01T00:00:00Z", "{selector: {}, mtls: {mode: DISABLE}}"));
        assertThat(f.index.peerAuthentication("other", WEB).mode()).isEqualTo(MtlsMode.PERMISSIVE);
        assertThat(f.index.peerAuthentication("shop", Map.of()).mode()).isEqualTo(MtlsMode.DISABLE);
    }

    @Test
    void peerAuthenticationIsNotServedAndCommitsNothing() {
        f.apply(PEER_AUTHENTICATION, pa("istio-system", "mesh", "2026-01-01T00:00:00Z", "{mtls: {mode: STRICT}}"));
        assertThat(f.commits).isEmpty();
        assertThat(f.index.describe().inputs()).containsEntry(io.mocket.controlplane.kube.KubeKind.PEER_AUTHENTICATION, 1);
    }

    @Test
    void unknownModeIsIgnored() {
        f.apply(PEER_AUTHENTICATION, pa("shop", "typo", "2026-01-01T00:00:00Z", "{mtls: {mode: STRIKT}}"));
        assertThat(f.index.peerAuthentication("shop", WEB).mode()).isEqualTo(MtlsMode.PERMISSIVE);
    }
}
