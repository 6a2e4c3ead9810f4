package io.mocket.controlplane.xds;

import static io.mocket.controlplane.resources.ResourceType.ADDRESS;
import static io.mocket.controlplane.resources.ResourceType.AUTHORIZATION;
import static io.mocket.controlplane.xds.Fixtures.authorization;
import static io.mocket.controlplane.xds.Fixtures.workload;
import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.resources.XdsResource;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What a stream keeps: shared resources, no per-resource state for wildcard clients. */
class AdsFootprintTest {

    @Test
    void responsesShareTheResourcesWireObjects() {
        ResourceStore store = new ResourceStore();
        XdsResource w = workload("default", "web-0", "10.0.0.1", "n1");
        store.commit(List.of(w), Map.of(), 1);

        // A response made for one stream (here: named resources) holds the stored wire objects.
        SharedDeltaResponses shared = new SharedDeltaResponses(store);
        DeltaSubscription delta = new DeltaSubscription(ADDRESS, 0);
        delta.apply(DeltaDiscoveryRequest.newBuilder().setTypeUrl(ADDRESS.typeUrl())
                .addResourceNamesSubscribe(w.name()).build(), true);
        DeltaDiscoveryResponse d = (DeltaDiscoveryResponse) delta.next(store.current(), store, shared, () -> 1);
        assertThat(d.getResources(0)).isSameAs(w.wire());

        // Wildcard clients at the same point share one serialized response, bytes and all.
        DeltaSubscription one = new DeltaSubscription(ADDRESS, 0);
        DeltaSubscription two = new DeltaSubscription(ADDRESS, 0);
        one.apply(DeltaDiscoveryRequest.newBuilder().setTypeUrl(ADDRESS.typeUrl()).build(), true);
        two.apply(DeltaDiscoveryRequest.newBuilder().setTypeUrl(ADDRESS.typeUrl()).build(), true);
        Object first = one.next(store.current(), store, shared, () -> 2);
        assertThat(first).isInstanceOf(SharedDeltaResponses.Encoded.class);
        assertThat(two.next(store.current(), store, shared, () -> 3)).isSameAs(first);

        SotwSubscription sotw = new SotwSubscription(ADDRESS, 0);
        sotw.apply(io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest.newBuilder()
                .setTypeUrl(ADDRESS.typeUrl()).build(), true);
        DiscoveryResponse s = sotw.next(store.current(), store, () -> 2);
        assertThat(s.getResources(0)).isSameAs(w.wire().getResource());
    }

    @Test
    void idleWildcardDeltaClientsStayWellUnder32KiBEach() throws Exception {
        int resources = 2_000;
        int clients = 200;
        try (AdsHarness h = new AdsHarness()) {
            List<XdsResource> all = new ArrayList<>();
            for (int i = 0; i < resources; i++) {
                all.add(workload("ns" + (i % 20), "pod-" + i, "10.1." + (i / 250) + "." + (i % 250), "n" + (i % 50)));
            }
            all.add(authorization("default", "allow", false));
            h.store.commit(all, Map.of(), System.nanoTime());

            long before = usedHeapAfterGc();
            List<DeltaClient> open = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                DeltaClient c = h.delta("ztunnel-" + i);
                c.wildcard(ADDRESS).nextAcked();
                c.wildcard(AUTHORIZATION).nextAcked();
                open.add(c);
            }
            AdsHarness.await("every client ACKed both types", () -> h.ads.clients().stream()
                    .allMatch(c -> c.types().size() == 2 && c.types().stream().allMatch(t -> t.ackedGeneration() == 1)));
            long after = usedHeapAfterGc();
            long perClient = (after - before) / clients;
            System.out.printf("idle wildcard delta client (server + in-process client side): %d bytes%n", perClient);
            // Both ends of the in-process call are counted, so the server's share is smaller still.
            assertThat(perClient).isLessThan(32 * 1024);
            open.forEach(DeltaClient::close);
        }
    }

    private static long usedHeapAfterGc() throws InterruptedException {
        for (int i = 0; i < 4; i++) {
            System.gc();
            Thread.sleep(50);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
