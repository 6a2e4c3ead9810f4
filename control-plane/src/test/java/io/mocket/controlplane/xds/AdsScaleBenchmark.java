package io.mocket.controlplane.xds;

import static io.mocket.controlplane.resources.ResourceType.ADDRESS;
import static io.mocket.controlplane.xds.Fixtures.serviceName;

import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.Timer;
import io.mocket.controlplane.resources.XdsResource;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Target scale in one process: 1,000 wildcard delta clients, 11,000 Address resources. A benchmark, not a
 * test: it asserts nothing and runs only with -Dmocket.bench=true; results belong in docs/benchmarks.md.
 */
@EnabledIfSystemProperty(named = "mocket.bench", matches = "true")
class AdsScaleBenchmark {
    private static final int CLIENTS = 1_000;
    private static final int WORKLOADS = 10_000;
    private static final int SERVICES = 1_000;
    private static final int COMMITS = 20;

    /** A client that ACKs everything and keeps nothing but counters. */
    private static final class LeanClient implements StreamObserver<DeltaDiscoveryResponse> {
        final AtomicLong responses = new AtomicLong();
        StreamObserver<DeltaDiscoveryRequest> out;

        @Override
        public void onNext(DeltaDiscoveryResponse r) {
            synchronized (this) {
                out.onNext(DeltaDiscoveryRequest.newBuilder().setTypeUrl(r.getTypeUrl()).setResponseNonce(r.getNonce()).build());
            }
            responses.incrementAndGet();
        }

        @Override
        public void onError(Throwable t) {
        }

        @Override
        public void onCompleted() {
        }
    }

    @Test
    void thousandWildcardClientsElevenThousandResources() throws Exception {
        try (AdsHarness h = new AdsHarness()) {
            List<XdsResource> all = new ArrayList<>();
            for (int s = 0; s < SERVICES; s++) {
                all.add(Fixtures.service("ns" + (s % 50), "svc-" + s, "10.96." + (s / 250) + "." + (s % 250)));
            }
            for (int i = 0; i < WORKLOADS; i++) {
                int s = i % SERVICES;
                all.add(Fixtures.workload("ns" + (s % 50), "pod-" + i, "10." + (1 + i / 62500) + "." + (i / 250 % 250) + "." + (i % 250),
                        "node-" + (i % 100), serviceName("ns" + (s % 50), "svc-" + s)));
            }
            h.store.commit(all, Map.of(), System.nanoTime());
            long heapBefore = usedHeapAfterGc();

            List<LeanClient> clients = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < CLIENTS; i++) {
                LeanClient c = new LeanClient();
                c.out = AggregatedDiscoveryServiceGrpc.newStub(h.channel).deltaAggregatedResources(c);
                synchronized (c) {
                    c.out.onNext(DeltaDiscoveryRequest.newBuilder().setTypeUrl(ADDRESS.typeUrl())
                            .setNode(Node.newBuilder().setId("ztunnel-" + i)).build());
                }
                clients.add(c);
            }
            AdsHarness.await("all clients have their first response",
                    () -> clients.stream().allMatch(c -> c.responses.get() >= 1));
            long initialSyncMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            AdsHarness.await("all first responses are ACKed", () -> h.ads.clients().stream()
                    .allMatch(c -> c.types().getFirst().ackedGeneration() == 1));
            long heapAfter = usedHeapAfterGc();

            Timer convergence = h.meters.get("mocket.xds.convergence").tag("type_url", ADDRESS.typeUrl()).timer();
            List<Long> perCommitMs = new ArrayList<>();
            for (int k = 0; k < COMMITS; k++) {
                long before = convergence.count();
                int i = k * 7;
                int s = i % SERVICES;
                h.upsert(Fixtures.workload("ns" + (s % 50), "pod-" + i, "10.1." + (i / 250 % 250) + "." + (i % 250),
                        "moved-" + k, serviceName("ns" + (s % 50), "svc-" + s)));
                long c0 = System.nanoTime();
                AdsHarness.await("commit " + k + " converged", () -> convergence.count() == before + 1);
                perCommitMs.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - c0));
            }
            perCommitMs.sort(Long::compare);
            System.out.printf("clients=%d resources=%d initial sync of all clients=%d ms; idle heap per client=%d bytes; "
                            + "one-resource commit to all ACKs: median %d ms, max %d ms (n=%d); convergence timer mean %.1f ms%n",
                    CLIENTS, all.size(), initialSyncMs, (heapAfter - heapBefore) / CLIENTS,
                    perCommitMs.get(perCommitMs.size() / 2), perCommitMs.getLast(), COMMITS,
                    convergence.mean(TimeUnit.MILLISECONDS));
        }
    }

    private static long usedHeapAfterGc() throws InterruptedException {
        for (int i = 0; i < 4; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
