package io.mocket.controlplane.kube;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfig;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElector;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaderElectionRecord;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.Lock;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Elects one leader among control plane replicas with a coordination.k8s.io/v1 Lease (fabric8's
 * {@link LeaderElector}); a replica that loses the lease rejoins as a candidate until {@link #close()}, which
 * releases the lease so another replica takes over without waiting for it to expire.
 *
 * <p>{@link #isLeader()} is conservative: it turns false as soon as the last successful renewal is older
 * than the renew deadline, before the lease can expire for the other replicas. Serving xDS needs no
 * leadership (every replica serves); only Kubernetes writes do, through {@link LeaderGate}. The file source
 * has no election: it writes nothing and runs as one process.
 *
 * <p>RBAC: the ServiceAccount needs get, create and update (patch) on leases in {@link Settings#namespace()}.
 */
public final class LeaderElection implements LeaderGate.Leadership, AutoCloseable {

    /**
     * Where the lease lives and how it is timed (the Kubernetes defaults: 15 s / 10 s / 2 s).
     *
     * @param namespace     namespace of the Lease (normally the control plane's own)
     * @param leaseName     name of the Lease
     * @param identity      this replica's name in the Lease's holderIdentity (the pod name)
     * @param leaseDuration how long other candidates wait after the last renewal before taking over
     * @param renewDeadline how long the leader keeps retrying a failed renewal before it steps down
     * @param retryPeriod   how often candidates try to acquire and the leader renews
     */
    public record Settings(String namespace, String leaseName, String identity, Duration leaseDuration,
                           Duration renewDeadline, Duration retryPeriod) {

        public static final String DEFAULT_LEASE_NAME = "mocket-control-plane";

        public Settings {
            requireText(namespace, "namespace");
            requireText(leaseName, "leaseName");
            requireText(identity, "identity");
            Objects.requireNonNull(leaseDuration, "leaseDuration");
            Objects.requireNonNull(renewDeadline, "renewDeadline");
            Objects.requireNonNull(retryPeriod, "retryPeriod");
            if (!retryPeriod.isPositive() || retryPeriod.compareTo(renewDeadline) >= 0
                    || renewDeadline.compareTo(leaseDuration) >= 0) {
                throw new IllegalArgumentException("leader election needs 0 < retryPeriod < renewDeadline < "
                        + "leaseDuration, got " + retryPeriod + ", " + renewDeadline + ", " + leaseDuration
                        + ": the leader must step down before the others may take over");
            }
            if (leaseDuration.toMillis() % 1000 != 0) {
                throw new IllegalArgumentException("leaseDuration must be whole seconds (a Lease stores "
                        + "leaseDurationSeconds), got " + leaseDuration);
            }
        }

        /** Lease {@value #DEFAULT_LEASE_NAME} in {@code namespace}, identity from {@link #defaultIdentity()}. */
        public static Settings defaults(String namespace) {
            return new Settings(namespace, DEFAULT_LEASE_NAME, defaultIdentity(), Duration.ofSeconds(15),
                    Duration.ofSeconds(10), Duration.ofSeconds(2));
        }

        /** The pod name (env POD_NAME from the downward API, else HOSTNAME, else the host name). */
        public static String defaultIdentity() {
            for (String variable : List.of("POD_NAME", "HOSTNAME")) {
                String value = System.getenv(variable);
                if (value != null && !value.isBlank()) {
                    return value;
                }
            }
            try {
                return InetAddress.getLocalHost().getHostName();
            } catch (UnknownHostException e) {
                return "mocket-control-plane-" + ProcessHandle.current().pid();
            }
        }

        private static void requireText(String value, String name) {
            if (value == null || value.isBlank()) {
                throw new IllegalArgumentException("leader election " + name + " must not be blank");
            }
        }
    }

    /** Told about leadership changes, on the election thread; must return quickly. */
    public interface Listener {
        void onStartLeading();

        void onStopLeading();

        /** The holder changed; {@code identity} is null or empty when the lease was released. */
        default void onNewLeader(String identity) {
        }
    }

    private static final Logger log = LoggerFactory.getLogger(LeaderElection.class);

    private final KubernetesClient client;
    private final Settings settings;
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService executor;
    private final String lease;

    private volatile boolean started;
    private volatile boolean closed;
    private volatile boolean leading;
    private volatile long lastRenewNanos;
    private volatile String observedLeader;
    private CompletableFuture<?> round;

    public LeaderElection(KubernetesClient client, Settings settings) {
        this.client = Objects.requireNonNull(client, "client");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.lease = "Lease " + settings.namespace() + "/" + settings.leaseName();
        this.executor = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("mocket-leader-election").daemon().factory());
    }

    public void addListener(Listener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /** Joins the election and returns at once; never throws because the API is unreachable (it retries). */
    public synchronized void start() {
        if (closed) {
            throw new IllegalStateException("this LeaderElection was closed; create a new one to run again");
        }
        if (started) {
            return;
        }
        started = true;
        log.info("Joining leader election on {} as {}", lease, settings.identity());
        startRound();
    }

    /** True while this replica holds the lease and renewed it within the renew deadline. */
    @Override
    public boolean isLeader() {
        return leading && System.nanoTime() - lastRenewNanos < settings.renewDeadline().toNanos();
    }

    /** The holder this replica last saw in the lease, if any. */
    public Optional<String> leader() {
        String holder = observedLeader;
        return holder == null || holder.isEmpty() ? Optional.empty() : Optional.of(holder);
    }

    public String identity() {
        return settings.identity();
    }

    @Override
    public String notLeaderReason() {
        if (closed) {
            return "leader election on " + lease + " is closed";
        }
        if (!started) {
            return "leader election on " + lease + " has not been started";
        }
        if (leading) {
            long agoMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastRenewNanos);
            return "this replica (" + settings.identity() + ") last renewed " + lease + " " + agoMillis
                    + " ms ago, beyond the renew deadline of " + settings.renewDeadline().toMillis()
                    + " ms: another replica may lead by now";
        }
        Optional<String> holder = leader();
        if (holder.isPresent() && !holder.get().equals(settings.identity())) {
            return "this replica (" + settings.identity() + ") is not the leader of " + lease + "; "
                    + holder.get() + " is";
        }
        return "this replica (" + settings.identity() + ") does not hold " + lease + " and sees no leader yet: "
                + "check that the Kubernetes API is reachable and that the ServiceAccount may get, create and "
                + "update leases in " + settings.namespace();
    }

    /** Leaves the election, releasing the lease if held so another replica takes over at once. */
    @Override
    public void close() {
        CompletableFuture<?> current;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            current = round;
        }
        if (current != null) {
            // Cancelling runs fabric8's release of the lease (releaseOnCancel) before it returns.
            current.cancel(true);
        }
        markStopped();
        executor.shutdownNow();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private synchronized void startRound() {
        if (closed) {
            return;
        }
        LeaderElectionConfig config = new LeaderElectionConfig(
                new RenewTrackingLock(new LeaseLock(settings.namespace(), settings.leaseName(), settings.identity())),
                settings.leaseDuration(), settings.renewDeadline(), settings.retryPeriod(),
                new LeaderCallbacks(this::startedLeading, this::markStopped, this::newLeader),
                true, settings.leaseName());
        CompletableFuture<?> future = new LeaderElector(client, config, executor).start();
        round = future;
        // A round ends when this replica loses the lease; a LeaderElector runs once, so start a fresh one.
        future.whenComplete((ignored, error) -> {
            markStopped();
            if (!closed) {
                log.info("Left the leadership of {}; rejoining as a candidate in {}", lease, settings.retryPeriod());
                try {
                    executor.schedule(this::startRound, settings.retryPeriod().toMillis(), TimeUnit.MILLISECONDS);
                } catch (RejectedExecutionException e) {
                    // closing
                }
            }
        });
    }

    private void startedLeading() {
        leading = true;
        log.info("This replica ({}) is now the leader of {}", settings.identity(), lease);
        for (Listener listener : listeners) {
            notify(listener, Listener::onStartLeading);
        }
    }

    private void markStopped() {
        synchronized (this) {
            if (!leading) {
                return;
            }
            leading = false;
        }
        log.info("This replica ({}) is no longer the leader of {}", settings.identity(), lease);
        for (Listener listener : listeners) {
            notify(listener, Listener::onStopLeading);
        }
    }

    private void newLeader(String identity) {
        observedLeader = identity;
        log.debug("{} is held by {}", lease, identity == null || identity.isEmpty() ? "nobody" : identity);
        for (Listener listener : listeners) {
            notify(listener, l -> l.onNewLeader(identity));
        }
    }

    private static void notify(Listener listener, java.util.function.Consumer<Listener> call) {
        try {
            call.accept(listener);
        } catch (RuntimeException e) {
            log.error("A leadership listener failed; the election goes on", e);
        }
    }

    /** Records when this replica last wrote itself into the lease, so isLeader() can be conservative. */
    private final class RenewTrackingLock implements Lock {
        private final Lock delegate;

        RenewTrackingLock(Lock delegate) {
            this.delegate = delegate;
        }

        @Override
        public LeaderElectionRecord get(KubernetesClient kubernetesClient) {
            return delegate.get(kubernetesClient);
        }

        @Override
        public void create(KubernetesClient kubernetesClient, LeaderElectionRecord record) {
            long before = System.nanoTime();
            delegate.create(kubernetesClient, record);
            written(record, before);
        }

        @Override
        public void update(KubernetesClient kubernetesClient, LeaderElectionRecord record) {
            long before = System.nanoTime();
            delegate.update(kubernetesClient, record);
            written(record, before);
        }

        private void written(LeaderElectionRecord record, long startedNanos) {
            // Count from when the write started: the others count from the renewTime in the record, taken just
            // before, and the gap between renew deadline and lease duration absorbs the difference.
            if (settings.identity().equals(record.getHolderIdentity())) {
                lastRenewNanos = startedNanos;
            }
        }

        @Override
        public String identity() {
            return delegate.identity();
        }

        @Override
        public String describe() {
            return delegate.describe();
        }
    }
}
