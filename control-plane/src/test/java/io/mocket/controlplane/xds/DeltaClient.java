package io.mocket.controlplane.xds;

import static org.assertj.core.api.Assertions.fail;

import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.mocket.controlplane.resources.ResourceType;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A delta ADS client written against the generated stub; every wait is bounded. */
final class DeltaClient implements AutoCloseable {
    final String nodeId;
    final BlockingQueue<DeltaDiscoveryResponse> responses = new LinkedBlockingQueue<>();
    final CompletableFuture<Status> closed = new CompletableFuture<>();
    private final ClientCallStreamObserver<DeltaDiscoveryRequest> requests;
    private boolean sentNode;

    /** @param manualFlow when true the client reads only what {@link #request} allows (first response included) */
    DeltaClient(Channel channel, String nodeId, boolean manualFlow) {
        this.nodeId = nodeId;
        CompletableFuture<ClientCallStreamObserver<DeltaDiscoveryRequest>> out = new CompletableFuture<>();
        AggregatedDiscoveryServiceGrpc.newStub(channel).deltaAggregatedResources(
                new ClientResponseObserver<DeltaDiscoveryRequest, DeltaDiscoveryResponse>() {
                    @Override
                    public void beforeStart(ClientCallStreamObserver<DeltaDiscoveryRequest> stream) {
                        if (manualFlow) {
                            stream.disableAutoRequestWithInitial(1);
                        }
                        out.complete(stream);
                    }

                    @Override
                    public void onNext(DeltaDiscoveryResponse value) {
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

    DeltaClient send(DeltaDiscoveryRequest.Builder request) {
        if (!sentNode) {
            request.setNode(Node.newBuilder().setId(nodeId));
            sentNode = true;
        }
        requests.onNext(request.build());
        return this;
    }

    /** Legacy wildcard: first request with no names. */
    DeltaClient wildcard(ResourceType type) {
        return send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(type.typeUrl()));
    }

    DeltaClient subscribe(ResourceType type, String... names) {
        return send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(type.typeUrl()).addAllResourceNamesSubscribe(List.of(names)));
    }

    DeltaClient unsubscribe(ResourceType type, String... names) {
        return send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(type.typeUrl()).addAllResourceNamesUnsubscribe(List.of(names)));
    }

    /** ztunnel's on-demand start: subscribe and unsubscribe "*" in one request, i.e. subscribe to nothing. */
    DeltaClient onDemand(ResourceType type, Map<String, String> initialVersions) {
        return send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(type.typeUrl())
                .addResourceNamesSubscribe("*").addResourceNamesUnsubscribe("*")
                .putAllInitialResourceVersions(initialVersions));
    }

    DeltaDiscoveryResponse next() {
        try {
            DeltaDiscoveryResponse r = responses.poll(AdsHarness.WAIT.toMillis(), TimeUnit.MILLISECONDS);
            if (r == null) {
                fail("node " + nodeId + ": no delta response within " + AdsHarness.WAIT
                        + (closed.isDone() ? "; stream closed with " + closed.join() : ""));
            }
            return r;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    DeltaClient ack(DeltaDiscoveryResponse r) {
        return send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(r.getTypeUrl()).setResponseNonce(r.getNonce()));
    }

    DeltaClient nack(DeltaDiscoveryResponse r, String message) {
        return send(DeltaDiscoveryRequest.newBuilder().setTypeUrl(r.getTypeUrl()).setResponseNonce(r.getNonce())
                .setErrorDetail(com.google.rpc.Status.newBuilder().setCode(3).setMessage(message)));
    }

    /** Receives the next response and ACKs it, as a well-behaved client does. */
    DeltaDiscoveryResponse nextAcked() {
        DeltaDiscoveryResponse r = next();
        ack(r);
        return r;
    }

    /** Lets the server send {@code n} more responses (manual flow control only). */
    void request(int n) {
        requests.request(n);
    }

    Status awaitClosed() {
        try {
            return closed.get(AdsHarness.WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            throw new AssertionError("node " + nodeId + ": stream did not close within " + AdsHarness.WAIT, e);
        }
    }

    /** Ends the request side, as grpcurl does after its last request. */
    void halfClose() {
        requests.onCompleted();
    }

    void cancel() {
        requests.cancel("client goes away", null);
    }

    @Override
    public void close() {
        if (!closed.isDone()) {
            cancel();
        }
    }
}
