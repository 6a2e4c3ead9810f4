package io.mocket.controlplane.xds;

import static io.mocket.controlplane.resources.ResourceType.ADDRESS;
import static io.mocket.controlplane.xds.Fixtures.names;
import static io.mocket.controlplane.xds.Fixtures.podName;
import static io.mocket.controlplane.xds.Fixtures.workload;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class OutboundBudgetTest {

    @Test
    void aLargeResponseWaitsUntilTheTransportHasTakenTheOneBefore() throws Exception {
        // Every response counts and only one fits at a time.
        OutboundBudget budget = new OutboundBudget(1, 1);
        try (AdsHarness h = new AdsHarness(budget)) {
            h.upsert(workload("default", "web-0", "10.0.0.1", "n1"));
            try (DeltaClient slow = new DeltaClient(h.channel, "slow", true);
                 DeltaClient next = h.delta("next");
                 DeltaClient gone = h.delta("gone");
                 DeltaClient last = h.delta("last")) {
                DeltaDiscoveryResponse first = slow.wildcard(ADDRESS).next();
                // The slow client asks for nothing more, so its response still counts as in flight.
                AdsHarness.await("the slow client's response holds budget", () -> budget.inFlight() == first.getSerializedSize());

                next.wildcard(ADDRESS);
                gone.wildcard(ADDRESS);
                AdsHarness.await("the four streams are open", () -> h.ads.streamCount() == 4);
                assertThat(next.responses.poll(300, TimeUnit.MILLISECONDS)).as("sent while no budget was left").isNull();
                gone.cancel(); // leaves the line without taking its turn from the others
                last.wildcard(ADDRESS);

                slow.request(1); // the transport has taken the bytes: the budget goes to the next stream in line
                assertThat(names(next.nextAcked())).containsExactly(podName("default", "web-0"));
                assertThat(names(last.nextAcked())).containsExactly(podName("default", "web-0"));
                assertThat(gone.responses).as("a cancelled stream is skipped, not served").isEmpty();
            }
            AdsHarness.await("all budget is given back once the streams are gone", () -> budget.inFlight() == 0);
        }
    }

    @Test
    void aResponseLargerThanTheWholeBudgetGoesOutWhenNothingElseIsInFlight() {
        OutboundBudget budget = new OutboundBudget(10, 1);
        assertThat(budget.tryAcquire(1_000)).isTrue();
        assertThat(budget.tryAcquire(1)).isFalse();
        budget.release(1_000);
        assertThat(budget.tryAcquire(5)).isTrue();
        assertThat(budget.tryAcquire(5)).isTrue();
        assertThat(budget.tryAcquire(1)).isFalse();
        assertThat(budget.counts(0)).isFalse();
        assertThat(budget.counts(1)).isTrue();
    }

    @Test
    void aBudgetNeedsPositiveSizes() {
        assertThatThrownBy(() -> new OutboundBudget(0, 1)).hasMessageContaining("positive");
    }
}
