package io.mocket.controlplane.xds;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.stub.ServerCallStreamObserver;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.Snapshot;
import java.util.function.LongSupplier;

/**
 * A DeltaAggregatedResources stream. Its responses are {@link DeltaDiscoveryResponse}s or
 * {@link SharedDeltaResponses.Encoded} bytes, which the method's {@link EncodedResponseMarshaller} writes.
 */
final class DeltaStream extends AdsStream<DeltaDiscoveryRequest, Object, DeltaSubscription> {

    DeltaStream(long id, String peer, AdsService service, ServerCallStreamObserver<Object> call) {
        super(id, XdsProtocol.DELTA, peer, service, call);
    }

    @Override
    DeltaSubscription newSubscription(ResourceType type, long position) {
        return new DeltaSubscription(type, position);
    }

    @Override
    String typeUrlOf(DeltaDiscoveryRequest request) {
        return request.getTypeUrl();
    }

    @Override
    String nodeIdOf(DeltaDiscoveryRequest request) {
        return request.hasNode() ? request.getNode().getId() : "";
    }

    @Override
    void apply(DeltaSubscription sub, DeltaDiscoveryRequest request, boolean first) {
        // A nonce on a type's first request comes from an earlier stream: nothing here to acknowledge.
        if (!first && !request.getResponseNonce().isEmpty()) {
            boolean rejected = request.hasErrorDetail();
            answered(sub, request.getResponseNonce(), rejected, rejected ? messageOf(request) : "");
        }
        // Subscription changes count even with a stale nonce (incremental xDS rule).
        sub.apply(request, first);
    }

    @Override
    boolean owesResponse(DeltaSubscription sub) {
        return sub.owesResponse();
    }

    @Override
    Object next(DeltaSubscription sub, Snapshot cur, LongSupplier seq) {
        return sub.next(cur, service.store(), service.sharedResponses(), seq);
    }

    @Override
    int sizeOf(Object response) {
        return switch (response) {
            case SharedDeltaResponses.Encoded e -> e.bytes().length;
            case DeltaDiscoveryResponse m -> m.getSerializedSize();
            default -> throw new IllegalStateException("unexpected delta response " + response.getClass().getName());
        };
    }

    private static String messageOf(DeltaDiscoveryRequest request) {
        String m = request.getErrorDetail().getMessage();
        return m.isEmpty() ? "error code " + request.getErrorDetail().getCode() + " without message" : m;
    }
}
