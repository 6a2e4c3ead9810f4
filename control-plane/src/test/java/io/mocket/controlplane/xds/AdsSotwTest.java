package io.mocket.controlplane.xds;

import static io.mocket.controlplane.resources.ResourceType.ADDRESS;
import static io.mocket.controlplane.resources.ResourceType.AUTHORIZATION;
import static io.mocket.controlplane.xds.Fixtures.authorization;
import static io.mocket.controlplane.xds.Fixtures.podName;
import static io.mocket.controlplane.xds.Fixtures.service;
import static io.mocket.controlplane.xds.Fixtures.serviceName;
import static io.mocket.controlplane.xds.Fixtures.workload;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.workload.Address;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AdsSotwTest {
    private static final String WEB = serviceName("default", "web");

    private final AdsHarness h = new AdsHarness();

    @AfterEach
    void tearDown() throws InterruptedException {
        h.close();
    }

    private static List<String> addressNames(DiscoveryResponse r) {
        return r.getResourcesList().stream().map(AdsSotwTest::nameOf).toList();
    }

    private static String nameOf(Any any) {
        try {
            Address a = any.unpack(Address.class);
            return a.hasWorkload() ? a.getWorkload().getUid() : a.getService().getNamespace() + "/" + a.getService().getHostname();
        } catch (InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void everyResponseCarriesTheFullStateWithTheGenerationAsVersion() throws Exception {
        h.upsert(authorization("default", "a", false), authorization("default", "b", false));
        try (SotwClient c = h.sotw("grpc-client")) {
            DiscoveryResponse first = c.request(AUTHORIZATION, null, "").next();
            assertThat(first.getVersionInfo()).isEqualTo("1");
            assertThat(first.getTypeUrl()).isEqualTo(AUTHORIZATION.typeUrl());
            assertThat(first.getResourcesList()).hasSize(2)
                    .allSatisfy(any -> assertThat(any.getTypeUrl()).isEqualTo(AUTHORIZATION.typeUrl()));
            c.ack(first);

            h.upsert(authorization("default", "c", true));
            DiscoveryResponse second = c.next();
            assertThat(second.getVersionInfo()).isEqualTo("2");
            assertThat(second.getResourcesList()).hasSize(3);
            assertThat(second.getNonce()).isNotEqualTo(first.getNonce());
            c.ack(second);

            h.remove(AUTHORIZATION, "default/a");
            DiscoveryResponse third = c.next();
            assertThat(third.getVersionInfo()).isEqualTo("3");
            assertThat(third.getResourcesList()).extracting(any -> {
                try {
                    return any.unpack(Authorization.class).getName();
                } catch (InvalidProtocolBufferException e) {
                    throw new AssertionError(e);
                }
            }).containsExactlyInAnyOrder("b", "c");
            c.ack(third);

            AdsHarness.await("the ACK of version 3 is recorded", () ->
                    h.ads.clients().getFirst().types().getFirst().ackedGeneration() == 3);
            XdsClientStatus status = h.ads.clients().getFirst();
            assertThat(status.protocol()).isEqualTo(XdsProtocol.SOTW);
            assertThat(status.nodeId()).isEqualTo("grpc-client");
            assertThat(status.types().getFirst().ackedNonce()).isEqualTo(third.getNonce());
            assertThat(status.types().getFirst().wildcard()).isTrue();
        }
    }

    @Test
    void namedSubscriptionGetsItsResourcesByAliasAndServiceMembers() {
        h.upsert(service("default", "web", "10.96.0.10"),
                workload("default", "web-0", "10.0.0.1", "n1", WEB),
                workload("default", "db-0", "10.0.0.3", "n1"));
        try (SotwClient c = h.sotw("named")) {
            DiscoveryResponse first = c.request(ADDRESS, null, "", "/10.96.0.10").next();
            assertThat(addressNames(first)).containsExactlyInAnyOrder(WEB, podName("default", "web-0"));
            c.ack(first, "/10.96.0.10");

            // An unrelated change sends nothing; a change in the set sends the whole set again.
            h.upsert(workload("default", "db-0", "10.0.0.3", "n2"));
            h.upsert(workload("default", "web-1", "10.0.0.2", "n1", WEB));
            DiscoveryResponse second = c.next();
            assertThat(addressNames(second)).containsExactlyInAnyOrder(WEB, podName("default", "web-0"),
                    podName("default", "web-1"));
            assertThat(second.getVersionInfo()).isEqualTo("3");

            // Changing the names answers with the new set.
            c.ack(second, "/10.0.0.3");
            assertThat(addressNames(c.next())).containsExactly(podName("default", "db-0"));
        }
    }

    @Test
    void nackIsCountedAndTheSameStateIsNotResent() {
        h.upsert(authorization("default", "a", false));
        try (SotwClient c = h.sotw("picky")) {
            DiscoveryResponse first = c.request(AUTHORIZATION, null, "").next();
            c.ack(first);
            h.upsert(authorization("default", "b", false));
            DiscoveryResponse bad = c.next();
            c.nack(bad, first.getVersionInfo(), "policy default/b: unsupported");
            AdsHarness.await("the NACK is counted", () ->
                    h.meters.counter("mocket.xds.nacks", "type_url", AUTHORIZATION.typeUrl()).count() == 1);
            XdsTypeStatus s = h.ads.clients().getFirst().types().getFirst();
            assertThat(s.lastNackMessage()).isEqualTo("policy default/b: unsupported");
            assertThat(s.ackedGeneration()).isEqualTo(1);

            h.upsert(authorization("default", "c", false));
            DiscoveryResponse next = c.next();
            assertThat(next.getVersionInfo()).isEqualTo("3");
            assertThat(next.getResourcesList()).hasSize(3);
        }
    }

    @Test
    void staleNonceIsIgnored() {
        h.upsert(authorization("default", "a", false));
        try (SotwClient c = h.sotw("racy")) {
            DiscoveryResponse first = c.request(AUTHORIZATION, null, "").next();
            h.upsert(authorization("default", "b", false));
            DiscoveryResponse second = c.next();
            // The answer to the first response arrives after the second was sent: not an ACK of anything current.
            c.ack(first);
            c.ack(second);
            AdsHarness.await("the ACK of the second response is recorded", () ->
                    h.ads.clients().getFirst().types().getFirst().ackedNonce().equals(second.getNonce()));
            assertThat(h.ads.clients().getFirst().types().getFirst().ackedGeneration()).isEqualTo(2);
        }
    }
}
