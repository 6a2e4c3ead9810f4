package io.mocket.controlplane.xds;

import static io.mocket.controlplane.resources.ResourceType.ADDRESS;
import static io.mocket.controlplane.resources.ResourceType.AUTHORIZATION;
import static io.mocket.controlplane.xds.Fixtures.address;
import static io.mocket.controlplane.xds.Fixtures.authorization;
import static io.mocket.controlplane.xds.Fixtures.names;
import static io.mocket.controlplane.xds.Fixtures.podName;
import static io.mocket.controlplane.xds.Fixtures.service;
import static io.mocket.controlplane.xds.Fixtures.serviceName;
import static io.mocket.controlplane.xds.Fixtures.workload;
import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.mocket.controlplane.resources.XdsResource;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AdsDeltaTest {
    private static final String WEB = serviceName("default", "web");

    private final AdsHarness h = new AdsHarness();

    @AfterEach
    void tearDown() throws InterruptedException {
        h.close();
    }

    /** Two web pods behind service web, one unrelated db pod. */
    private void seed() {
        h.upsert(service("default", "web", "10.96.0.10"),
                workload("default", "web-0", "10.0.0.1", "n1", WEB),
                workload("default", "web-1", "10.0.0.2", "n2", WEB),
                workload("default", "db-0", "10.0.0.3", "n1"));
    }

    @Test
    void emptyFirstRequestIsWildcard_sendsEverythingThenOnlyChanges() {
        seed();
        try (DeltaClient c = h.delta("ztunnel~10.1.0.1~ztunnel-a.istio-system~istio-system.svc.cluster.local")) {
            DeltaDiscoveryResponse first = c.wildcard(ADDRESS).nextAcked();
            assertThat(first.getTypeUrl()).isEqualTo(ADDRESS.typeUrl());
            assertThat(first.getNonce()).isNotEmpty();
            assertThat(first.getSystemVersionInfo()).isEqualTo("1");
            assertThat(names(first)).containsExactlyInAnyOrder(WEB, podName("default", "web-0"),
                    podName("default", "web-1"), podName("default", "db-0"));
            Resource web0 = first.getResourcesList().stream()
                    .filter(r -> r.getName().equals(podName("default", "web-0"))).findFirst().orElseThrow();
            assertThat(web0.getVersion()).isEqualTo(h.store.current().get(ADDRESS, web0.getName()).version());
            assertThat(web0.getAliasesList()).containsExactly("/10.0.0.1");

            h.upsert(workload("default", "db-0", "10.0.0.3", "n2"));
            DeltaDiscoveryResponse change = c.nextAcked();
            assertThat(names(change)).containsExactly(podName("default", "db-0"));
            assertThat(change.getRemovedResourcesList()).isEmpty();
            assertThat(change.getNonce()).isNotEqualTo(first.getNonce());

            h.remove(ADDRESS, podName("default", "web-1"));
            DeltaDiscoveryResponse removal = c.nextAcked();
            assertThat(removal.getResourcesList()).isEmpty();
            assertThat(removal.getRemovedResourcesList()).containsExactly(podName("default", "web-1"));
        }
    }

    @Test
    void explicitStarIsWildcard_andAnEmptyStoreStillAnswers() {
        try (DeltaClient c = h.delta("agent-1")) {
            DeltaDiscoveryResponse first = c.subscribe(AUTHORIZATION, "*").nextAcked();
            assertThat(first.getResourcesList()).isEmpty();
            assertThat(first.getNonce()).isNotEmpty();

            h.upsert(authorization("default", "allow-web", false));
            assertThat(names(c.nextAcked())).containsExactly("default/allow-web");
        }
    }

    @Test
    void onDemandAliasAnswersWithCanonicalNameAndAliases() {
        seed();
        try (DeltaClient c = h.delta("ztunnel-on-demand")) {
            DeltaDiscoveryResponse first = c.onDemand(ADDRESS, Map.of()).nextAcked();
            assertThat(first.getResourcesList()).as("subscribed to nothing").isEmpty();

            DeltaDiscoveryResponse r = c.subscribe(ADDRESS, "/10.0.0.3").nextAcked();
            assertThat(names(r)).containsExactly(podName("default", "db-0"));
            assertThat(r.getResources(0).getAliasesList()).containsExactly("/10.0.0.3");
            assertThat(r.getRemovedResourcesList()).isEmpty();

            // Updates of the canonical resource follow, and nothing else does.
            h.upsert(workload("default", "web-0", "10.0.0.1", "n9", WEB));
            h.upsert(workload("default", "db-0", "10.0.0.3", "n9"));
            assertThat(names(c.nextAcked())).containsExactly(podName("default", "db-0"));
        }
    }

    @Test
    void onDemandServiceVipBringsItsWorkloadsAndSubscribesToThem() {
        seed();
        try (DeltaClient c = h.delta("ztunnel-on-demand")) {
            c.onDemand(ADDRESS, Map.of()).nextAcked();
            DeltaDiscoveryResponse r = c.subscribe(ADDRESS, "/10.96.0.10").nextAcked();
            assertThat(names(r)).containsExactlyInAnyOrder(WEB, podName("default", "web-0"), podName("default", "web-1"));
            Resource svc = r.getResourcesList().stream().filter(x -> x.getName().equals(WEB)).findFirst().orElseThrow();
            assertThat(svc.getAliasesList()).containsExactly("/10.96.0.10");
            assertThat(address(svc).hasService()).isTrue();

            // A pod behind the service changes: pushed although the client never named it.
            h.upsert(workload("default", "web-1", "10.0.0.2", "n3", WEB));
            assertThat(names(c.nextAcked())).containsExactly(podName("default", "web-1"));

            // A new pod joins the service: pushed too; an unrelated pod is not.
            h.upsert(workload("default", "db-1", "10.0.0.9", "n1"));
            h.upsert(workload("default", "web-2", "10.0.0.4", "n1", WEB));
            assertThat(names(c.nextAcked())).containsExactly(podName("default", "web-2"));
            assertThat(h.ads.clients().getFirst().types().getFirst().impliedNames()).isEqualTo(4);
        }
    }

    @Test
    void unknownNameIsAnsweredAsRemovedThenSentWhenItAppears() {
        String later = podName("default", "later-0");
        try (DeltaClient c = h.delta("ztunnel-on-demand")) {
            c.onDemand(ADDRESS, Map.of()).nextAcked();
            DeltaDiscoveryResponse r = c.subscribe(ADDRESS, later, "/10.0.7.7").nextAcked();
            assertThat(r.getResourcesList()).isEmpty();
            assertThat(r.getRemovedResourcesList()).containsExactlyInAnyOrder(later, "/10.0.7.7");

            h.upsert(workload("default", "later-0", "10.0.5.5", "n1"));
            assertThat(names(c.nextAcked())).containsExactly(later);
            // A resource that appears under a subscribed alias is sent under its canonical name.
            h.upsert(workload("default", "other-0", "10.0.7.7", "n1"));
            DeltaDiscoveryResponse byAlias = c.nextAcked();
            assertThat(names(byAlias)).containsExactly(podName("default", "other-0"));
            assertThat(byAlias.getResources(0).getAliasesList()).containsExactly("/10.0.7.7");

            h.remove(ADDRESS, later);
            assertThat(c.nextAcked().getRemovedResourcesList()).containsExactly(later);
        }
    }

    @Test
    void serviceThatAppearsAfterItsVipWasRequestedBringsItsExistingWorkloads() {
        String api = serviceName("default", "api");
        h.upsert(workload("default", "api-0", "10.0.1.1", "n1", api), workload("default", "api-1", "10.0.1.2", "n2", api));
        try (DeltaClient c = h.delta("ztunnel-on-demand")) {
            c.onDemand(ADDRESS, Map.of()).nextAcked();
            assertThat(c.subscribe(ADDRESS, "/10.96.0.20").nextAcked().getRemovedResourcesList())
                    .containsExactly("/10.96.0.20");

            h.upsert(service("default", "api", "10.96.0.20"));
            DeltaDiscoveryResponse r = c.nextAcked();
            assertThat(names(r)).containsExactlyInAnyOrder(api, podName("default", "api-0"), podName("default", "api-1"));
        }
    }

    @Test
    void unsubscribedNamesAreNoLongerPushed() {
        seed();
        try (DeltaClient c = h.delta("ztunnel-on-demand")) {
            c.onDemand(ADDRESS, Map.of()).nextAcked();
            c.subscribe(ADDRESS, podName("default", "db-0"), "/10.0.0.1").nextAcked();
            // Requests are asynchronous: pair the unsubscribe with a subscription whose answer proves it was applied.
            c.send(DeltaDiscoveryRequest.newBuilder()
                    .setTypeUrl(ADDRESS.typeUrl())
                    .addResourceNamesUnsubscribe("/10.0.0.1")
                    .addResourceNamesSubscribe("/10.0.9.9"));
            assertThat(c.nextAcked().getRemovedResourcesList()).containsExactly("/10.0.9.9");
            h.upsert(workload("default", "web-0", "10.0.0.1", "n7", WEB));
            h.upsert(workload("default", "db-0", "10.0.0.3", "n7"));
            assertThat(names(c.nextAcked())).containsExactly(podName("default", "db-0"));
        }
    }

    @Test
    void removalsGoOnlyToClientsThatHoldTheResource() {
        seed();
        try (DeltaClient onDemand = h.delta("on-demand"); DeltaClient all = h.delta("wildcard")) {
            onDemand.onDemand(ADDRESS, Map.of()).nextAcked();
            onDemand.subscribe(ADDRESS, podName("default", "db-0")).nextAcked();
            all.wildcard(ADDRESS).nextAcked();

            h.remove(ADDRESS, podName("default", "web-0"));
            assertThat(all.nextAcked().getRemovedResourcesList()).containsExactly(podName("default", "web-0"));
            h.remove(ADDRESS, podName("default", "db-0"));
            assertThat(all.nextAcked().getRemovedResourcesList()).containsExactly(podName("default", "db-0"));
            DeltaDiscoveryResponse r = onDemand.nextAcked();
            assertThat(r.getRemovedResourcesList()).containsExactly(podName("default", "db-0"));
        }
    }

    @Test
    void leavingWildcardKeepsOnlyNamedResources() {
        seed();
        try (DeltaClient c = h.delta("switcher")) {
            c.wildcard(ADDRESS).nextAcked();
            c.subscribe(ADDRESS, podName("default", "db-0")).nextAcked(); // explicit name besides the wildcard
            c.send(DeltaDiscoveryRequest.newBuilder()
                    .setTypeUrl(ADDRESS.typeUrl())
                    .addResourceNamesUnsubscribe("*")
                    .addResourceNamesSubscribe("/10.0.9.9"));
            assertThat(c.nextAcked().getRemovedResourcesList()).containsExactly("/10.0.9.9");
            h.upsert(workload("default", "web-0", "10.0.0.1", "n8", WEB));
            h.upsert(workload("default", "db-0", "10.0.0.3", "n8"));
            assertThat(names(c.nextAcked())).containsExactly(podName("default", "db-0"));
        }
    }

    @Test
    void reconnectWithInitialVersionsSendsOnlyWhatDiffersAndListsWhatIsGone() {
        seed();
        XdsResource web0 = h.store.current().get(ADDRESS, podName("default", "web-0"));
        XdsResource svc = h.store.current().get(ADDRESS, WEB);
        try (DeltaClient c = h.delta("reconnecting")) {
            c.send(DeltaDiscoveryRequest.newBuilder()
                    .setTypeUrl(ADDRESS.typeUrl())
                    .putInitialResourceVersions(web0.name(), web0.version())
                    .putInitialResourceVersions(svc.name(), svc.version())
                    .putInitialResourceVersions(podName("default", "web-1"), "0000000000000000")
                    .putInitialResourceVersions(podName("default", "gone-0"), web0.version()));
            DeltaDiscoveryResponse r = c.nextAcked();
            assertThat(names(r)).containsExactlyInAnyOrder(podName("default", "web-1"), podName("default", "db-0"));
            assertThat(r.getRemovedResourcesList()).containsExactly(podName("default", "gone-0"));
        }
    }

    @Test
    void onDemandReconnectResubscribesWhatTheClientHolds() {
        seed();
        XdsResource db0 = h.store.current().get(ADDRESS, podName("default", "db-0"));
        try (DeltaClient c = h.delta("ztunnel-reconnecting")) {
            // ztunnel lists what it holds with empty versions, including the alias it asked by.
            DeltaDiscoveryResponse r = c.onDemand(ADDRESS, Map.of(
                    db0.name(), db0.version(),
                    "/10.0.0.1", "",
                    podName("default", "gone-0"), "")).nextAcked();
            assertThat(names(r)).containsExactly(podName("default", "web-0"));
            assertThat(r.getRemovedResourcesList()).containsExactly(podName("default", "gone-0"));

            h.upsert(workload("default", "db-0", "10.0.0.3", "n5"));
            assertThat(names(c.nextAcked())).containsExactly(db0.name());
        }
    }

    @Test
    void nackKeepsClientOnLastGoodVersionWithoutResending() {
        seed();
        try (DeltaClient c = h.delta("picky")) {
            DeltaDiscoveryResponse first = c.wildcard(ADDRESS).nextAcked();
            h.upsert(workload("default", "db-0", "10.0.0.3", "bad-node"));
            DeltaDiscoveryResponse rejected = c.next();
            c.nack(rejected, "workload default/db-0: node 'bad-node' unknown");

            AdsHarness.await("the NACK is counted", () ->
                    h.meters.counter("mocket.xds.nacks", "type_url", ADDRESS.typeUrl()).count() == 1);
            XdsTypeStatus status = h.ads.clients().getFirst().types().getFirst();
            assertThat(status.nackCount()).isEqualTo(1);
            assertThat(status.lastNackMessage()).isEqualTo("workload default/db-0: node 'bad-node' unknown");
            assertThat(status.ackedNonce()).isEqualTo(first.getNonce());
            assertThat(status.ackedGeneration()).isEqualTo(1);
            assertThat(status.sentNonce()).isEqualTo(rejected.getNonce());

            // The next change is sent normally; the rejected content is not sent again.
            h.upsert(workload("default", "web-0", "10.0.0.1", "n4", WEB));
            DeltaDiscoveryResponse next = c.nextAcked();
            assertThat(names(next)).containsExactly(podName("default", "web-0"));
            AdsHarness.await("the ACK is recorded", () ->
                    h.ads.clients().getFirst().types().getFirst().ackedNonce().equals(next.getNonce()));
            assertThat(h.ads.clients().getFirst().types().getFirst().ackedGeneration()).isEqualTo(3);
        }
    }

    @Test
    void typesAreIndependentOnOneStream() {
        seed();
        h.upsert(authorization("default", "allow-web", false));
        try (DeltaClient c = h.delta("both")) {
            c.wildcard(ADDRESS);
            DeltaDiscoveryResponse a = c.nextAcked();
            c.wildcard(AUTHORIZATION);
            DeltaDiscoveryResponse b = c.nextAcked();
            assertThat(a.getTypeUrl()).isEqualTo(ADDRESS.typeUrl());
            assertThat(b.getTypeUrl()).isEqualTo(AUTHORIZATION.typeUrl());
            assertThat(names(b)).containsExactly("default/allow-web");

            h.upsert(authorization("default", "allow-web", true));
            DeltaDiscoveryResponse change = c.nextAcked();
            assertThat(change.getTypeUrl()).isEqualTo(AUTHORIZATION.typeUrl());
            assertThat(h.ads.clients().getFirst().types()).extracting(XdsTypeStatus::typeUrl)
                    .containsExactly(ADDRESS.typeUrl(), AUTHORIZATION.typeUrl());
        }
    }

    @Test
    void streamThatIsNotReadyGetsOneCombinedDeltaLater() {
        seed();
        try (DeltaClient c = new DeltaClient(h.channel, "slow-reader", true)) {
            c.wildcard(ADDRESS).nextAcked(); // the one message the client allowed
            h.upsert(workload("default", "web-0", "10.0.0.1", "n5", WEB));
            h.upsert(workload("default", "web-1", "10.0.0.2", "n5", WEB));
            h.remove(ADDRESS, podName("default", "db-0"));
            AdsHarness.await("three commits are visible", () -> h.store.current().generation() == 4);

            c.request(1);
            DeltaDiscoveryResponse combined = c.nextAcked();
            assertThat(names(combined)).containsExactlyInAnyOrder(podName("default", "web-0"), podName("default", "web-1"));
            assertThat(combined.getRemovedResourcesList()).containsExactly(podName("default", "db-0"));
            assertThat(combined.getSystemVersionInfo()).isEqualTo("4");
            assertThat(c.responses).isEmpty();
        }
    }
}
