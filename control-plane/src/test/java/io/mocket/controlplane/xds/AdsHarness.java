package io.mocket.controlplane.xds;

import static org.assertj.core.api.Assertions.fail;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mocket.controlplane.resources.Commit;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.XdsResource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** A store, an AdsService and an in-process gRPC server and channel around them. */
final class AdsHarness implements AutoCloseable {
    static final Duration WAIT = Duration.ofSeconds(10);

    final ResourceStore store = new ResourceStore();
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    final ExecutorService executor = Executors.newFixedThreadPool(2);
    final AdsService ads;
    final Server server;
    final ManagedChannel channel;

    AdsHarness() {
        this(new OutboundBudget(OutboundBudget.DEFAULT_LIMIT_BYTES, OutboundBudget.DEFAULT_LARGE_BYTES));
    }

    AdsHarness(OutboundBudget budget) {
        ads = new AdsService(store, meters, executor, budget);
        String name = InProcessServerBuilder.generateName();
        try {
            server = InProcessServerBuilder.forName(name)
                    .addService(ads)
                    .addService(new IndexService(store))
                    .build()
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        channel = InProcessChannelBuilder.forName(name).maxInboundMessageSize(64 << 20).build();
    }

    Commit upsert(XdsResource... resources) {
        return store.commit(List.of(resources), Map.of(), System.nanoTime());
    }

    Commit remove(ResourceType type, String... names) {
        return store.commit(List.of(), Map.of(type, List.of(names)), System.nanoTime());
    }

    DeltaClient delta(String nodeId) {
        return new DeltaClient(channel, nodeId, false);
    }

    SotwClient sotw(String nodeId) {
        return new SotwClient(channel, nodeId);
    }

    /** Waits, bounded, until {@code condition} holds. */
    static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + WAIT + " waiting until " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted waiting until " + what);
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow();
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
        executor.shutdownNow();
    }
}
