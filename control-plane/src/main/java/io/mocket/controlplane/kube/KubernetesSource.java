package io.mocket.controlplane.kube;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.Gateway;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ExceptionHandler;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.BasicItemStore;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads every {@link KubeKind} from the Kubernetes API in all namespaces with fabric8 informers and delivers
 * it to a {@link ClusterSink}: {@code replaceAll} per kind after every complete list (the first one and each
 * relist), {@code upsert}/{@code delete} for watch events in between. It never throws because the API is
 * unreachable; {@link #health()} says so instead while the sink keeps the last delivered state, and the
 * informers keep retrying. The caller owns the client and closes it after {@link #close()}.
 *
 * <p>A kind whose CustomResourceDefinition is not installed (Istio or Gateway API missing) is delivered as an
 * empty set, logged once at WARN with the fix, and probed again every {@link Settings#crdRetryPeriod()}. It
 * does not block readiness: without its CRD no object of the kind can exist, so the empty set is the true
 * state and not a stale one, and a cluster without the Gateway API must still get workload xDS.
 */
public final class KubernetesSource implements AutoCloseable {

    /**
     * Timing of the source.
     *
     * @param resyncPeriod      how often informers re-deliver every cached object as an upsert; zero disables
     *                          it (the default: watches already deliver every change and the index dedupes
     *                          by content, so a resync only repeats what the sink has); at least 1 s if set
     * @param crdRetryPeriod    how often a kind whose CRD was missing is probed again
     * @param healthProbePeriod how often, while some watch is down, the API is probed to name the cause in
     *                          {@link #health()}; also the period of restarting feeds that failed to start
     */
    public record Settings(Duration resyncPeriod, Duration crdRetryPeriod, Duration healthProbePeriod) {
        public Settings {
            Objects.requireNonNull(resyncPeriod, "resyncPeriod");
            Objects.requireNonNull(crdRetryPeriod, "crdRetryPeriod");
            Objects.requireNonNull(healthProbePeriod, "healthProbePeriod");
            if (resyncPeriod.isNegative() || (!resyncPeriod.isZero() && resyncPeriod.toMillis() < 1000)) {
                // fabric8 silently raises shorter periods to 1 s; refuse them so the setting means what it says.
                throw new IllegalArgumentException("resyncPeriod must be zero (off) or at least 1s, not " + resyncPeriod);
            }
            if (!crdRetryPeriod.isPositive() || !healthProbePeriod.isPositive()) {
                throw new IllegalArgumentException("crdRetryPeriod and healthProbePeriod must be positive, not "
                        + crdRetryPeriod + " and " + healthProbePeriod);
            }
        }

        /** Resync off, CRDs probed every 30 s, health probed every 5 s while a watch is down. */
        public static Settings defaults() {
            return new Settings(Duration.ZERO, Duration.ofSeconds(30), Duration.ofSeconds(5));
        }
    }

    private static final Logger log = LoggerFactory.getLogger(KubernetesSource.class);

    private final KubernetesClient client;
    private final ClusterSink sink;
    private final Settings settings;
    private final Counter errors;
    private final String apiUrl;
    private final Map<KubeKind, Feed> feeds = new EnumMap<>(KubeKind.class);
    private final ScheduledExecutorService scheduler;
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Result of the last API probe while something was down; null when the API answered or all is synced. */
    private volatile Failure apiFailure;
    /** The last time every kind was listed and watched: the age of what the sink holds after a disconnect. */
    private volatile Instant lastInSyncAt;

    public KubernetesSource(KubernetesClient client, ClusterSink sink, Settings settings, MeterRegistry meterRegistry) {
        this.client = Objects.requireNonNull(client, "client");
        this.sink = Objects.requireNonNull(sink, "sink");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.errors = Counter.builder("mocket.source.errors")
                .description("Errors reading cluster objects: failed lists and watches of the Kubernetes API, "
                        + "invalid documents of the file source")
                .tag("source", "kubernetes")
                .register(meterRegistry);
        this.apiUrl = String.valueOf(client.getMasterUrl());
        for (KubeKind kind : KubeKind.values()) {
            feeds.put(kind, new Feed(kind));
        }
        this.scheduler = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("mocket-kubernetes-source").daemon().factory());
    }

    /** Starts one informer per kind and returns at once; objects arrive in the sink as lists complete. */
    public void start() {
        if (closed.get()) {
            throw new IllegalStateException("this KubernetesSource was closed; create a new one to read again");
        }
        if (!started.compareAndSet(false, true)) {
            return;
        }
        log.info("Reading {} from the Kubernetes API at {} (all namespaces)", kindNames(feeds.keySet()), apiUrl);
        feeds.values().forEach(Feed::start);
        long probeMillis = settings.healthProbePeriod().toMillis();
        scheduler.scheduleWithFixedDelay(this::checkConnection, probeMillis, probeMillis, TimeUnit.MILLISECONDS);
        long crdMillis = settings.crdRetryPeriod().toMillis();
        scheduler.scheduleWithFixedDelay(this::probeMissingCrds, crdMillis, crdMillis, TimeUnit.MILLISECONDS);
    }

    /**
     * Synced when every kind has been listed (or its CRD is absent) and every watch is live; otherwise a reason
     * naming the API, the cause and the age of the state the sink still holds.
     */
    public SourceHealth health() {
        if (!started.get()) {
            return SourceHealth.notReady("the Kubernetes source has not been started");
        }
        if (closed.get()) {
            return SourceHealth.notReady("the Kubernetes source is closed");
        }
        List<Feed> waiting = new ArrayList<>();
        List<Feed> reconnecting = new ArrayList<>();
        for (Feed feed : feeds.values()) {
            if (feed.crdMissing) {
                continue;
            }
            if (!feed.listed) {
                waiting.add(feed);
            } else if (!feed.watching()) {
                reconnecting.add(feed);
            }
        }
        if (waiting.isEmpty() && reconnecting.isEmpty()) {
            lastInSyncAt = Instant.now();
            return SourceHealth.ok();
        }
        Instant since = lastInSyncAt;
        String kept = since == null
                ? "no complete state received yet"
                : "serving the last state from " + since.truncatedTo(ChronoUnit.SECONDS);
        Failure cause = apiFailure;
        List<Feed> down = new ArrayList<>(waiting);
        down.addAll(reconnecting);
        if (cause == null) {
            cause = down.stream().map(f -> f.lastFailure).filter(Objects::nonNull)
                    .max((a, b) -> a.at().compareTo(b.at())).orElse(null);
        }
        Failure found = cause;
        List<KubeKind> culprits = down.stream()
                .filter(f -> found != null && f.lastFailure != null && sameCause(f.lastFailure, found))
                .map(f -> f.kind).toList();
        if (culprits.isEmpty()) {
            culprits = down.stream().map(f -> f.kind).toList();
        }
        String downKinds = kindNames(culprits);
        switch (cause) {
            case Unreachable u -> {
                return SourceHealth.notReady("Kubernetes API unreachable at " + apiUrl + ": " + u.description()
                        + "; " + kept);
            }
            case Refused r -> {
                return SourceHealth.notReady("Kubernetes API at " + apiUrl + " refused to list or watch " + downKinds
                        + ": " + r.description() + r.hint(culprits.getFirst()) + "; " + kept);
            }
            case Undecodable d -> {
                return SourceHealth.notReady("cannot decode " + downKinds + " read from " + apiUrl + ": "
                        + d.description() + ": an object does not match the model the control plane reads; fix or "
                        + "delete it; " + kept);
            }
            case null -> {
            }
        }
        if (!waiting.isEmpty()) {
            return SourceHealth.notReady("waiting for the first list of "
                    + kindNames(waiting.stream().map(f -> f.kind).toList()) + " from " + apiUrl + "; " + kept);
        }
        return SourceHealth.notReady("the watch of " + kindNames(reconnecting.stream().map(f -> f.kind).toList())
                + " at " + apiUrl + " is reconnecting; " + kept);
    }

    /** Kinds currently served as empty because their CRD is not installed in the cluster. */
    public Set<KubeKind> missingCrds() {
        Set<KubeKind> missing = EnumSet.noneOf(KubeKind.class);
        feeds.values().stream().filter(f -> f.crdMissing).forEach(f -> missing.add(f.kind));
        return Collections.unmodifiableSet(missing);
    }

    /** Stops every informer; the sink keeps what was delivered. The client stays open (the caller owns it). */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        scheduler.shutdownNow();
        feeds.values().forEach(Feed::stop);
        try {
            if (!scheduler.awaitTermination(5, TimeUnit.SECONDS)) {
                log.warn("The Kubernetes source's probe thread did not stop within 5s; it is a daemon and will "
                        + "not keep the process alive");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private SharedIndexInformer<? extends HasMetadata> newInformer(KubeKind kind) {
        long resync = settings.resyncPeriod().toMillis();
        return switch (kind) {
            case NAMESPACE -> slim(client.namespaces().runnableInformer(resync));
            case NODE -> slim(client.nodes().runnableInformer(resync));
            case POD -> slim(client.pods().inAnyNamespace().runnableInformer(resync));
            case SERVICE -> slim(client.services().inAnyNamespace().runnableInformer(resync));
            case AUTHORIZATION_POLICY, PEER_AUTHENTICATION -> slim(
                    client.genericKubernetesResources(KindModel.context(kind)).inAnyNamespace().runnableInformer(resync));
            case GATEWAY -> slim(client.resources(Gateway.class).inAnyNamespace().runnableInformer(resync));
        };
    }

    private static <T extends HasMetadata> SharedIndexInformer<T> slim(SharedIndexInformer<T> informer) {
        return informer.itemStore(new SlimItemStore<>());
    }

    /**
     * The informer cache, minus metadata.managedFields: server-side apply bookkeeping that nothing in the
     * control plane reads and that is often the largest part of a Pod. Objects are stripped as they enter the
     * cache, before the sink sees them (the same instances), as istiod's informers do.
     */
    private static final class SlimItemStore<T extends HasMetadata> extends BasicItemStore<T> {
        SlimItemStore() {
            super(Cache::metaNamespaceKeyFunc);
        }

        @Override
        public T put(String key, T object) {
            if (object.getMetadata() != null && object.getMetadata().getManagedFields() != null) {
                object.getMetadata().setManagedFields(null);
            }
            return super.put(key, object);
        }
    }

    /** While something is down, asks the API for its version so that health can name the actual cause. */
    private void checkConnection() {
        try {
            for (Feed feed : feeds.values()) {
                if (feed.informer == null && !feed.crdMissing && !closed.get()) {
                    feed.start();
                }
            }
            if (health().synced()) {
                apiFailure = null;
                return;
            }
            try {
                client.getKubernetesVersion();
                apiFailure = null;
            } catch (RuntimeException e) {
                apiFailure = Failure.of(e);
                log.debug("Kubernetes API at {} did not answer a version probe", apiUrl, e);
            }
        } catch (RuntimeException e) {
            log.warn("Checking the connection to the Kubernetes API at {} failed unexpectedly; will retry", apiUrl, e);
        }
    }

    private void probeMissingCrds() {
        for (Feed feed : feeds.values()) {
            if (!feed.crdMissing || closed.get()) {
                continue;
            }
            String crd = KindModel.crdName(feed.kind);
            try {
                client.genericKubernetesResources(KindModel.context(feed.kind)).inAnyNamespace()
                        .list(new ListOptionsBuilder().withLimit(1L).build());
                log.info("CustomResourceDefinition {} is installed now: reading {}", crd, feed.kind.kind());
            } catch (KubernetesClientException e) {
                if (e.getCode() == 404) {
                    log.debug("CustomResourceDefinition {} is still not installed", crd);
                    continue;
                }
                if (e.getCode() <= 0) {
                    log.debug("Probing CustomResourceDefinition {} failed; will retry", crd, e);
                    continue;
                }
                // Any other answer (403, 500) means the resource exists now; the informer reports what is wrong.
                log.info("CustomResourceDefinition {} answers now (HTTP {}): reading {}", crd, e.getCode(),
                        feed.kind.kind());
            } catch (RuntimeException e) {
                log.debug("Probing CustomResourceDefinition {} failed; will retry", crd, e);
                continue;
            }
            feed.crdMissing = false;
            feed.listed = false;
            feed.start();
        }
    }

    /** "30s", "300ms": durations as people write them in logs. */
    static String human(Duration duration) {
        return duration.toMillis() % 1000 == 0 ? duration.toSeconds() + "s" : duration.toMillis() + "ms";
    }

    private static String kindNames(java.util.Collection<KubeKind> kinds) {
        return kinds.stream().map(KubeKind::kind).collect(Collectors.joining(", "));
    }

    /** Why a list, watch or API probe failed, as health reports it. */
    private sealed interface Failure permits Unreachable, Refused, Undecodable {
        Instant at();

        String description();

        static Failure of(Throwable t) {
            KubernetesClientException kce = find(t, KubernetesClientException.class);
            if (kce != null && kce.getCode() > 0) {
                String message = kce.getStatus() != null && kce.getStatus().getMessage() != null
                        ? kce.getStatus().getMessage() : kce.getMessage();
                return new Refused(Instant.now(), kce.getCode(), "HTTP " + kce.getCode() + " " + message);
            }
            if (ExceptionHandler.isDeserializationException(t)) {
                Throwable root = t;
                while (root.getCause() != null && root.getCause() != root) {
                    root = root.getCause();
                }
                String message = String.valueOf(root.getMessage()).lines().findFirst().orElse("");
                return new Undecodable(Instant.now(), root.getClass().getSimpleName() + ": " + message);
            }
            return new Unreachable(Instant.now(), Unreachable.describe(t));
        }
    }

    /** The API answered with an HTTP error. */
    private record Refused(Instant at, int code, String description) implements Failure {
        /** The fix for the answers a deployment can cause, with a leading "; ", or nothing. */
        String hint(KubeKind kind) {
            String resource = KindModel.plural(kind) + (kind.group().isEmpty() ? "" : "." + kind.group());
            return switch (code) {
                case 401 -> "; the API rejected the control plane's credentials: check the ServiceAccount token "
                        + "mounted into the pod";
                case 403 -> "; grant get, list and watch on " + resource + " to the control plane's ServiceAccount "
                        + "in its ClusterRole";
                default -> "";
            };
        }
    }

    /** The API answered, but an object did not fit the class the control plane reads it as. */
    private record Undecodable(Instant at, String description) implements Failure {
    }

    /** No HTTP answer: connection refused, timeout, DNS, TLS. */
    private record Unreachable(Instant at, String description) implements Failure {

        /** Names the transport failure a person can act on, not the wrapper the HTTP client put around it. */
        static String describe(Throwable t) {
            for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
                String detail = c.getMessage() == null || c.getMessage().isBlank() ? "" : " (" + c.getMessage() + ")";
                switch (c) {
                    case ConnectException e -> {
                        return "connection refused or no route to the API server" + detail;
                    }
                    case HttpConnectTimeoutException e -> {
                        return "connect timed out" + detail;
                    }
                    case UnknownHostException e -> {
                        return "unknown host" + detail;
                    }
                    case SSLException e -> {
                        return "TLS handshake failed" + detail + ": check the API server certificate and CA";
                    }
                    default -> {
                    }
                }
            }
            Throwable root = t;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            String message = root.getMessage() != null ? root.getMessage() : t.getMessage();
            return root.getClass().getSimpleName() + (message == null ? "" : ": " + message);
        }
    }

    private static boolean sameCause(Failure a, Failure b) {
        return a.getClass() == b.getClass() && (!(a instanceof Refused ra) || ra.code() == ((Refused) b).code());
    }

    private static <E extends Throwable> E find(Throwable t, Class<E> type) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (type.isInstance(c)) {
                return type.cast(c);
            }
        }
        return null;
    }

    /**
     * The informer of one kind and what it has told us. Event callbacks run on that informer's serial event
     * thread, exception callbacks on its reflector thread, start/stop on the caller or the probe thread.
     */
    private final class Feed implements ResourceEventHandler<HasMetadata>, ExceptionHandler {
        private final KubeKind kind;
        private volatile SharedIndexInformer<? extends HasMetadata> informer;
        /** Between onBeforeList and onList the closing replaceAll covers every event, so events are dropped. */
        private volatile boolean listing = true;
        private volatile boolean listed;
        private volatile boolean crdMissing;
        private volatile Failure lastFailure;

        Feed(KubeKind kind) {
            this.kind = kind;
        }

        synchronized void start() {
            if (closed.get() || informer != null) {
                return;
            }
            try {
                SharedIndexInformer<? extends HasMetadata> created = newInformer(kind);
                created.addEventHandler(this);
                // fabric8's default handler gives up when the first list fails (API down at start) or a watch
                // fails; this one always retries and records the cause for health().
                created.exceptionHandler(this);
                listing = true;
                informer = created;
                created.start();
            } catch (RuntimeException e) {
                informer = null;
                lastFailure = Failure.of(e);
                errors.increment();
                log.warn("Could not start reading {} from {}; will retry in {}", kind.kind(), apiUrl,
                        human(settings.healthProbePeriod()), e);
            }
        }

        synchronized void stop() {
            stop(informer);
        }

        /** Stops {@code which} if it is still this feed's informer (a later start may have replaced it). */
        synchronized void stop(SharedIndexInformer<? extends HasMetadata> which) {
            if (which != null && which == informer) {
                informer = null;
                which.stop();
            }
        }

        boolean watching() {
            SharedIndexInformer<? extends HasMetadata> current = informer;
            return current != null && current.isWatching();
        }

        @Override
        public void onBeforeList(String lastSyncResourceVersion) {
            listing = true;
        }

        @Override
        public void onList(String resourceVersion, boolean remainedEmpty) {
            SharedIndexInformer<? extends HasMetadata> current = informer;
            if (current == null) {
                return;
            }
            List<HasMetadata> all = List.copyOf(current.getStore().list());
            listing = false;
            boolean first = !listed;
            listed = true;
            lastFailure = null;
            sink.replaceAll(kind, all);
            if (first) {
                log.info("Listed {} {} from {} (resourceVersion {})", all.size(), kind.kind(), apiUrl, resourceVersion);
            } else {
                log.info("Relisted {}: {} objects at resourceVersion {}", kind.kind(), all.size(), resourceVersion);
            }
        }

        @Override
        public void onAdd(HasMetadata object) {
            if (!listing) {
                sink.upsert(kind, object);
            }
        }

        @Override
        public void onUpdate(HasMetadata oldObject, HasMetadata newObject) {
            if (!listing) {
                sink.upsert(kind, newObject);
            }
        }

        @Override
        public void onDelete(HasMetadata object, boolean deletedFinalStateUnknown) {
            if (!listing) {
                sink.delete(kind, object);
            }
        }

        @Override
        public boolean retryAfterException(boolean isStarted, Throwable t) {
            errors.increment();
            Failure failure = Failure.of(t);
            if (failure instanceof Refused r && r.code() == 404 && KindModel.isCustomResource(kind)) {
                crdMissing(informer);
                return true;
            }
            Failure previous = lastFailure;
            lastFailure = failure;
            boolean changed = previous == null || !sameCause(previous, failure);
            String note = switch (failure) {
                case Refused r -> r.hint(kind);
                case Undecodable d -> ": an object does not match the model the control plane reads; fix or delete it";
                case Unreachable u -> "";
            };
            if (changed) {
                log.warn("Reading {} from {} failed ({}{}); retrying with backoff, the sink keeps the last state",
                        kind.kind(), apiUrl, failure.description(), note);
            } else {
                log.debug("Reading {} from {} failed again ({})", kind.kind(), apiUrl, failure.description());
            }
            return true;
        }

        /** Called on the reflector thread when the list answered 404 for a custom resource kind. */
        private void crdMissing(SharedIndexInformer<? extends HasMetadata> which) {
            if (!crdMissing) {
                crdMissing = true;
                log.warn("CustomResourceDefinition {} ({} {}) is not installed: serving {} as an empty set and "
                                + "checking again every {}. To read it, {}.", KindModel.crdName(kind),
                        kind.apiVersion(), kind.kind(), kind.kind(), human(settings.crdRetryPeriod()),
                        KindModel.crdInstallHint(kind));
                sink.replaceAll(kind, List.of());
            }
            // Park the informer: its own backoff would retry every 32 s with a stack trace each time; the CRD
            // probe restarts it once the CRD answers.
            try {
                scheduler.execute(() -> stop(which));
            } catch (RejectedExecutionException e) {
                // closing: close() stops every informer anyway
            }
        }
    }
}
