package io.mocket.agent;

import io.mocket.bpf.BackendKey;
import io.mocket.bpf.BpfException;
import io.mocket.bpf.EndpointKey;
import io.mocket.bpf.Errno;
import io.mocket.bpf.FrontendKey;
import io.mocket.bpf.FrontendValue;
import io.mocket.bpf.LoadBalancerMaps;
import io.mocket.bpf.ServiceKey;
import io.mocket.bpf.ServiceValue;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Keeps the socket load balancer's maps equal to what {@link NodeState} says, for this node: on every
 * change (debounced) it computes the {@link DesiredState}, plans the smallest set of writes against the
 * {@link KernelView} read back at start ({@link ReconcilePlan}) and applies it through
 * {@link LoadBalancerMaps}. Service and backend ids come from {@link IdTable}s seeded from the kernel, so
 * a restarted agent adopts what its predecessor wrote instead of rewriting it.
 *
 * <p>Nothing is written before the node holds the control plane's full Address state: an agent that
 * restarts with an empty store must not delete what the kernel is serving. A service port that does not
 * fit is left whole as it was and reported through {@link #applied}, which the xDS client waits on before
 * it ACKs or NACKs a response.
 *
 * <p>What is only cleanup is done after the answer: a pass switches every changed service to its new revision
 * (all slots written, then the entry in one update) and completes {@link #applied}, so the xDS client ACKs;
 * then the old revisions' slots, and backends nothing refers to any more, are deleted. Neither is visible to
 * a connecting socket (no entry points at those slots, no slot at those backends). Until then they are
 * tracked in the {@link KernelView} as orphans; whatever is left (a failed delete, a pass that comes first, an
 * agent stopped in between and read back on restart) is deleted before the next pass plans.
 *
 * <p>Threading: passes run on one thread of their own (or the caller's, in {@link #reconcileNow}), never
 * two at once; the other methods are safe from any thread.
 */
public final class ServiceReconciler implements XdsClient.DataPath, AutoCloseable {
    private static final System.Logger log = System.getLogger(ServiceReconciler.class.getName());

    /**
     * @param debounce quiet time after a change before a pass starts when the change comes during or within this time
     *                 after the previous pass, so a burst of responses costs one pass; a change after a longer quiet
     *                 period is applied at once
     * @param maxDelay longest a pass waits behind a stream of changes
     * @param retry    how soon a pass is retried after a kernel error or while resources do not fit
     */
    public record Settings(Duration debounce, Duration maxDelay, Duration retry) {
        public static Settings defaults() {
            return new Settings(Duration.ofMillis(20), Duration.ofMillis(250), Duration.ofSeconds(10));
        }
    }

    /**
     * The outcome of one pass.
     *
     * @param generation the NodeState generation applied
     * @param writes     map elements written or deleted
     * @param failures   resource name to the problem that kept it (partly) out of the kernel
     * @param took       wall time of the pass
     * @param synced     the kinds the applied snapshot held in full
     * @param full       whether every service was recomputed and diffed (start, after a kernel error, locality move)
     * @param servicePorts service ports recomputed and diffed against the kernel
     * @param desiredTook  of {@code took}: recomputing the desired content of the touched services
     * @param planTook     of {@code took}: diffing them against the kernel view (the rest is map writes)
     * @param cpu          CPU time of the pass's thread (user and system), which a busy machine does not inflate
     */
    public record Pass(long generation, int writes, Map<String, String> failures, Duration took,
                       Set<ResourceKind> synced, boolean full, int servicePorts, Duration desiredTook,
                       Duration planTook, Duration cpu) {
    }

    /**
     * The deletes done after a pass was answered.
     *
     * @param generation the generation of the pass they followed
     * @param writes     map elements deleted (old revisions' slots, then unreferenced backends)
     * @param took       wall time
     */
    public record Cleanup(long generation, int writes, Duration took) {
    }

    private static final java.lang.management.ThreadMXBean THREADS =
            java.lang.management.ManagementFactory.getThreadMXBean();

    private final NodeState state;
    private final LoadBalancerMaps maps;
    private final NodeTopology topology;
    private final AgentMetrics metrics;
    private final Settings settings;
    private final IdTable<String> serviceIds = IdTable.ofNames("service");
    private final IdTable<java.net.InetAddress> backendIds = IdTable.ofAddresses("backend");
    private final Object passLock = new Object();
    private final Object signalLock = new Object();
    private final TreeMap<Long, CompletableFuture<Map<String, String>>> waiting = new TreeMap<>();
    private final DesiredView desired;
    /** Service resource name to the resources its ports kept out of the kernel; recomputed every pass. */
    private final Map<String, Map<String, String>> failuresByService = new TreeMap<>();
    private KernelView kernel;
    /** The store generation the desired view and the kernel reflect; -1: recompute everything. */
    private long plannedGeneration = -1;
    private volatile Pass lastPass;
    private volatile Cleanup lastCleanup;
    private volatile Map<Integer, String> serviceNames = Map.of();
    private long appliedGeneration = -1;
    private boolean dirty;
    private long firstSignalNanos;
    private long lastSignalNanos;
    /** When the last pass of the loop ended (signalLock); a change long after it is applied without waiting. */
    private long lastPassEndNanos = System.nanoTime() - Duration.ofDays(1).toNanos();
    /** When the loop's current or last pass started (for the benchmark's breakdown). */
    private volatile long passStartNanos;
    private boolean closed;
    private Thread thread;

    public ServiceReconciler(NodeState state, LoadBalancerMaps maps, NodeTopology topology, AgentMetrics metrics,
                             Settings settings) {
        this.state = state;
        this.maps = maps;
        this.topology = topology;
        this.metrics = metrics;
        this.settings = settings;
        this.desired = new DesiredView(topology);
    }

    /** Reads the kernel's maps and starts reconciling on every change of the store. */
    public ServiceReconciler start() {
        synchronized (passLock) {
            kernel = KernelView.read(maps);
        }
        state.addListener(s -> signal());
        thread = Thread.ofPlatform().name("mocket-reconciler").daemon().start(this::loop);
        signal();
        return this;
    }

    /** {@link System#nanoTime()} when the loop last started a pass (after any debounce wait). */
    public long lastPassStartNanos() {
        return passStartNanos;
    }

    /** The last pass, if any. */
    public Optional<Pass> lastPass() {
        return Optional.ofNullable(lastPass);
    }

    /** The last cleanup after a pass, if any. */
    public Optional<Cleanup> lastCleanup() {
        return Optional.ofNullable(lastCleanup);
    }

    /** Whether a pass has applied a snapshot that held the full state of every kind. */
    public boolean fullSyncApplied() {
        Pass p = lastPass;
        return p != null && p.synced().containsAll(Set.of(ResourceKind.values()));
    }

    /** Service id to the service port key it stands for ("ns/hostname:port/v4"), as of the last pass. */
    public Map<Integer, String> serviceNames() {
        return serviceNames;
    }

    @Override
    public CompletionStage<Map<String, String>> applied(long generation) {
        synchronized (signalLock) {
            if (generation <= appliedGeneration) {
                Pass p = lastPass;
                return CompletableFuture.completedFuture(p == null ? Map.of() : p.failures());
            }
            return waiting.computeIfAbsent(generation, g -> new CompletableFuture<>());
        }
    }

    /**
     * Runs one pass and its cleanup now on the calling thread, whether or not the store is synced (tests); the
     * pass's writes include the cleanup's.
     *
     * @throws BpfException on a kernel error other than a full map; the view is read again before the next pass
     */
    public Pass reconcileNow() {
        Pass p = passOnly();
        int cleaned = cleanUp();
        return cleaned == 0 ? p : new Pass(p.generation(), p.writes() + cleaned, p.failures(), p.took(), p.synced(),
                p.full(), p.servicePorts(), p.desiredTook(), p.planTook(), p.cpu());
    }

    /** One pass without the cleanup after it: the old revisions stay in the kernel as orphans (tests). */
    Pass passOnly() {
        return pass(state.snapshot());
    }

    /**
     * Deletes the orphan slots, then the retired backends, that the last pass left (or a read-back found).
     * Returns the elements deleted. On a kernel error the view is dropped, so the next pass reads the maps
     * back and deletes what is left.
     */
    int cleanUp() {
        synchronized (passLock) {
            if (kernel == null || !kernel.hasLeftovers()) {
                return 0;
            }
            long start = System.nanoTime();
            int writes;
            try {
                writes = deleteLeftovers();
            } catch (RuntimeException e) {
                kernel = null;
                plannedGeneration = -1;
                desired.invalidate();
                throw e;
            }
            lastCleanup = new Cleanup(plannedGeneration, writes, Duration.ofNanos(System.nanoTime() - start));
            metrics.cleanedUp(lastCleanup);
            return writes;
        }
    }

    /** Orphan slots first (they may refer to the retired backends), then the retired backends. */
    private int deleteLeftovers() {
        int writes = 0;
        if (!kernel.orphanSlots.isEmpty()) {
            writes += maps.endpoints().removeAll(kernel.orphanSlots);
            // Absent keys were deleted by someone else: gone from the kernel either way.
            kernel.endpointEntries -= kernel.orphanSlots.size();
            kernel.orphanSlots.clear();
        }
        if (!kernel.retiredBackends.isEmpty()) {
            writes += maps.backends().removeAll(kernel.retiredBackends.stream().map(BackendKey::new).toList());
            kernel.retiredBackends.forEach(kernel.backends::remove);
            kernel.retiredBackends.clear();
        }
        return writes;
    }

    private Pass pass(NodeState.Snapshot snapshot) {
        synchronized (passLock) {
            long start = System.nanoTime();
            long cpuStart = THREADS.getCurrentThreadCpuTime();
            if (kernel == null) {
                kernel = KernelView.read(maps);
                desired.invalidate();
            }
            DesiredView.Update update;
            long desiredDone;
            long planDone;
            int writes = 0;
            try {
                if (kernel.hasLeftovers()) {
                    // Not cleaned up after the last pass (it failed, or this pass came first), or read back.
                    writes += deleteLeftovers();
                }
                NodeState.Changes changes = state.changesSince(plannedGeneration, snapshot.generation());
                update = desired.update(snapshot, changes, failuresByService.keySet());
                desiredDone = System.nanoTime();
                ReconcilePlan plan = ReconcilePlan.compute(update.ports(), update.removedKeys(), update.problems(),
                        update.full(), desired::healthy, kernel, serviceIds, backendIds,
                        ReconcilePlan.Capacity.of(maps));
                if (update.full()) {
                    failuresByService.clear();
                } else {
                    update.services().forEach(failuresByService::remove);
                }
                plan.failuresByService().forEach((name, f) -> failuresByService.put(name, new TreeMap<>(f)));
                plan.fullMaps().forEach(metrics::mapFull);
                planDone = System.nanoTime();
                writes += execute(plan);
            } catch (RuntimeException e) {
                // The kernel is the truth, and the desired view may be half updated: read the maps again and
                // recompute everything before planning anything else.
                kernel = null;
                plannedGeneration = -1;
                desired.invalidate();
                metrics.reconcileFailed((System.nanoTime() - start) / 1e9);
                throw e;
            }
            plannedGeneration = snapshot.generation();
            if (update.full() || !update.ports().isEmpty() || !update.removedKeys().isEmpty()) {
                Map<Integer, String> names = new HashMap<>();
                serviceIds.entries().forEach((name, id) -> names.put(id, name));
                serviceNames = Map.copyOf(names);
            }
            Map<String, String> failures = new TreeMap<>(ReconcilePlan.flatten(failuresByService));
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            Pass pass = new Pass(snapshot.generation(), writes, Map.copyOf(failures), took, snapshot.synced(),
                    update.full(), update.ports().size() + update.removedKeys().size(),
                    Duration.ofNanos(desiredDone - start), Duration.ofNanos(planDone - desiredDone),
                    Duration.ofNanos(THREADS.getCurrentThreadCpuTime() - cpuStart));
            lastPass = pass;
            metrics.reconciled(took.toNanos() / 1e9, writes, failures.size());
            metrics.passed(pass);
            if (writes > 0 || !failures.isEmpty()) {
                log.log(System.Logger.Level.DEBUG, "reconciled generation {0}: {1} map writes, {2} failing resources",
                        snapshot.generation(), writes, failures.size());
            }
            for (Map.Entry<String, String> f : failures.entrySet()) {
                log.log(System.Logger.Level.WARNING, "not applied: {0}: {1}", f.getKey(), f.getValue());
            }
            return pass;
        }
    }

    /**
     * Applies a plan with a few batch calls per map. If the kernel refuses room the plan counted on (its memory
     * limits, or another writer), the maps are read back and the whole node is planned again and written service
     * by service, so each service that fits goes in whole and the others are reported.
     */
    private int execute(ReconcilePlan plan) {
        try {
            return executeBatched(plan);
        } catch (BpfException e) {
            if (!isCapacity(e)) {
                throw e;
            }
            log.log(System.Logger.Level.WARNING, "a batch write was refused ({0}); reading the maps back and writing"
                    + " service by service", e.getMessage());
            metrics.mapFull(e.object().startsWith("map ") ? e.object().substring(4) : e.object());
            kernel = KernelView.read(maps);
            DesiredState all = desired.all();
            ReconcilePlan again = ReconcilePlan.compute(all.services(), Set.of(), all.problems(), true,
                    desired::healthy, kernel, serviceIds, backendIds, ReconcilePlan.Capacity.of(maps));
            failuresByService.clear();
            again.failuresByService().forEach((name, f) -> failuresByService.put(name, new TreeMap<>(f)));
            again.fullMaps().forEach(metrics::mapFull);
            return executeOneByOne(again);
        }
    }

    private int executeBatched(ReconcilePlan plan) {
        int writes = 0;
        List<ReconcilePlan.WriteService> pending = new ArrayList<>();
        for (ReconcilePlan.Step step : plan.steps()) {
            switch (step) {
                case ReconcilePlan.WriteService w -> pending.add(w);
                case ReconcilePlan.RemoveBackends r -> {
                    writes += writeServices(pending);
                    pending.clear();
                    // Orphan slots may still refer to them: deleted with those, after the answer.
                    kernel.retiredBackends.addAll(r.backendIds());
                }
                case ReconcilePlan.RemoveServices r -> {
                    List<ServiceKey> keys = new ArrayList<>();
                    List<EndpointKey> slots = new ArrayList<>();
                    for (int id : r.serviceIds()) {
                        keys.add(new ServiceKey(id));
                        slots.addAll(LoadBalancerMaps.slotKeys(id, kernel.services.get(id)));
                    }
                    writes += maps.services().removeAll(keys);
                    writes += maps.endpoints().removeAll(slots);
                    for (int id : r.serviceIds()) {
                        kernel.endpointEntries -= kernel.liveSlots(id);
                        kernel.services.remove(id);
                        kernel.slots.remove(id);
                    }
                }
                default -> writes += executeStep(step);
            }
        }
        writes += writeServices(pending);
        return writes;
    }

    /**
     * Writes service ports in groups sized so that the endpoint map holds the old and the new revision of every
     * service of a group at once: backends, then all new slots, all service entries, then the frontends of the
     * group. The old revisions become orphans, deleted after the answer, or here, before a group that would not
     * fit beside them.
     */
    private int writeServices(List<ReconcilePlan.WriteService> all) {
        int writes = 0;
        int capacity = maps.endpoints().map().maxEntries();
        long remaining = 0;
        for (ReconcilePlan.WriteService w : all) {
            remaining += newSlots(w);
        }
        int from = 0;
        while (from < all.size()) {
            if (!kernel.orphanSlots.isEmpty() && kernel.endpointEntries + remaining > capacity) {
                writes += maps.endpoints().removeAll(kernel.orphanSlots);
                kernel.endpointEntries -= kernel.orphanSlots.size();
                kernel.orphanSlots.clear();
            }
            int to = from;
            long adding = 0;
            while (to < all.size()) {
                int n = newSlots(all.get(to));
                if (to > from && kernel.endpointEntries + adding + n > capacity) {
                    break;
                }
                adding += n;
                to++;
            }
            writes += writeGroup(all.subList(from, to));
            remaining -= adding;
            from = to;
        }
        return writes;
    }

    private static int newSlots(ReconcilePlan.WriteService w) {
        if (!w.replacesSlots()) {
            return 0;
        }
        int n = 0;
        for (List<io.mocket.bpf.EndpointValue> l : w.slots()) {
            n += l.size();
        }
        return n;
    }

    private int writeGroup(List<ReconcilePlan.WriteService> group) {
        int writes = 0;
        Map<BackendKey, io.mocket.bpf.BackendValue> backends = new LinkedHashMap<>();
        List<LoadBalancerMaps.BackendSet> sets = new ArrayList<>();
        Map<FrontendKey, FrontendValue> frontends = new LinkedHashMap<>();
        for (ReconcilePlan.WriteService w : group) {
            w.backends().forEach((id, v) -> backends.put(new BackendKey(id), v));
            if (w.replacesSlots()) {
                DesiredState.ServicePort sp = w.servicePort();
                sets.add(new LoadBalancerMaps.BackendSet(w.serviceId(), kernel.services.get(w.serviceId()),
                        sp.lbMode(), sp.healthPolicy(), w.slots()));
            }
            w.frontends().forEach(fk -> frontends.put(fk, new FrontendValue(w.serviceId())));
        }
        maps.backends().putAll(backends);
        backends.forEach((k, v) -> kernel.backends.put(k.backendId(), v));
        writes += backends.size();

        List<ServiceValue> next = maps.switchBackends(sets);
        for (int i = 0; i < sets.size(); i++) {
            LoadBalancerMaps.BackendSet set = sets.get(i);
            if (set.current() != null) {
                kernel.orphanSlots.addAll(LoadBalancerMaps.slotKeys(set.serviceId(), set.current()));
            }
            int newSlots = next.get(i).totalBackends();
            kernel.services.put(set.serviceId(), next.get(i));
            kernel.slots.put(set.serviceId(), set.byPriority()); // the plan's own lists, never changed after
            kernel.endpointEntries += newSlots;
            writes += newSlots + 1;
        }

        maps.frontends().putAll(frontends);
        frontends.forEach((k, v) -> kernel.frontends.put(k, v.serviceId()));
        writes += frontends.size();
        return writes;
    }

    private int removeBackends(ReconcilePlan.RemoveBackends r) {
        int writes = maps.backends().removeAll(r.backendIds().stream().map(BackendKey::new).toList());
        r.backendIds().forEach(kernel.backends::remove);
        return writes;
    }

    /** Applies the steps in order, one service port at a time; returns the map elements written. */
    private int executeOneByOne(ReconcilePlan plan) {
        int writes = 0;
        for (ReconcilePlan.Step step : plan.steps()) {
            writes += switch (step) {
                case ReconcilePlan.WriteService w -> writeService(w);
                default -> executeStep(step);
            };
        }
        return writes;
    }

    /** One removal step; updates the view. */
    private int executeStep(ReconcilePlan.Step step) {
        int writes = 0;
        switch (step) {
            case ReconcilePlan.RemoveFrontends r -> {
                writes += maps.frontends().removeAll(r.keys());
                r.keys().forEach(kernel.frontends::remove);
            }
            case ReconcilePlan.RemoveServices r -> {
                for (int id : r.serviceIds()) {
                    writes += 1 + kernel.liveSlots(id);
                    maps.removeService(id);
                    kernel.endpointEntries -= kernel.liveSlots(id);
                    kernel.services.remove(id);
                    kernel.slots.remove(id);
                }
            }
            case ReconcilePlan.RemoveOrphanSlots r -> {
                writes += maps.endpoints().removeAll(r.keys());
                kernel.endpointEntries -= r.keys().size();
                kernel.orphanSlots.clear();
            }
            case ReconcilePlan.RemoveBackends r -> writes += removeBackends(r);
            case ReconcilePlan.WriteService w -> throw new IllegalArgumentException("not a removal: " + w);
        }
        return writes;
    }

    private int writeService(ReconcilePlan.WriteService w) {
        int writes = 0;
        ServiceValue held = kernel.services.get(w.serviceId());
        try {
            for (Map.Entry<Integer, io.mocket.bpf.BackendValue> b : w.backends().entrySet()) {
                maps.backends().put(new BackendKey(b.getKey()), b.getValue());
                kernel.backends.put(b.getKey(), b.getValue());
                writes++;
            }
            if (w.replacesSlots()) {
                DesiredState.ServicePort sp = w.servicePort();
                ServiceValue next = maps.replaceBackends(w.serviceId(), sp.lbMode(), sp.healthPolicy(), w.slots());
                int oldSlots = kernel.liveSlots(w.serviceId());
                int newSlots = next.totalBackends();
                kernel.services.put(w.serviceId(), next);
                kernel.slots.put(w.serviceId(), w.slots());
                kernel.endpointEntries += newSlots - oldSlots;
                writes += newSlots + 1 + oldSlots;
            }
            for (FrontendKey fk : w.frontends()) {
                maps.frontends().put(fk, new FrontendValue(w.serviceId()));
                kernel.frontends.put(fk, w.serviceId());
                writes++;
            }
            return writes;
        } catch (BpfException e) {
            if (!isCapacity(e)) {
                throw e;
            }
            // The kernel had less room than its max_entries suggest (memory limits) or someone else wrote:
            // take back the half-written revision so the programs never see it, and report the service.
            if (w.replacesSlots() && kernel.services.get(w.serviceId()) == held) {
                maps.endpoints().removeAll(revisionKeys(w, held == null ? 1 : held.revision() + 1));
            }
            String map = e.object().startsWith("map ") ? e.object().substring(4) : e.object();
            metrics.mapFull(map);
            DesiredState.ServicePort sp = w.servicePort();
            String problem = "service " + sp.service() + " port " + sp.port() + " (" + sp.family().tag()
                    + ") was refused by the kernel: " + e.getMessage();
            Map<String, String> of = failuresByService.computeIfAbsent(sp.resourceName(), n -> new TreeMap<>());
            sp.sources().forEach(src -> of.putIfAbsent(src, problem));
            kernel = KernelView.read(maps);
            return writes;
        }
    }

    private static List<EndpointKey> revisionKeys(ReconcilePlan.WriteService w, int revision) {
        List<EndpointKey> keys = new ArrayList<>();
        for (int prio = 0; prio < w.slots().size(); prio++) {
            for (int slot = 0; slot < w.slots().get(prio).size(); slot++) {
                keys.add(new EndpointKey(w.serviceId(), revision, prio, slot));
            }
        }
        return keys;
    }

    private static boolean isCapacity(BpfException e) {
        return e.errno() == Errno.E2BIG.number() || e.errno() == Errno.ENOMEM.number()
                || e.errno() == Errno.ENOSPC.number();
    }

    private void signal() {
        synchronized (signalLock) {
            long now = System.nanoTime();
            if (!dirty) {
                dirty = true;
                firstSignalNanos = now;
            }
            lastSignalNanos = now;
            signalLock.notifyAll();
        }
    }

    private void loop() {
        long retryAt = 0;
        Duration backoff = Duration.ofMillis(500);
        while (true) {
            synchronized (signalLock) {
                try {
                    while (!closed && !dirty && (retryAt == 0 || System.nanoTime() < retryAt)) {
                        long waitMs = retryAt == 0 ? 0 : Math.max(1, (retryAt - System.nanoTime()) / 1_000_000);
                        signalLock.wait(waitMs);
                    }
                    // Debounce. The first change after a quiet period goes at once: a lone push should not wait.
                    // Changes that come while a pass runs or soon after one are a burst: wait for a quiet moment
                    // (debounce after the last change), but not longer than maxDelay after the first.
                    boolean idle = firstSignalNanos - lastPassEndNanos >= settings.debounce().toNanos();
                    while (!closed && dirty && !idle) {
                        long now = System.nanoTime();
                        long quietAt = lastSignalNanos + settings.debounce().toNanos();
                        long latest = firstSignalNanos + settings.maxDelay().toNanos();
                        long until = Math.min(quietAt, latest);
                        if (now >= until) {
                            break;
                        }
                        signalLock.wait(Math.max(1, (until - now) / 1_000_000));
                    }
                } catch (InterruptedException e) {
                    return;
                }
                if (closed) {
                    return;
                }
                dirty = false;
            }
            NodeState.Snapshot snapshot = state.snapshot();
            if (!snapshot.synced(ResourceKind.ADDRESS)) {
                continue; // an empty or partial store must not delete what the kernel serves
            }
            passStartNanos = System.nanoTime();
            try {
                Pass pass = pass(snapshot);
                synchronized (signalLock) {
                    lastPassEndNanos = System.nanoTime();
                }
                complete(pass.generation(), pass.failures(), null);
                retryAt = pass.failures().isEmpty() ? 0 : System.nanoTime() + settings.retry().toNanos();
                backoff = Duration.ofMillis(500);
                try {
                    cleanUp(); // answered: now the deletes no connecting socket can see
                } catch (RuntimeException e) {
                    log.log(System.Logger.Level.WARNING, "deleting the old revisions after generation "
                            + pass.generation() + " failed; the next pass reads the maps back and deletes them", e);
                }
            } catch (RuntimeException e) {
                log.log(System.Logger.Level.ERROR, "reconcile of generation " + snapshot.generation()
                        + " failed; retrying in " + backoff.toMillis() + " ms", e);
                complete(snapshot.generation(), null, e);
                synchronized (signalLock) {
                    lastPassEndNanos = System.nanoTime();
                }
                retryAt = System.nanoTime() + backoff.toNanos();
                backoff = backoff.multipliedBy(2).compareTo(settings.retry()) > 0 ? settings.retry()
                        : backoff.multipliedBy(2);
            }
        }
    }

    private void complete(long generation, Map<String, String> failures, RuntimeException error) {
        List<CompletableFuture<Map<String, String>>> done = new ArrayList<>();
        synchronized (signalLock) {
            if (error == null) {
                appliedGeneration = Math.max(appliedGeneration, generation);
            }
            var head = waiting.headMap(generation, true);
            done.addAll(head.values());
            head.clear();
        }
        // Outside the lock: completing runs the xDS client's ACK, which must not hold up signals.
        for (CompletableFuture<Map<String, String>> f : done) {
            if (error == null) {
                f.complete(failures);
            } else {
                f.completeExceptionally(error);
            }
        }
    }

    /** Stops the thread; the maps keep what they hold. */
    @Override
    public void close() {
        synchronized (signalLock) {
            closed = true;
            signalLock.notifyAll();
        }
        if (thread != null) {
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        List<CompletableFuture<Map<String, String>>> left;
        synchronized (signalLock) {
            left = new ArrayList<>(waiting.values());
            waiting.clear();
        }
        left.forEach(f -> f.completeExceptionally(new IllegalStateException("the agent is shutting down")));
    }
}
