package io.mocket.controlplane.xds;

import static org.assertj.core.api.Assertions.fail;

import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.mocket.controlplane.resources.ResourceType;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A state-of-the-world ADS client written against the generated stub; every wait is bounded. */
final class SotwClient implements AutoCloseable {
    final String nodeId;
    final BlockingQueue<DiscoveryResponse> responses = new LinkedBlockingQueue<>();
    final CompletableFuture<Status> closed = new CompletableFuture<>();
    private final ClientCallStreamObserver<DiscoveryRequest> requests;

    SotwClient(Channel channel, String nodeId) {
        this.nodeId = nodeId;
        CompletableFuture<ClientCallStreamObserver<DiscoveryRequest>> out = new CompletableFuture<>();
        AggregatedDiscoveryServiceGrpc.newStub(channel).streamAggregatedResources(
                new ClientResponseObserver<DiscoveryRequest, DiscoveryResponse>() {
                    @Override
                    public void beforeStart(ClientCallStreamObserver<DiscoveryRequest> stream) {
                        out.complete(stream);
                    }

                    @Override
                    public void onNext(DiscoveryResponse value) {
                        responses.add(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        closed.complete(Status.fromThrowable(t));
                    }

                    @Override
                    public void onCompleted() {
                        closed.complete(Status.OK);
                    }
                });
        requests = out.join();
    }

    /** A request for {@code names} of {@code type}, answering {@code previous} (null on the first). */
    SotwClient request(ResourceType type, DiscoveryResponse previous, String versionInfo, String... names) {
        DiscoveryRequest.Builder b = DiscoveryRequest.newBuilder()
                .setNode(Node.newBuilder().setId(nodeId))
                .setTypeUrl(type.typeUrl())
                .setVersionInfo(versionInfo)
                .addAllResourceNames(List.of(names));
        if (previous != null) {
            b.setResponseNonce(previous.getNonce());
        }
        requests.onNext(b.build());
        return this;
    }

    SotwClient send(DiscoveryRequest request) {
        requests.onNext(request);
        return this;
    }

    SotwClient ack(DiscoveryResponse r, String... names) {
        return request(ResourceType.ofTypeUrl(r.getTypeUrl()).orElseThrow(), r, r.getVersionInfo(), names);
    }

    SotwClient nack(DiscoveryResponse r, String keptVersion, String message, String... names) {
        requests.onNext(DiscoveryRequest.newBuilder()
                .setTypeUrl(r.getTypeUrl())
                .setVersionInfo(keptVersion)
                .setResponseNonce(r.getNonce())
                .addAllResourceNames(List.of(names))
                .setErrorDetail(com.google.rpc.Status.newBuilder().setCode(3).setMessage(message))
                .build());
        return this;
    }

    DiscoveryResponse next() {
        try {
            DiscoveryResponse r = responses.poll(AdsHarness.WAIT.toMillis(), TimeUnit.MILLISECONDS);
            if (r == null) {
                fail("node " + nodeId + ": no SotW response within " + AdsHarness.WAIT
                        + (closed.isDone() ? "; stream closed with " + closed.join() : ""));
            }
            return r;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    Status awaitClosed() {
        try {
            return closed.get(AdsHarness.WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            throw new AssertionError("node " + nodeId + ": stream did not close within " + AdsHarness.WAIT, e);
        }
    }

    @Override
    public void close() {
        if (!closed.isDone()) {
            requests.cancel("client goes away", null);
        }
    }
}
