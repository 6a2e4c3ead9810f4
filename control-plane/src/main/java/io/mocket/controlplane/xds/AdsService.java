package io.mocket.controlplane.xds;

import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.BindableService;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.MeterRegistry;
import io.mocket.controlplane.resources.Commit;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.resources.ResourceType;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The aggregated discovery service (delta and state of the world) for the types of {@link ResourceType},
 * serving what the {@link ResourceStore} holds. Thread safe.
 *
 * <p>It only reads the store: the current snapshot, the commit listener and
 * {@link ResourceStore#changes}. A commit never blocks on clients: the listener hands the fan-out to the
 * push executor, and each stream computes its own push from the snapshot it last sent.
 */
public final class AdsService implements AggregatedDiscoveryServiceGrpc.AsyncService, BindableService {
    private static final Logger log = LoggerFactory.getLogger(AdsService.class);
    private static final Context.Key<String> PEER = Context.key("mocket.xds.peer");

    /** Streams drained by one fan-out task: small enough to keep every push thread busy, large enough to matter. */
    private static final int FAN_OUT_BATCH = 32;

    private final ResourceStore store;
    private final Executor executor;
    private final AdsMetrics metrics;
    private final ConcurrentHashMap<Long, AdsStream<?, ?, ?>> streams = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final String servedTypeUrls;
    private final SharedDeltaResponses sharedResponses;
    private final OutboundBudget outboundBudget;

    /**
     * @param store         the served state; this service registers a commit listener on it
     * @param meterRegistry where the {@code mocket.xds.*} meters go
     * @param pushExecutor  runs pushes and commit fan-out; must not run tasks on the caller's thread
     *                      (a fixed pool of about one thread per core fits: pushes are CPU work)
     */
    public AdsService(ResourceStore store, MeterRegistry meterRegistry, Executor pushExecutor) {
        this(store, meterRegistry, pushExecutor,
                new OutboundBudget(OutboundBudget.DEFAULT_LIMIT_BYTES, OutboundBudget.DEFAULT_LARGE_BYTES));
    }

    AdsService(ResourceStore store, MeterRegistry meterRegistry, Executor pushExecutor, OutboundBudget budget) {
        this.outboundBudget = Objects.requireNonNull(budget, "budget");
        this.store = Objects.requireNonNull(store, "store");
        this.executor = Objects.requireNonNull(pushExecutor, "pushExecutor");
        this.metrics = new AdsMetrics(meterRegistry, store);
        this.sharedResponses = new SharedDeltaResponses(store);
        this.servedTypeUrls = Arrays.stream(ResourceType.values()).map(ResourceType::typeUrl).toList().toString();
        store.addListener(this::committed);
    }

    /**
     * The generated service definition with the delta method's responses marshalled by
     * {@link EncodedResponseMarshaller}, so a response serialized once is written to every stream that
     * gets it. The method's name, type and schema (what reflection serves) are the generated ones.
     */
    @Override
    public ServerServiceDefinition bindService() {
        ServerServiceDefinition generated = AggregatedDiscoveryServiceGrpc.bindService(this);
        MethodDescriptor<DeltaDiscoveryRequest, DeltaDiscoveryResponse> delta =
                AggregatedDiscoveryServiceGrpc.getDeltaAggregatedResourcesMethod();
        MethodDescriptor<DeltaDiscoveryRequest, Object> encodedDelta = delta.toBuilder(delta.getRequestMarshaller(),
                new EncodedResponseMarshaller(delta.getResponseMarshaller())).build();
        ServiceDescriptor generatedService = generated.getServiceDescriptor();
        ServiceDescriptor.Builder service = ServiceDescriptor.newBuilder(generatedService.getName())
                .setSchemaDescriptor(generatedService.getSchemaDescriptor())
                .addMethod(encodedDelta);
        List<ServerMethodDefinition<?, ?>> others = generated.getMethods().stream()
                .filter(m -> !m.getMethodDescriptor().getFullMethodName().equals(delta.getFullMethodName()))
                .toList();
        others.forEach(m -> service.addMethod(m.getMethodDescriptor()));
        ServerServiceDefinition.Builder def = ServerServiceDefinition.builder(service.build())
                .addMethod(encodedDelta, ServerCalls.asyncBidiStreamingCall(this::deltaStream));
        others.forEach(def::addMethod);
        return ServerInterceptors.intercept(def.build(), new PeerCapture());
    }

    // deltaAggregatedResources of the generated interface is not implemented: bindService registers
    // deltaStream in its place, whose responses may be pre-encoded bytes.
    private StreamObserver<DeltaDiscoveryRequest> deltaStream(StreamObserver<Object> responseObserver) {
        var call = (ServerCallStreamObserver<Object>) responseObserver;
        DeltaStream stream = new DeltaStream(ids.incrementAndGet(), peer(), this, call);
        return open(stream, call);
    }

    @Override
    public StreamObserver<DiscoveryRequest> streamAggregatedResources(StreamObserver<DiscoveryResponse> responseObserver) {
        var call = (ServerCallStreamObserver<DiscoveryResponse>) responseObserver;
        SotwStream stream = new SotwStream(ids.incrementAndGet(), peer(), this, call);
        return open(stream, call);
    }

    /** The connected clients, ordered by stream id; for the debug endpoint. */
    public List<XdsClientStatus> clients() {
        return streams.values().stream()
                .sorted(Comparator.comparingLong(s -> s.id))
                .map(AdsStream::status)
                .toList();
    }

    /**
     * Ends every open stream with UNAVAILABLE so that clients reconnect (to another replica, or to this
     * one after a restart). Streams opened afterwards are served normally.
     */
    public void closeAllStreams() {
        Status status = Status.UNAVAILABLE.withDescription("control plane is shutting down; reconnect");
        for (AdsStream<?, ?, ?> s : streams.values()) {
            s.end(status);
        }
    }

    /** The open stream with {@code id}, or null (for tests). */
    AdsStream<?, ?, ?> stream(long id) {
        return streams.get(id);
    }

    /** Number of open streams. */
    public int streamCount() {
        return streams.size();
    }

    private <Q extends com.google.protobuf.Message, R> StreamObserver<Q> open(
            AdsStream<Q, R, ?> stream, ServerCallStreamObserver<R> call) {
        streams.put(stream.id, stream);
        metrics.streamOpened(stream.protocol);
        call.setOnReadyHandler(stream::schedule);
        call.setOnCancelHandler(stream::onGone);
        return new StreamObserver<>() {
            @Override
            public void onNext(Q request) {
                stream.onRequest(request);
            }

            @Override
            public void onError(Throwable t) {
                stream.onGone();
            }

            @Override
            public void onCompleted() {
                stream.onClientCompleted();
            }
        };
    }

    /** Called by a stream exactly once, when it is gone. */
    void removed(AdsStream<?, ?, ?> stream) {
        if (streams.remove(stream.id, stream)) {
            metrics.streamClosed(stream.protocol);
        }
    }

    /** The served type for {@code typeUrl}, or INVALID_ARGUMENT naming what is served. */
    ResourceType typeOf(String typeUrl) {
        if (typeUrl.isEmpty()) {
            throw Status.INVALID_ARGUMENT
                    .withDescription("request has no type_url: every ADS request must name the resource type, one of "
                            + servedTypeUrls)
                    .asRuntimeException();
        }
        return ResourceType.ofTypeUrl(typeUrl).orElseThrow(() -> Status.INVALID_ARGUMENT
                .withDescription("type URL '" + typeUrl + "' is not served by this control plane; subscribe to one of "
                        + servedTypeUrls)
                .asRuntimeException());
    }

    ResourceStore store() {
        return store;
    }

    SharedDeltaResponses sharedResponses() {
        return sharedResponses;
    }

    OutboundBudget outboundBudget() {
        return outboundBudget;
    }

    Executor executor() {
        return executor;
    }

    AdsMetrics metrics() {
        return metrics;
    }

    private void committed(Commit commit) {
        for (ResourceType type : ResourceType.values()) {
            if (commit.touches(type)) {
                metrics.convergence(type).committed(commit.generation(), commit.firstEventNanos());
            }
        }
        try {
            executor.execute(() -> fanOut(commit));
        } catch (RejectedExecutionException e) {
            log.debug("push executor rejected the fan-out of generation {}: shutting down", commit.generation(), e);
        }
    }

    /**
     * Hands the interested streams to the push executor in batches: each batch drains its streams one
     * after the other on one push thread, so a commit costs a task per batch rather than one per client,
     * while the batches still spread over all push threads.
     */
    private void fanOut(Commit commit) {
        List<AdsStream<?, ?, ?>> batch = new ArrayList<>(FAN_OUT_BATCH);
        for (AdsStream<?, ?, ?> s : streams.values()) {
            if (s.interestedIn(commit)) {
                batch.add(s);
                if (batch.size() == FAN_OUT_BATCH) {
                    submitBatch(batch, commit);
                    batch = new ArrayList<>(FAN_OUT_BATCH);
                }
            }
        }
        if (!batch.isEmpty()) {
            submitBatch(batch, commit);
        }
    }

    private void submitBatch(List<AdsStream<?, ?, ?>> batch, Commit commit) {
        try {
            executor.execute(() -> batch.forEach(AdsStream::drainHere));
        } catch (RejectedExecutionException e) {
            log.debug("push executor rejected a fan-out batch of generation {}: shutting down", commit.generation(), e);
        }
    }

    private static String peer() {
        String p = PEER.get();
        return p == null ? "unknown" : p;
    }

    /** Puts the transport's remote address in the call's context, where the stream reads it. */
    private static final class PeerCapture implements ServerInterceptor {
        @Override
        public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                           ServerCallHandler<Q, R> next) {
            SocketAddress addr = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
            String text = switch (addr) {
                case null -> "unknown";
                case InetSocketAddress inet when inet.getAddress() instanceof Inet6Address v6 ->
                        "[" + v6.getHostAddress() + "]:" + inet.getPort();
                case InetSocketAddress inet when inet.getAddress() != null ->
                        inet.getAddress().getHostAddress() + ":" + inet.getPort();
                default -> addr.toString();
            };
            return Contexts.interceptCall(Context.current().withValue(PEER, text), call, headers, next);
        }
    }
}
