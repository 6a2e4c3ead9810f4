package io.mocket.controlplane.xds;

import static io.mocket.controlplane.resources.ResourceType.ADDRESS;
import static io.mocket.controlplane.resources.ResourceType.AUTHORIZATION;
import static io.mocket.controlplane.xds.Fixtures.authorization;
import static io.mocket.controlplane.xds.Fixtures.workload;
import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.micrometer.core.instrument.Timer;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AdsMetricsTest {
    private final AdsHarness h = new AdsHarness();

    @AfterEach
    void tearDown() throws InterruptedException {
        h.close();
    }

    private Timer convergence() {
        return h.meters.get("mocket.xds.convergence").tag("type_url", ADDRESS.typeUrl()).timer();
    }

    @Test
    void convergenceIsRecordedOnceWhenTheLastSubscriberAcks() {
        h.upsert(workload("default", "web-0", "10.0.0.1", "n1"));
        try (DeltaClient a = h.delta("a"); DeltaClient b = h.delta("b")) {
            a.wildcard(ADDRESS).nextAcked();
            b.wildcard(ADDRESS).nextAcked();

            h.upsert(workload("default", "web-0", "10.0.0.1", "n2"));
            a.nextAcked();
            DeltaDiscoveryResponse toB = b.next();
            AdsHarness.await("a's ACK is recorded", () -> h.ads.clients().stream()
                    .filter(c -> c.nodeId().equals("a")).findFirst().orElseThrow().types().getFirst().ackedGeneration() == 2);
            assertThat(convergence().count()).as("b has not ACKed yet").isZero();

            b.ack(toB);
            AdsHarness.await("the convergence of generation 2 is recorded", () -> convergence().count() == 1);
            assertThat(convergence().totalTime(java.util.concurrent.TimeUnit.NANOSECONDS)).isPositive();
        }
    }

    @Test
    void aClientThatDisconnectsDoesNotHoldConvergenceBack() {
        h.upsert(workload("default", "web-0", "10.0.0.1", "n1"));
        try (DeltaClient a = h.delta("a"); DeltaClient b = h.delta("b")) {
            a.wildcard(ADDRESS).nextAcked();
            b.wildcard(ADDRESS).nextAcked();

            h.upsert(workload("default", "web-0", "10.0.0.1", "n2"));
            a.nextAcked();
            b.next();
            b.cancel();
            AdsHarness.await("the convergence is recorded once b is gone", () -> convergence().count() == 1);
        }
    }

    @Test
    void onDemandClientsThatNeedNothingFromACommitDoNotHoldItBack() {
        h.upsert(workload("default", "web-0", "10.0.0.1", "n1"), workload("default", "db-0", "10.0.0.3", "n1"));
        try (DeltaClient all = h.delta("wildcard"); DeltaClient few = h.delta("on-demand")) {
            all.wildcard(ADDRESS).nextAcked();
            few.onDemand(ADDRESS, Map.of()).nextAcked();
            few.subscribe(ADDRESS, "/10.0.0.3").nextAcked();

            h.upsert(workload("default", "web-0", "10.0.0.1", "n2"));
            all.nextAcked();
            AdsHarness.await("the convergence is recorded without the on-demand client", () -> convergence().count() == 1);
        }
    }

    @Test
    void pushesSizesResourcesAndClientsAreMeasured() {
        h.upsert(workload("default", "web-0", "10.0.0.1", "n1"), authorization("default", "allow", false));
        try (DeltaClient c = h.delta("measured")) {
            c.wildcard(ADDRESS).nextAcked();
            AdsHarness.await("the push is counted", () ->
                    h.meters.get("mocket.xds.pushes").tag("type_url", ADDRESS.typeUrl()).counter().count() == 1);
            assertThat(h.meters.get("mocket.xds.push.size").tag("type_url", ADDRESS.typeUrl()).summary().totalAmount())
                    .isPositive();
            assertThat(h.meters.get("mocket.xds.resources").tag("type_url", ADDRESS.typeUrl()).gauge().value()).isEqualTo(1);
            assertThat(h.meters.get("mocket.xds.resources").tag("type_url", AUTHORIZATION.typeUrl()).gauge().value())
                    .isEqualTo(1);
            assertThat(h.meters.get("mocket.xds.clients").tag("type_url", ADDRESS.typeUrl()).tag("protocol", "delta")
                    .gauge().value()).isEqualTo(1);
            assertThat(h.meters.get("mocket.xds.clients").tag("type_url", AUTHORIZATION.typeUrl()).tag("protocol", "delta")
                    .gauge().value()).isZero();
            assertThat(h.meters.get("mocket.xds.streams").tag("protocol", "delta").gauge().value()).isEqualTo(1);
        }
    }
}
