package io.mocket.agent;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.mocket.api.xds.DeltaDiscoveryRequest;
import io.mocket.api.xds.Node;
import com.google.protobuf.InvalidProtocolBufferException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import java.util.stream.Collectors;

/**
 * The agent's delta xDS client: one ADS stream to the control plane with wildcard subscriptions to
 * {@code istio.workload.Address} and {@code istio.security.Authorization}, identified the way ztunnel
 * identifies itself. It only writes into {@link NodeState}.
 *
 * <p>Each response is decoded, applied to the store, and answered once the {@link DataPath} has applied
 * that generation: an ACK, or a NACK whose {@code error_detail} names every resource that could not be
 * applied (malformed, oversized, or left out of a full map) and why. A rejected resource keeps its last
 * good state; the rest of the response is applied (as ztunnel does). When the stream ends the client
 * reconnects with exponential backoff and jitter, declaring in {@code initial_resource_versions} what it
 * holds, so the control plane sends only what changed meanwhile, and removals in {@code removed_resources}.
 *
 * <p>The stream is a gRPC call on the agent's own HTTP/2 connection ({@link AdsConnection}), not on a general gRPC
 * stack: one call to one server is all the agent makes.
 *
 * <p>Threading: responses are handled one at a time on the client's own thread; answers go out in
 * response order from whichever thread completes the data path's future.
 */
public final class XdsClient implements AutoCloseable {
    private static final System.Logger log = System.getLogger(XdsClient.class.getName());

    /**
     * Envoy's delta ADS method, called with the agent's own copies of its messages ({@code mocket/xds/v1/delta.proto},
     * the same on the wire), so the agent does not load the Envoy API.
     */
    static final String DELTA_ADS_PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";
    /** A full push of a large mesh is one message: 11,000 resources are a few MiB. */
    static final int MAX_RESPONSE_BYTES = 256 << 20;
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    static final Duration KEEPALIVE_TIME = Duration.ofSeconds(30);
    static final Duration KEEPALIVE_TIMEOUT = Duration.ofSeconds(10);
    private static final int INVALID_ARGUMENT = AdsConnection.INVALID_ARGUMENT;
    private static final java.lang.management.ThreadMXBean THREADS =
            java.lang.management.ManagementFactory.getThreadMXBean();
    /** The JVM's collectors, looked up once (the lookup builds new beans every time). */
    private static final List<java.lang.management.GarbageCollectorMXBean> COLLECTORS =
            List.copyOf(java.lang.management.ManagementFactory.getGarbageCollectorMXBeans());
    static final int EXCHANGES_KEPT = 64;
    /**
     * Responses with at least this many resources are decoded on two threads (the second half on
     * {@code mocket-xds-decode}) when the machine has two cores or more: a full push of 10,000 workloads.
     */
    static final int PARALLEL_DECODE_MIN = 1_000;

    /** What a response's answer waits for: the data path applying the store's generation. */
    @FunctionalInterface
    public interface DataPath {
        /**
         * Completes once {@code generation} of the store is in force, with the resources that could not be
         * applied (name to problem), or exceptionally when the data path failed.
         */
        CompletionStage<Map<String, String>> applied(long generation);

        /** A data path that applies nothing and so never fails (a client without a kernel behind it). */
        DataPath NONE = generation -> CompletableFuture.completedFuture(Map.of());
    }

    /**
     * How to reach the control plane and who this node is.
     *
     * @param target           where the control plane serves delta ADS: host:port, e.g. "localhost:15110"
     * @param node             the xDS node (id and metadata) sent on every stream's first requests
     * @param initialBackoff   first reconnect delay
     * @param maxBackoff       longest reconnect delay
     * @param maxResourceBytes largest resource payload accepted; larger ones are NACKed
     */
    public record Settings(String target, Node node, Duration initialBackoff, Duration maxBackoff,
                           int maxResourceBytes) {
        public Settings {
            AdsConnection.Target.parse(Objects.requireNonNull(target, "target"));
            Objects.requireNonNull(node, "node");
            if (initialBackoff.isNegative() || initialBackoff.isZero() || maxBackoff.compareTo(initialBackoff) < 0) {
                throw new IllegalArgumentException("backoff must be positive and max >= initial: " + initialBackoff
                        + " / " + maxBackoff);
            }
        }
    }

    /**
     * The node identity ztunnel sends: id {@code ztunnel~<ip>~<pod>.<ns>~<ns>.svc.cluster.local} and
     * metadata with the node name, namespace, instance IPs, cluster id and (when set) network.
     */
    public static Node ztunnelNode(String podIp, String podName, String podNamespace, String nodeName,
                                   String clusterId, String network) {
        Struct.Builder meta = Struct.newBuilder()
                .putFields("NODE_NAME", string(nodeName))
                .putFields("NAMESPACE", string(podNamespace))
                .putFields("INSTANCE_IPS", string(podIp))
                .putFields("CLUSTER_ID", string(clusterId));
        if (!network.isEmpty()) {
            meta.putFields("NETWORK", string(network));
        }
        return Node.newBuilder()
                .setId("ztunnel~" + podIp + "~" + podName + "." + podNamespace + "~" + podNamespace
                        + ".svc.cluster.local")
                .setMetadata(meta)
                .build();
    }

    private static Value string(String s) {
        return Value.newBuilder().setStringValue(s).build();
    }

    /**
     * One response and its answer, kept for the debug endpoint and tests.
     *
     * @param stream           the stream number (1 for the first, +1 per reconnect)
     * @param initialVersions  how many resource versions the stream's first request of this kind declared
     * @param resources        how many resources the response carried
     * @param updated          their names, the first {@value #NAMES_KEPT} of them
     * @param removals         how many names the response removed
     * @param removed          those names, the first {@value #NAMES_KEPT} of them
     * @param nack             the error message sent back, empty for an ACK
     */
    public record Exchange(Instant at, long stream, ResourceKind kind, String nonce, int initialVersions,
                           int resources, List<String> updated, int removals, List<String> removed, String nack) {
        /**
         * Names kept per exchange: the 64 exchanges kept of full pushes of 10,000 workloads would otherwise hold
         * 640,000 names (tens of MiB) that the store has long replaced.
         */
        public static final int NAMES_KEPT = 100;

        public Exchange {
            updated = List.copyOf(updated.subList(0, Math.min(updated.size(), NAMES_KEPT)));
            removed = List.copyOf(removed.subList(0, Math.min(removed.size(), NAMES_KEPT)));
        }

        public boolean acked() {
            return nack.isEmpty();
        }
    }

    private final Settings settings;
    private final NodeState state;
    private final DataPath dataPath;
    private final AgentMetrics metrics;
    private final ResourceDecoder decoder;
    private final AdsConnection.Target target;
    private final ExecutorService callbacks;
    /** Decodes the second half of large responses; null on a single core. */
    private final ExecutorService decodeHelper;
    /** Reconnects and the connection's keepalive. */
    private final ScheduledExecutorService timer;
    private final ArrayDeque<Exchange> exchanges = new ArrayDeque<>();
    private volatile IntConsumer answered = resources -> { };
    private Stream current;
    private long streams;
    private int failedAttempts;
    private boolean closed;

    public XdsClient(Settings settings, NodeState state, DataPath dataPath, AgentMetrics metrics) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.state = Objects.requireNonNull(state, "state");
        this.dataPath = Objects.requireNonNull(dataPath, "dataPath");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.decoder = new ResourceDecoder(settings.maxResourceBytes());
        this.callbacks = Executors.newSingleThreadExecutor(Thread.ofPlatform().name("mocket-xds").daemon().factory());
        this.decodeHelper = Runtime.getRuntime().availableProcessors() < 2 ? null
                : Executors.newSingleThreadExecutor(Thread.ofPlatform().name("mocket-xds-decode").daemon().factory());
        this.timer = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("mocket-xds-timer").daemon().factory());
        this.target = AdsConnection.Target.parse(settings.target());
    }

    /** Opens the first stream; later ones open by themselves until {@link #close()}. */
    public XdsClient start() {
        timer.execute(this::connect);
        return this;
    }

    /**
     * Tells {@code listener} how many resources each response carried, once its answer went out (the data path
     * has applied it); on the answering thread, so it must not block.
     */
    public XdsClient onAnswered(IntConsumer listener) {
        this.answered = Objects.requireNonNull(listener, "listener");
        return this;
    }

    /** Whether the current stream has received a response and not ended. */
    public boolean connected() {
        return metrics.xdsConnected();
    }

    /** How many streams were opened so far. */
    public synchronized long streamsOpened() {
        return streams;
    }

    /** The last responses and their answers, oldest first. */
    public List<Exchange> exchanges() {
        synchronized (exchanges) {
            return List.copyOf(exchanges);
        }
    }

    private void connect() {
        Stream stream;
        synchronized (this) {
            if (closed) {
                return;
            }
            stream = new Stream(++streams);
            current = stream;
        }
        metrics.xdsStreamOpened();
        log.log(System.Logger.Level.INFO, "xDS stream {0} to {1} as {2}", stream.id, settings.target(),
                settings.node().getId());
        try {
            stream.connection = AdsConnection.open(target, DELTA_ADS_PATH, stream, MAX_RESPONSE_BYTES,
                    CONNECT_TIMEOUT, KEEPALIVE_TIME, KEEPALIVE_TIMEOUT, timer);
        } catch (AdsConnection.CallException e) {
            ended(stream, e);
            return;
        }
        NodeState.Snapshot held = state.snapshot();
        for (ResourceKind kind : ResourceKind.values()) {
            Map<String, String> versions = held.versions(kind);
            stream.initialVersions.put(kind, versions.size());
            stream.send(DeltaDiscoveryRequest.newBuilder()
                    .setNode(settings.node())
                    .setTypeUrl(kind.typeUrl())
                    .addResourceNamesSubscribe("*")
                    .putAllInitialResourceVersions(versions)
                    .build());
        }
    }

    /**
     * Applies one response and arranges its answer. Runs on the callback thread, one response at a time.
     *
     * @param arrived    {@link System#nanoTime()} when the response had been received whole
     * @param arrivedCpu the callback thread's CPU time before the response was parsed
     * @param arrivedGc  the collectors' accumulated pause time then
     */
    private void handle(Stream stream, DeltaResponse response, long arrived, long arrivedCpu, long arrivedGc) {
        if (!stream.isCurrent()) {
            return;
        }
        ResourceKind kind = ResourceKind.ofTypeUrl(response.typeUrl()).orElse(null);
        if (kind == null) {
            stream.send(DeltaDiscoveryRequest.newBuilder()
                    .setTypeUrl(response.typeUrl())
                    .setResponseNonce(response.nonce())
                    .setErrorDetail(io.mocket.api.xds.Status.newBuilder().setCode(INVALID_ARGUMENT)
                            .setMessage("the agent did not subscribe to " + response.typeUrl()))
                    .build());
            return;
        }
        metrics.xdsConnected(true);
        metrics.xdsResponse(kind);
        synchronized (this) {
            failedAttempts = 0; // the control plane answered: the next outage starts the backoff afresh
        }
        boolean first = stream.answered.add(kind);
        Map<String, String> problems = new LinkedHashMap<>();
        int count = response.resourceCount();
        List<NodeState.Entry<?>> upserts = new ArrayList<>(count);
        long helperCpu = 0;
        if (decodeHelper != null && count >= PARALLEL_DECODE_MIN) {
            // Two halves at once, joined in response order: the same entries and problems as one thread gives.
            int half = count / 2;
            Map<String, String> laterProblems = new LinkedHashMap<>();
            List<NodeState.Entry<?>> later = new ArrayList<>(count - half);
            java.util.concurrent.Future<Long> second = decodeHelper.submit(() -> {
                long cpu = THREADS.getCurrentThreadCpuTime();
                decode(kind, response, half, count, later, laterProblems);
                return THREADS.getCurrentThreadCpuTime() - cpu;
            });
            decode(kind, response, 0, half, upserts, problems);
            try {
                helperCpu = second.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while decoding " + response.nonce(), e);
            } catch (java.util.concurrent.ExecutionException e) {
                throw e.getCause() instanceof RuntimeException r ? r
                        : new IllegalStateException("decoding failed: " + e.getCause(), e.getCause());
            }
            upserts.addAll(later);
            laterProblems.forEach(problems::put);
        } else {
            decode(kind, response, 0, count, upserts, problems);
        }
        // The answer waits for the data path; it keeps only the names, not the response with every payload, so
        // a full push's bytes are garbage while the reconciler works on it.
        Received received = new Received(response.nonce(), response.names(), response.removedResources(), arrived);
        long generation = state.apply(new NodeState.Update(kind, upserts, received.removed(), first));
        long decoded = System.nanoTime();
        double decodeCpu = (THREADS.getCurrentThreadCpuTime() - arrivedCpu + helperCpu) / 1e9;
        CompletionStage<Map<String, String>> applied = dataPath.applied(generation);
        stream.answers = stream.answers.thenCompose(v -> applied.handle((failures, error) -> {
            answer(stream, kind, received, problems, failures, error);
            metrics.applied(kind, generation, (System.nanoTime() - arrived) / 1e9, (decoded - arrived) / 1e9,
                    decodeCpu, (gcMillis() - arrivedGc) / 1e3);
            return null;
        }));
    }

    /** Decodes resources [from, to) of a response into {@code upserts}, and the refused ones into {@code problems}. */
    private void decode(ResourceKind kind, DeltaResponse response, int from, int to, List<NodeState.Entry<?>> upserts,
                        Map<String, String> problems) {
        for (int i = from; i < to; i++) {
            try {
                upserts.add(decoder.decode(kind, response, i));
            } catch (InvalidResourceException e) {
                problems.put(e.resourceName(), e.problem());
            }
        }
    }

    /** The collectors' accumulated time (for the serial collector, pauses of every thread). */
    private static long gcMillis() {
        long ms = 0;
        for (java.lang.management.GarbageCollectorMXBean gc : COLLECTORS) {
            ms += Math.max(0, gc.getCollectionTime());
        }
        return ms;
    }

    /**
     * What the answer to a response needs of it.
     *
     * @param arrivedNanos {@link System#nanoTime()} when the whole response had been received
     */
    private record Received(String nonce, List<String> names, List<String> removed, long arrivedNanos) {
        Received {
            removed = List.copyOf(removed);
        }
    }

    private void answer(Stream stream, ResourceKind kind, Received response, Map<String, String> problems,
                        Map<String, String> failures, Throwable error) {
        Map<String, String> rejected = new LinkedHashMap<>(problems);
        if (error != null) {
            Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                    ? error.getCause() : error;
            rejected.put("(data path)", "the agent could not write its BPF maps: " + cause.getMessage());
        } else if (failures != null) {
            for (String name : response.names()) {
                String problem = failures.get(name);
                if (problem != null) {
                    rejected.putIfAbsent(name, problem);
                }
            }
        }
        DeltaDiscoveryRequest.Builder req = DeltaDiscoveryRequest.newBuilder()
                .setTypeUrl(kind.typeUrl())
                .setResponseNonce(response.nonce());
        String nack = "";
        if (!rejected.isEmpty()) {
            // Members of a service that did not fit share its problem: one line per problem, naming them all.
            Map<String, List<String>> byProblem = new LinkedHashMap<>();
            rejected.forEach((name, problem) -> byProblem.computeIfAbsent(problem, p -> new ArrayList<>()).add(name));
            nack = "rejected " + rejected.size() + " of " + response.names().size() + " resources: "
                    + byProblem.entrySet().stream()
                    .map(e -> String.join(", ", e.getValue()) + ": " + e.getKey())
                    .collect(Collectors.joining("; "));
            req.setErrorDetail(io.mocket.api.xds.Status.newBuilder().setCode(INVALID_ARGUMENT).setMessage(nack));
            metrics.xdsNack(kind);
            log.log(System.Logger.Level.WARNING, "NACK {0} nonce {1}: {2}", kind.typeUrl(), response.nonce(), nack);
        }
        stream.send(req.build());
        answered.accept(response.names().size());
        record(new Exchange(Instant.now(), stream.id, kind, response.nonce(),
                stream.initialVersions.getOrDefault(kind, 0), response.names().size(), response.names(),
                response.removed().size(), response.removed(), nack));
    }

    private void record(Exchange e) {
        synchronized (exchanges) {
            exchanges.addLast(e);
            while (exchanges.size() > EXCHANGES_KEPT) {
                exchanges.removeFirst();
            }
        }
    }

    private void ended(Stream stream, Throwable error) {
        long delayMs;
        synchronized (this) {
            if (stream != current || closed) {
                return;
            }
            current = null;
            metrics.xdsConnected(false);
            long ceiling = Math.min(settings.maxBackoff().toMillis(),
                    settings.initialBackoff().toMillis() << Math.min(failedAttempts, 20));
            failedAttempts++;
            // Jitter over the upper half spreads the reconnects of every node after a control plane restart.
            delayMs = ceiling / 2 + ThreadLocalRandom.current().nextLong(ceiling / 2 + 1);
        }
        log.log(System.Logger.Level.WARNING, "xDS stream {0} to {1} ended ({2}); reconnecting in {3} ms", stream.id,
                settings.target(), error == null ? "closed by the server" : error.toString(), delayMs);
        try {
            timer.schedule(this::connect, delayMs, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // closing
        }
    }

    /** Ends the stream and the channel. The store keeps what it holds. */
    @Override
    public void close() {
        Stream stream;
        synchronized (this) {
            closed = true;
            stream = current;
            current = null;
        }
        metrics.xdsConnected(false);
        if (stream != null) {
            stream.cancel();
        }
        timer.shutdownNow();
        callbacks.shutdownNow();
        if (decodeHelper != null) {
            decodeHelper.shutdownNow();
        }
    }

    /** One ADS stream: a gRPC call on its own connection. */
    private final class Stream implements AdsConnection.Listener {
        final long id;
        final Set<ResourceKind> answered = EnumSet.noneOf(ResourceKind.class);
        final Map<ResourceKind, Integer> initialVersions = new java.util.concurrent.ConcurrentHashMap<>();
        /** The chain of answers, so they go out in response order. */
        CompletableFuture<Void> answers = CompletableFuture.completedFuture(null);
        /** Set once the connection is open, before any request is sent. */
        volatile AdsConnection connection;

        Stream(long id) {
            this.id = id;
        }

        boolean isCurrent() {
            synchronized (XdsClient.this) {
                return current == this;
            }
        }

        /** Sends on the stream's connection, which keeps whole messages apart; nothing once it has closed. */
        void send(DeltaDiscoveryRequest request) {
            AdsConnection c = connection;
            if (c == null || c.isClosed()) {
                return;
            }
            try {
                c.send(request.toByteArray());
            } catch (AdsConnection.CallException e) {
                log.log(System.Logger.Level.DEBUG, "xDS stream " + id + ": request not sent: " + e);
            }
        }

        void cancel() {
            AdsConnection c = connection;
            if (c != null) {
                c.cancel("the agent is shutting down");
            }
        }

        /** On the connection's reader thread: the response is parsed and applied on the callback thread. */
        @Override
        public void onMessage(byte[] message, long receivedNanos) {
            try {
                callbacks.execute(() -> received(message, receivedNanos));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // closing
            }
        }

        private void received(byte[] message, long receivedNanos) {
            long cpu = THREADS.getCurrentThreadCpuTime();
            long gc = gcMillis();
            DeltaResponse response;
            try {
                response = DeltaResponse.parse(message);
            } catch (InvalidProtocolBufferException e) {
                log.log(System.Logger.Level.ERROR, "xDS stream " + id + ": the control plane's response is not a"
                        + " DeltaDiscoveryResponse (" + e.getMessage() + "); reconnecting");
                AdsConnection c = connection;
                if (c != null) {
                    c.cancel("the control plane's response is not a DeltaDiscoveryResponse: " + e.getMessage());
                }
                return;
            }
            try {
                handle(this, response, receivedNanos, cpu, gc);
            } catch (RuntimeException e) {
                // A bug here must not kill the stream silently: answer with the error and keep the last state.
                log.log(System.Logger.Level.ERROR, "xDS response " + response.nonce() + " could not be handled", e);
                send(DeltaDiscoveryRequest.newBuilder()
                        .setTypeUrl(response.typeUrl())
                        .setResponseNonce(response.nonce())
                        .setErrorDetail(io.mocket.api.xds.Status.newBuilder().setCode(AdsConnection.INTERNAL)
                                .setMessage("the agent failed to apply the response: " + e))
                        .build());
            }
        }

        /** The call ended (on the reader thread, or the thread that cancelled it); handled after queued responses. */
        @Override
        public void onClose(AdsConnection.CallException failure) {
            try {
                callbacks.execute(() -> ended(this, failure));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // closing
            }
        }
    }
}
