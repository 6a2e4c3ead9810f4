package io.mocket.controlplane.xds;

import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.stub.ServerCallStreamObserver;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.Snapshot;
import java.util.function.LongSupplier;

/** A StreamAggregatedResources (state of the world) stream. */
final class SotwStream extends AdsStream<DiscoveryRequest, DiscoveryResponse, SotwSubscription> {

    SotwStream(long id, String peer, AdsService service, ServerCallStreamObserver<DiscoveryResponse> call) {
        super(id, XdsProtocol.SOTW, peer, service, call);
    }

    @Override
    SotwSubscription newSubscription(ResourceType type, long position) {
        return new SotwSubscription(type, position);
    }

    @Override
    String typeUrlOf(DiscoveryRequest request) {
        return request.getTypeUrl();
    }

    @Override
    String nodeIdOf(DiscoveryRequest request) {
        return request.hasNode() ? request.getNode().getId() : "";
    }

    @Override
    void apply(SotwSubscription sub, DiscoveryRequest request, boolean first) {
        if (!first && !request.getResponseNonce().isEmpty()) {
            boolean rejected = request.hasErrorDetail();
            answered(sub, request.getResponseNonce(), rejected, rejected ? messageOf(request) : "");
            if (!request.getResponseNonce().equals(sub.sentNonce())) {
                // Stale: a newer response is on its way and the client will answer that one with its
                // current names (SotW rule); the answer itself still tells what the client applied.
                return;
            }
        }
        sub.apply(request, first);
    }

    @Override
    boolean owesResponse(SotwSubscription sub) {
        return sub.owesResponse();
    }

    @Override
    DiscoveryResponse next(SotwSubscription sub, Snapshot cur, LongSupplier seq) {
        return sub.next(cur, service.store(), seq);
    }

    @Override
    int sizeOf(DiscoveryResponse response) {
        return response.getSerializedSize();
    }

    private static String messageOf(DiscoveryRequest request) {
        String m = request.getErrorDetail().getMessage();
        return m.isEmpty() ? "error code " + request.getErrorDetail().getCode() + " without message" : m;
    }
}
