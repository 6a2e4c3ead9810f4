package io.mocket.controlplane.xds;

import static io.mocket.controlplane.resources.ResourceType.ADDRESS;
import static io.mocket.controlplane.xds.Fixtures.names;
import static io.mocket.controlplane.xds.Fixtures.podName;
import static io.mocket.controlplane.xds.Fixtures.workload;
import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.grpc.Status;
import io.micrometer.core.instrument.Gauge;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AdsErrorsTest {
    private static final String CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

    private final AdsHarness h = new AdsHarness();

    @AfterEach
    void tearDown() throws InterruptedException {
        h.close();
    }

    @Test
    void unknownTypeUrlEndsOnlyThatStream() {
        h.upsert(workload("default", "web-0", "10.0.0.1", "n1"));
        try (DeltaClient good = h.delta("good"); DeltaClient bad = h.delta("bad")) {
            good.wildcard(ADDRESS).nextAcked();

            bad.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(CLUSTER_TYPE));
            Status status = bad.awaitClosed();
            assertThat(status.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(status.getDescription())
                    .contains(CLUSTER_TYPE)
                    .contains(ADDRESS.typeUrl())
                    .contains("type.googleapis.com/istio.security.Authorization");

            h.upsert(workload("default", "web-0", "10.0.0.1", "n2"));
            assertThat(names(good.nextAcked())).containsExactly(podName("default", "web-0"));
            AdsHarness.await("the bad stream is gone", () -> h.ads.streamCount() == 1);
        }
    }

    @Test
    void unknownTypeUrlOnALaterRequestEndsTheStream() {
        try (DeltaClient c = h.delta("later")) {
            c.wildcard(ADDRESS).nextAcked();
            c.send(DeltaDiscoveryRequest.newBuilder().setTypeUrl("type.googleapis.com/istio.workload.Workload"));
            Status status = c.awaitClosed();
            assertThat(status.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(status.getDescription()).contains("istio.workload.Workload");
        }
    }

    @Test
    void missingTypeUrlIsMalformed() {
        try (DeltaClient delta = h.delta("no-type"); SotwClient sotw = h.sotw("no-type-sotw")) {
            delta.send(DeltaDiscoveryRequest.newBuilder());
            Status d = delta.awaitClosed();
            assertThat(d.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(d.getDescription()).contains("no type_url").contains(ADDRESS.typeUrl());

            sotw.send(DiscoveryRequest.newBuilder().build());
            Status s = sotw.awaitClosed();
            assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(s.getDescription()).contains("no type_url");
        }
    }

    @Test
    void clientCancelCleansUp() {
        DeltaClient c = h.delta("leaving");
        c.wildcard(ADDRESS).nextAcked();
        SotwClient s = h.sotw("leaving-too");
        s.request(ADDRESS, null, "").next();
        assertThat(h.ads.clients()).hasSize(2);
        assertThat(clients("delta")).isEqualTo(1);
        assertThat(clients("sotw")).isEqualTo(1);

        c.cancel();
        s.close();
        AdsHarness.await("both streams are gone", () -> h.ads.clients().isEmpty());
        assertThat(clients("delta")).isZero();
        assertThat(clients("sotw")).isZero();
        assertThat(h.meters.get("mocket.xds.streams").tag("protocol", "delta").gauge().value()).isZero();
        // Nothing waits for a client that left.
        h.upsert(workload("default", "web-9", "10.0.0.9", "n1"));
        assertThat(h.ads.metrics().convergence(ADDRESS).pendingCount()).isZero();
    }

    @Test
    void halfClosedClientGetsWhatItAskedForThenTheStreamCompletes() {
        h.upsert(workload("default", "web-0", "10.0.0.1", "n1"));
        DeltaClient c = h.delta("grpcurl");
        c.wildcard(ADDRESS).halfClose();
        assertThat(names(c.next())).containsExactly(podName("default", "web-0"));
        assertThat(c.awaitClosed().getCode()).isEqualTo(Status.Code.OK);
        AdsHarness.await("the stream is gone", () -> h.ads.streamCount() == 0);
    }

    private double clients(String protocol) {
        Gauge g = h.meters.get("mocket.xds.clients").tag("protocol", protocol).tag("type_url", ADDRESS.typeUrl()).gauge();
        return g.value();
    }
}
