package io.mocket.controlplane.xds;

import static io.mocket.controlplane.resources.ResourceType.ADDRESS;
import static io.mocket.controlplane.resources.ResourceType.AUTHORIZATION;
import static io.mocket.controlplane.xds.Fixtures.authorization;
import static io.mocket.controlplane.xds.Fixtures.names;
import static io.mocket.controlplane.xds.Fixtures.podName;
import static io.mocket.controlplane.xds.Fixtures.workload;
import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.mocket.controlplane.resources.Snapshot;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Responses serialized once for many wildcard clients, with shared nonces that still work per stream. */
class SharedDeltaResponsesTest {
    private final AdsHarness h = new AdsHarness();

    @AfterEach
    void tearDown() throws InterruptedException {
        h.close();
    }

    private void seed() {
        h.upsert(workload("default", "web-0", "10.0.0.1", "n1"), workload("default", "db-0", "10.0.0.3", "n1"));
    }

    @Test
    void wildcardClientsAtTheSamePointReceiveByteIdenticalResponses() {
        seed();
        h.upsert(authorization("default", "allow", false));
        try (DeltaClient a = h.delta("ztunnel-a"); DeltaClient b = h.delta("ztunnel-b")) {
            // b has had one response more than a: a per-stream counter in the nonce would tell them apart.
            b.wildcard(AUTHORIZATION).nextAcked();
            DeltaDiscoveryResponse a1 = a.wildcard(ADDRESS).nextAcked();
            DeltaDiscoveryResponse b1 = b.wildcard(ADDRESS).nextAcked();
            assertThat(a1.toByteString()).isEqualTo(b1.toByteString());

            Snapshot before = h.store.current();
            h.upsert(workload("default", "db-0", "10.0.0.3", "n2"));
            DeltaDiscoveryResponse a2 = a.nextAcked();
            DeltaDiscoveryResponse b2 = b.nextAcked();
            assertThat(names(a2)).containsExactly(podName("default", "db-0"));
            assertThat(a2.toByteString()).isEqualTo(b2.toByteString());
            assertThat(a2.getNonce()).isEqualTo(b2.getNonce()).isNotEqualTo(a1.getNonce());
            // Made once: the server hands out one object for that span.
            SharedDeltaResponses shared = h.ads.sharedResponses();
            assertThat(shared.get(ADDRESS, before, h.store.current())).isSameAs(shared.get(ADDRESS, before, h.store.current()));
            assertThat(shared.get(ADDRESS, before, h.store.current()).bytes()).isEqualTo(a2.toByteArray());
        }
    }

    @Test
    void noncesStayUniqueOnAStreamAcrossTypesAndBothForms() {
        seed();
        h.upsert(authorization("default", "allow", false));
        try (DeltaClient c = h.delta("ztunnel-both")) {
            List<String> nonces = new ArrayList<>();
            nonces.add(c.wildcard(ADDRESS).nextAcked().getNonce());
            nonces.add(c.wildcard(AUTHORIZATION).nextAcked().getNonce());
            for (int i = 0; i < 3; i++) {
                // One commit that changes both types: two responses of the same generation, one per type.
                h.store.commit(List.of(workload("default", "web-0", "10.0.0.1", "n" + (i + 2)),
                        authorization("default", "allow", i % 2 == 0)), Map.of(), System.nanoTime());
                nonces.add(c.nextAcked().getNonce());
                nonces.add(c.nextAcked().getNonce());
            }
            // A named subscription on top of the wildcard is answered for this stream alone.
            DeltaDiscoveryResponse own = c.subscribe(ADDRESS, "/10.0.0.3").nextAcked();
            assertThat(names(own)).containsExactly(podName("default", "db-0"));
            nonces.add(own.getNonce());
            h.upsert(workload("default", "db-0", "10.0.0.3", "n9"));
            nonces.add(c.nextAcked().getNonce());

            assertThat(new HashSet<>(nonces)).hasSameSizeAs(nonces);
            assertThat(nonces).anyMatch(n -> Nonce.parse(n).isShared()).anyMatch(n -> !Nonce.parse(n).isShared());
            assertThat(own.getNonce()).doesNotContain(".");
        }
    }

    @Test
    void ackAndNackMatchSharedNonces_olderOnesCountForWhatTheyCarried() {
        seed();
        try (DeltaClient c = h.delta("ztunnel-late-acks")) {
            c.wildcard(ADDRESS).nextAcked(); // generation 1
            h.upsert(workload("default", "web-0", "10.0.0.1", "n2"));
            DeltaDiscoveryResponse second = c.next(); // generation 2, not answered yet
            h.upsert(workload("default", "web-0", "10.0.0.1", "n3"));
            DeltaDiscoveryResponse third = c.next(); // generation 3
            assertThat(Nonce.parse(second.getNonce()).isShared()).isTrue();

            // Another type's shared nonce and one from the future are not ours to match.
            c.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(ADDRESS.typeUrl())
                    .setResponseNonce(Nonce.shared(AUTHORIZATION, 3).format()));
            c.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(ADDRESS.typeUrl())
                    .setResponseNonce(Nonce.shared(ADDRESS, 99).format()));
            c.ack(second);
            AdsHarness.await("the older ACK is recorded", () -> status().ackedNonce().equals(second.getNonce()));
            assertThat(status().ackedGeneration()).isEqualTo(2);

            c.nack(third, "workload default/web-0: node 'n3' unknown");
            AdsHarness.await("the NACK is recorded", () -> status().nackCount() == 1);
            assertThat(status().ackedGeneration()).isEqualTo(2);
            assertThat(status().sentNonce()).isEqualTo(third.getNonce());

            h.upsert(workload("default", "web-0", "10.0.0.1", "n4"));
            DeltaDiscoveryResponse fourth = c.nextAcked();
            AdsHarness.await("the newest ACK is recorded", () -> status().ackedNonce().equals(fourth.getNonce()));
            assertThat(status().ackedGeneration()).isEqualTo(4);
            assertThat(c.responses).isEmpty();
        }
    }

    @Test
    void onDemandAndWildcardClientsOnOneServerEachGetTheirOwnView() {
        seed();
        try (DeltaClient wild = h.delta("ztunnel-wild"); DeltaClient named = h.delta("ztunnel-named")) {
            wild.wildcard(ADDRESS).nextAcked();
            DeltaDiscoveryResponse first = named.onDemand(ADDRESS, Map.of()).nextAcked();
            assertThat(first.getResourcesList()).isEmpty();
            assertThat(names(named.subscribe(ADDRESS, "/10.0.0.1").nextAcked()))
                    .containsExactly(podName("default", "web-0"));

            h.store.commit(List.of(workload("default", "web-0", "10.0.0.1", "n5"),
                    workload("default", "db-0", "10.0.0.3", "n5")), Map.of(), System.nanoTime());
            DeltaDiscoveryResponse all = wild.nextAcked();
            DeltaDiscoveryResponse mine = named.nextAcked();
            assertThat(names(all)).containsExactlyInAnyOrder(podName("default", "web-0"), podName("default", "db-0"));
            assertThat(names(mine)).containsExactly(podName("default", "web-0"));
            assertThat(Nonce.parse(all.getNonce()).isShared()).isTrue();
            assertThat(Nonce.parse(mine.getNonce()).isShared()).isFalse();
        }
    }

    private XdsTypeStatus status() {
        return h.ads.clients().getFirst().types().getFirst();
    }
}
