package io.mocket.controlplane.xds;

import static io.mocket.controlplane.resources.ResourceType.ADDRESS;
import static io.mocket.controlplane.xds.Fixtures.names;
import static io.mocket.controlplane.xds.Fixtures.podName;
import static io.mocket.controlplane.xds.Fixtures.workload;
import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Requests that arrive while a drain holds the stream are queued and applied in order by that drain:
 * nothing a client asks for is lost or answered out of order, however requests and commits interleave.
 */
class AdsRequestOrderTest {
    private static final int PODS = 200;

    private final AdsHarness h = new AdsHarness();

    @AfterEach
    void tearDown() throws InterruptedException {
        h.close();
    }

    @Test
    void requestsThatFindTheStreamBusyAreQueuedAndAppliedInOrder() throws Exception {
        h.upsert(workload("default", "web-0", "10.0.0.1", "n1"), workload("default", "db-0", "10.0.0.3", "n1"));
        try (DeltaClient c = h.delta("ztunnel-queued")) {
            c.onDemand(ADDRESS, Map.of()).nextAcked();
            AdsStream<?, ?, ?> stream = h.ads.stream(h.ads.clients().getFirst().streamId());
            CountDownLatch holding = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread drainLike = Thread.ofPlatform().start(() -> stream.whileLocked(() -> {
                holding.countDown();
                try {
                    release.await(AdsHarness.WAIT.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            try {
                assertThat(holding.await(AdsHarness.WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
                // Subscribe web-0 and db-0 by their aliases, then drop web-0 again: only the order makes db-0 alone.
                c.subscribe(ADDRESS, "/10.0.0.1");
                c.subscribe(ADDRESS, "/10.0.0.3");
                c.unsubscribe(ADDRESS, "/10.0.0.1");
                AdsHarness.await("the three requests wait in the stream's queue", () -> stream.queuedRequests() == 3);
                assertThat(c.responses).isEmpty();
            } finally {
                release.countDown();
                drainLike.join(AdsHarness.WAIT.toMillis());
            }
            DeltaDiscoveryResponse r = c.nextAcked();
            assertThat(names(r)).containsExactly(podName("default", "db-0"));
            assertThat(r.getResourcesList().getFirst().getAliasesList()).containsExactly("/10.0.0.3");
            assertThat(stream.queuedRequests()).isZero();
        }
    }

    @Test
    void namesSubscribedOneRequestAtATimeDuringCommitsAreAllAnsweredWithTheirNewestVersion() throws Exception {
        for (int i = 0; i < PODS; i++) {
            h.upsert(workload("default", "pod-" + i, "10.2." + (i / 250) + "." + (i % 250), "n1"));
        }
        try (DeltaClient c = h.delta("ztunnel-busy")) {
            c.onDemand(ADDRESS, Map.of()).nextAcked();
            Thread writer = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < PODS; i++) {
                    h.upsert(workload("default", "pod-" + i, "10.2." + (i / 250) + "." + (i % 250), "n2"));
                }
            });
            for (int i = 0; i < PODS; i++) {
                c.subscribe(ADDRESS, podName("default", "pod-" + i)); // no waiting for answers in between
            }
            writer.join(TimeUnit.SECONDS.toMillis(10));
            assertThat(writer.isAlive()).isFalse();

            // Read (and ACK) until every name has arrived in its final version.
            Map<String, String> held = new HashMap<>();
            Set<String> want = new HashSet<>();
            for (int i = 0; i < PODS; i++) {
                want.add(podName("default", "pod-" + i));
            }
            long deadline = System.nanoTime() + AdsHarness.WAIT.toNanos();
            while (!finalVersions(held, want) && System.nanoTime() < deadline) {
                DeltaDiscoveryResponse r = c.responses.poll(100, TimeUnit.MILLISECONDS);
                if (r != null) {
                    c.ack(r);
                    assertThat(r.getRemovedResourcesList()).as("a name that exists is never reported removed").isEmpty();
                    for (Resource res : r.getResourcesList()) {
                        held.put(res.getName(), res.getVersion());
                    }
                }
            }
            assertThat(held.keySet()).containsExactlyInAnyOrderElementsOf(want);
            assertThat(finalVersions(held, want)).as("every name holds its newest version").isTrue();
            AdsHarness.await("the client's subscription lists every name",
                    () -> h.ads.clients().getFirst().types().getFirst().subscribedNames() == PODS);
        }
    }

    private boolean finalVersions(Map<String, String> held, Set<String> want) {
        for (String name : want) {
            if (!h.store.current().get(ADDRESS, name).version().equals(held.get(name))) {
                return false;
            }
        }
        return true;
    }
}
