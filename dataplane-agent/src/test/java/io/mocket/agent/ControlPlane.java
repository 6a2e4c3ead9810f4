package io.mocket.agent;

import com.google.protobuf.Message;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.workload.Address;
import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.XdsResource;
import io.mocket.controlplane.xds.AdsService;
import io.mocket.controlplane.xds.IndexService;
import io.mocket.controlplane.xds.XdsClientStatus;
import io.mocket.controlplane.xds.XdsServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;

/**
 * The real Mocket control plane's xDS server (ResourceStore + AdsService + XdsServer) on a loopback
 * ephemeral port, in the test's process. {@link #stop()} and {@link #start()} restart the server on the
 * same port with the same store, as a control plane restart looks to a client.
 */
final class ControlPlane implements AutoCloseable {

    final ResourceStore store = new ResourceStore();
    private final ExecutorService executor = Executors.newFixedThreadPool(2);
    private AdsService ads;
    private XdsServer server;
    private int port;

    ControlPlane start() {
        ads = new AdsService(store, new SimpleMeterRegistry(), executor);
        XdsServer.Settings settings = XdsServer.Settings.defaults().withBindAddress("127.0.0.1").withPort(port);
        settings = new XdsServer.Settings(settings.bindAddress(), settings.port(), Duration.ofSeconds(1),
                settings.maxInboundMessageBytes(), settings.keepAliveTime(), settings.keepAliveTimeout(),
                settings.maxConnectionAge(), settings.maxConnectionAgeGrace());
        server = new XdsServer(settings, ads, new IndexService(store)).start();
        port = server.port();
        return this;
    }

    void stop() {
        server.close();
        server = null;
    }

    String target() {
        return "127.0.0.1:" + port;
    }

    List<XdsClientStatus> clients() {
        return ads.clients();
    }

    void commit(Message... resources) {
        commit(List.of(resources), Set.of());
    }

    /** Upserts resources (Service, Workload or Authorization messages, or ready XdsResources) and removes names. */
    void commit(List<?> upserts, Set<String> removedAddresses) {
        List<XdsResource> out = new ArrayList<>();
        for (Object o : upserts) {
            out.add(switch (o) {
                case XdsResource r -> r;
                case Service s -> XdsResource.of(ResourceType.ADDRESS, s.getNamespace() + "/" + s.getHostname(),
                        List.of(), Address.newBuilder().setService(s).build());
                case Workload w -> XdsResource.of(ResourceType.ADDRESS, w.getUid(), List.of(),
                        Address.newBuilder().setWorkload(w).build());
                case Authorization a -> XdsResource.of(ResourceType.AUTHORIZATION, a.getNamespace() + "/" + a.getName(),
                        List.of(), a);
                default -> throw new IllegalArgumentException("not a resource: " + o);
            });
        }
        store.commit(out, removedAddresses.isEmpty() ? Map.of() : Map.of(ResourceType.ADDRESS, removedAddresses),
                System.nanoTime());
    }

    @Override
    public void close() {
        if (server != null) {
            server.close();
        }
        executor.shutdownNow();
    }

    /** Waits up to 15 s for a condition; fails with {@code what} otherwise. Polls every 10 ms. */
    static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting until " + what);
            }
        }
    }
}
