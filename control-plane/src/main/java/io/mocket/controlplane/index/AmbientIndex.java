package io.mocket.controlplane.index;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.Gateway;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.mocket.api.istio.security.Action;
import io.mocket.api.istio.workload.Locality;
import io.mocket.controlplane.index.OutputKey.AuthorizationKey;
import io.mocket.controlplane.index.OutputKey.ServiceKey;
import io.mocket.controlplane.index.OutputKey.WorkloadKey;
import io.mocket.controlplane.kube.ClusterSink;
import io.mocket.controlplane.kube.KubeKind;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.XdsResource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ambient index: turns the Kubernetes objects the sources deliver into the workload API resources istiod
 * serves to ztunnel ({@code istio.workload.Address} for pods and services, {@code istio.security.Authorization}
 * for AuthorizationPolicies) and commits them to the {@link ResourceStore}.
 *
 * <p>Incremental: every event updates the stored objects and their secondary indexes and marks dirty only the
 * outputs whose content can depend on the change. One translating thread waits until no event came for the
 * quiet period (or the max delay passed since the first), recomputes the dirty outputs and commits them in one
 * commit that carries the {@link System#nanoTime()} of the batch's first event.
 *
 * <p>Thread safety: the {@link ClusterSink} methods may be called from any thread; they hold a lock only while
 * they update the state, never while translating. {@link #close()} stops the translating thread.
 */
public final class AmbientIndex implements ClusterSink, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AmbientIndex.class);

    private final MeshSettings settings;
    private final ResourceStore store;
    private final MeterRegistry meters;
    private final ClusterState state = new ClusterState();
    private final AuthorizationConverter converter;
    private final WorkloadTranslator workloads;
    private final ServiceTranslator services;
    private final Timer debounceDelay;
    private final Timer translateTime;
    /** Invalid AuthorizationPolicy versions, per what is served in their place. */
    private final Map<PolicyConversion.Outcome, Counter> invalidPolicies = new EnumMap<>(PolicyConversion.Outcome.class);

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private final Condition idle = lock.newCondition();
    // Guarded by lock.
    private Set<OutputKey> dirty = new HashSet<>();
    private long firstEventNanos;
    private long lastEventNanos;
    private int marks;
    /** True from the first marking event after a hand-over to the translating thread until the next hand-over. */
    private boolean batchOpen;
    private boolean translating;
    private boolean closed;
    private Thread worker;

    // Written by the translating thread only; read by describe().
    private final Set<OutputKey> served = ConcurrentHashMap.newKeySet();
    private final Map<ObjectKey, IndexDescription.InvalidPolicy> invalid = new ConcurrentHashMap<>();
    private final Map<ObjectKey, String> unserved = new ConcurrentHashMap<>();

    /**
     * @param settings the mesh-wide values and the debounce timing
     * @param store    where translated resources are committed
     * @param meters   where the index's timers and counters are registered
     */
    public AmbientIndex(MeshSettings settings, ResourceStore store, MeterRegistry meters) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.store = Objects.requireNonNull(store, "store");
        this.meters = Objects.requireNonNull(meters, "meters");
        this.converter = new AuthorizationConverter(settings.rootNamespace());
        WaypointBindings bindings = new WaypointBindings(state);
        this.workloads = new WorkloadTranslator(settings, state, bindings);
        this.services = new ServiceTranslator(settings, state, bindings);
        this.debounceDelay = Timer.builder("mocket.index.debounce.delay")
                .description("From the first source event of a batch to the start of its commit")
                .publishPercentileHistogram()
                .register(meters);
        this.translateTime = Timer.builder("mocket.index.translate")
                .description("Translation of one batch of dirty outputs")
                .publishPercentileHistogram()
                .register(meters);
        // Registered up front so that every outcome reports zero until it happens, which alerts can rely on.
        for (PolicyConversion.Outcome outcome : PolicyConversion.Outcome.values()) {
            invalidPolicies.put(outcome, Counter.builder("mocket.authorization.invalid")
                    .description("AuthorizationPolicy versions found invalid, by what is served in their place")
                    .tag("outcome", outcome.tag())
                    .register(meters));
        }
    }

    // ---------------------------------------------------------------- ClusterSink

    @Override
    public void upsert(KubeKind kind, HasMetadata object) {
        long now = System.nanoTime();
        lock.lock();
        try {
            int before = marks;
            applyUpsert(kind, object);
            afterEvent(before, now);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void delete(KubeKind kind, HasMetadata object) {
        long now = System.nanoTime();
        lock.lock();
        try {
            int before = marks;
            applyDelete(kind, object);
            afterEvent(before, now);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void replaceAll(KubeKind kind, Collection<? extends HasMetadata> objects) {
        long now = System.nanoTime();
        lock.lock();
        try {
            int before = marks;
            Set<Object> present = new HashSet<>();
            for (HasMetadata o : objects) {
                present.add(keyOf(kind, o));
            }
            for (HasMetadata old : List.copyOf(held(kind).values())) {
                if (!present.contains(keyOf(kind, old))) {
                    applyDelete(kind, old);
                }
            }
            for (HasMetadata o : objects) {
                applyUpsert(kind, o);
            }
            afterEvent(before, now);
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- reads

    /** The effective PeerAuthentication mode for a workload with {@code labels} in {@code namespace}. */
    public EffectivePeerAuthentication peerAuthentication(String namespace, Map<String, String> labels) {
        return PeerAuthentications.effective(state, settings.rootNamespace(), namespace, labels);
    }

    /** Counts per input kind and output kind, pending work, and the policies not served, for the debug endpoint. */
    public IndexDescription describe() {
        Map<KubeKind, Integer> inputs = new EnumMap<>(KubeKind.class);
        for (KubeKind k : KubeKind.values()) {
            inputs.put(k, held(k).size());
        }
        int workloadCount = 0;
        int serviceCount = 0;
        int authorizationCount = 0;
        for (OutputKey k : served) {
            switch (k) {
                case WorkloadKey _ -> workloadCount++;
                case ServiceKey _ -> serviceCount++;
                case AuthorizationKey _ -> authorizationCount++;
            }
        }
        int pending;
        lock.lock();
        try {
            pending = dirty.size();
        } finally {
            lock.unlock();
        }
        Map<String, IndexDescription.InvalidPolicy> invalidView = new TreeMap<>();
        invalid.forEach((k, v) -> invalidView.put(k.toString(), v));
        Map<String, String> unservedView = new TreeMap<>();
        unserved.forEach((k, v) -> unservedView.put(k.toString(), v));
        return new IndexDescription(inputs,
                Map.of("workload", workloadCount, "service", serviceCount, "authorization", authorizationCount),
                pending, invalidView, unservedView);
    }

    /**
     * Waits until every change delivered so far is committed (or found to change nothing).
     *
     * @return false when {@code timeout} passed first
     */
    public boolean awaitIdle(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            while (!dirty.isEmpty() || translating) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                idle.awaitNanos(left);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Stops the translating thread; changes not yet committed are dropped. */
    @Override
    public void close() {
        Thread t;
        lock.lock();
        try {
            closed = true;
            wake.signalAll();
            idle.signalAll();
            t = worker;
        } finally {
            lock.unlock();
        }
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---------------------------------------------------------------- events (lock held)

    private void applyUpsert(KubeKind kind, HasMetadata object) {
        if (closed || !wellFormed(kind, object)) {
            return;
        }
        switch (kind) {
            case NAMESPACE -> upsertNamespace((Namespace) object);
            case NODE -> upsertNode((Node) object);
            case POD -> upsertPod((Pod) object);
            case SERVICE -> upsertService((Service) object);
            case AUTHORIZATION_POLICY -> upsertPolicy((GenericKubernetesResource) object);
            case PEER_AUTHENTICATION -> upsertPeerAuthentication((GenericKubernetesResource) object);
            case GATEWAY -> upsertGateway((Gateway) object);
        }
    }

    private void applyDelete(KubeKind kind, HasMetadata object) {
        if (closed || object == null || object.getMetadata() == null || object.getMetadata().getName() == null) {
            return;
        }
        Object key = keyOf(kind, object);
        switch (kind) {
            case NAMESPACE -> {
                if (state.namespaces.remove((String) key) != null) {
                    markNamespace((String) key);
                }
            }
            case NODE -> {
                state.nodes.remove((String) key);
                if (state.localities.remove((String) key) != null) {
                    markPodsOnNode((String) key);
                }
            }
            case POD -> {
                Pod old = state.pods.remove((ObjectKey) key);
                if (old != null) {
                    unindexPod((ObjectKey) key, old);
                    mark(new WorkloadKey((ObjectKey) key));
                }
            }
            case SERVICE -> {
                Service old = state.services.remove((ObjectKey) key);
                if (old != null) {
                    ObjectKey k = (ObjectKey) key;
                    state.servicesByNamespace.remove(k.namespace(), k);
                    state.servicesBySelectorLabel.remove(ClusterState.selectorLabel(old), k);
                    state.waypointUsers.remove(ownWaypoint(old), new ServiceKey(k));
                    mark(new ServiceKey(k));
                    markSelectedPods(k.namespace(), selection(old).selector(), null);
                }
            }
            case AUTHORIZATION_POLICY -> {
                ObjectKey k = (ObjectKey) key;
                // Removed whatever its validity: the last good version of a deleted policy is dropped with it.
                if (state.authorizationPolicies.remove(k) != null) {
                    state.policiesByNamespace.remove(k.namespace(), k);
                    PolicyVersions old = state.policyVersions.remove(k);
                    mark(new AuthorizationKey(k));
                    markPolicyPods(k.namespace(), old == null ? null : old.workloadSelector(), null);
                }
            }
            case PEER_AUTHENTICATION -> {
                ObjectKey k = (ObjectKey) key;
                state.peerAuthentications.remove(k);
                state.peerAuthenticationsByNamespace.remove(k.namespace(), k);
            }
            case GATEWAY -> {
                ObjectKey k = (ObjectKey) key;
                state.gateways.remove(k);
                if (state.waypoints.remove(k) != null) {
                    markWaypointUsers(k);
                }
            }
        }
    }

    private void upsertNamespace(Namespace ns) {
        String name = ns.getMetadata().getName();
        Namespace old = state.namespaces.put(name, ns);
        // Only labels (enrollment, waypoints) and annotations (traffic distribution) feed translation.
        if (old == null || !MeshLabels.labels(old).equals(MeshLabels.labels(ns))
                || !MeshLabels.annotations(old).equals(MeshLabels.annotations(ns))) {
            markNamespace(name);
        }
    }

    private void upsertNode(Node node) {
        String name = node.getMetadata().getName();
        state.nodes.put(name, node);
        // Nodes change all the time (status, heartbeats); only their locality matters to workloads.
        Locality locality = locality(node);
        Locality old = locality == null ? state.localities.remove(name) : state.localities.put(name, locality);
        if (!Objects.equals(old, locality)) {
            markPodsOnNode(name);
        }
    }

    private void upsertPod(Pod pod) {
        ObjectKey key = ObjectKey.of(pod);
        Pod old = state.pods.put(key, pod);
        if (unchanged(old, pod)) {
            return;
        }
        if (old != null) {
            unindexPod(key, old);
        }
        state.podsByNamespace.add(key.namespace(), key);
        state.podsByNode.add(nodeName(pod), key);
        state.waypointUsers.add(ownWaypoint(pod), new WorkloadKey(key));
        state.waypointInstances.add(gatewayInstance(pod), key);
        // Nothing but the pod's own workload depends on a pod.
        mark(new WorkloadKey(key));
    }

    private void unindexPod(ObjectKey key, Pod old) {
        state.podsByNamespace.remove(key.namespace(), key);
        state.podsByNode.remove(nodeName(old), key);
        state.waypointUsers.remove(ownWaypoint(old), new WorkloadKey(key));
        state.waypointInstances.remove(gatewayInstance(old), key);
    }

    private void upsertService(Service service) {
        ObjectKey key = ObjectKey.of(service);
        Service old = state.services.put(key, service);
        if (unchanged(old, service)) {
            return;
        }
        state.servicesByNamespace.add(key.namespace(), key);
        state.servicesBySelectorLabel.move(old == null ? null : ClusterState.selectorLabel(old), ClusterState.selectorLabel(service), key);
        state.waypointUsers.move(old == null ? null : ownWaypoint(old), ownWaypoint(service), new ServiceKey(key));
        mark(new ServiceKey(key));
        // A workload lists the services selecting it with their ports: only a change of selector, ports or
        // servedness touches workloads, and only those selected before or after.
        ServiceSelection before = old == null ? null : selection(old);
        ServiceSelection after = selection(service);
        if (!after.equals(before)) {
            markSelectedPods(key.namespace(), before == null ? null : before.selector(), after.selector());
        }
    }

    private void upsertPolicy(GenericKubernetesResource policy) {
        ObjectKey key = ObjectKey.of(policy);
        GenericKubernetesResource old = state.authorizationPolicies.put(key, policy);
        if (unchanged(old, policy)) {
            return;
        }
        state.policiesByNamespace.add(key.namespace(), key);
        PolicyVersions previous = state.policyVersions.get(key);
        PolicyVersions current = PolicyVersions.next(previous, policy, converter.convert(policy));
        state.policyVersions.put(key, current);
        mark(new AuthorizationKey(key));
        // Workloads list only the selector policies in force: their lists change only if that attachment changed.
        Map<String, String> before = previous == null ? null : previous.workloadSelector();
        Map<String, String> after = current.workloadSelector();
        if (!Objects.equals(before, after)) {
            markPolicyPods(key.namespace(), before, after);
        }
    }

    private void upsertPeerAuthentication(GenericKubernetesResource pa) {
        ObjectKey key = ObjectKey.of(pa);
        GenericKubernetesResource old = state.peerAuthentications.put(key, pa);
        state.peerAuthenticationsByNamespace.add(key.namespace(), key);
        if (!unchanged(old, pa)) {
            String problem = PeerAuthentications.problem(pa);
            if (problem != null) {
                log.warn("PeerAuthentication {}: {}; the unreadable part is ignored", key, problem);
            }
        }
    }

    private void upsertGateway(Gateway gateway) {
        ObjectKey key = ObjectKey.of(gateway);
        Gateway old = state.gateways.put(key, gateway);
        if (unchanged(old, gateway)) {
            return;
        }
        Waypoint waypoint = Waypoint.of(gateway, settings);
        Waypoint previous = waypoint == null ? state.waypoints.remove(key) : state.waypoints.put(key, waypoint);
        if (!Objects.equals(previous, waypoint)) {
            markWaypointUsers(key);
        }
    }

    // ---------------------------------------------------------------- dirty marking (lock held)

    private void mark(OutputKey key) {
        dirty.add(key);
        marks++;
    }

    private void markNamespace(String namespace) {
        for (ObjectKey pod : state.podsByNamespace.get(namespace)) {
            mark(new WorkloadKey(pod));
        }
        for (ObjectKey svc : state.servicesByNamespace.get(namespace)) {
            mark(new ServiceKey(svc));
        }
    }

    private void markPodsOnNode(String node) {
        for (ObjectKey pod : state.podsByNode.get(node)) {
            mark(new WorkloadKey(pod));
        }
    }

    /** Pods of {@code namespace} selected by either Service selector (Service semantics: empty selects none). */
    private void markSelectedPods(String namespace, Map<String, String> before, Map<String, String> after) {
        if ((before == null || before.isEmpty()) && (after == null || after.isEmpty())) {
            return;
        }
        for (ObjectKey k : state.podsByNamespace.get(namespace)) {
            Pod p = state.pods.get(k);
            Map<String, String> labels = MeshLabels.labels(p);
            if (Selector.selectsNonEmpty(before, labels) || Selector.selectsNonEmpty(after, labels)) {
                mark(new WorkloadKey(k));
            }
        }
    }

    /** Pods a policy selects before or after a change; a root-namespace policy selects across the mesh. */
    private void markPolicyPods(String namespace, Map<String, String> before, Map<String, String> after) {
        if (before == null && after == null) {
            return;
        }
        Iterable<ObjectKey> candidates = namespace.equals(settings.rootNamespace())
                ? state.pods.keySet() : state.podsByNamespace.get(namespace);
        for (ObjectKey k : candidates) {
            Map<String, String> labels = MeshLabels.labels(state.pods.get(k));
            if ((before != null && Selector.subsetOf(before, labels)) || (after != null && Selector.subsetOf(after, labels))) {
                mark(new WorkloadKey(k));
            }
        }
    }

    /** Everything that may resolve to waypoint {@code gateway}: own labels, namespace labels, and its instances. */
    private void markWaypointUsers(ObjectKey gateway) {
        for (OutputKey user : state.waypointUsers.get(gateway)) {
            mark(user);
        }
        for (Namespace ns : state.namespaces.values()) {
            String name = ns.getMetadata().getName();
            Waypoint.Reference ref = Waypoint.Reference.in(MeshLabels.labels(ns), name);
            if (ref != null && !ref.none() && ref.gateway().equals(gateway)) {
                markNamespace(name);
            }
        }
        for (ObjectKey pod : state.waypointInstances.get(gateway)) {
            mark(new WorkloadKey(pod));
        }
    }

    private void afterEvent(int marksBefore, long now) {
        if (marks == marksBefore) {
            return;
        }
        if (!batchOpen) {
            firstEventNanos = now;
            batchOpen = true;
        }
        lastEventNanos = now;
        if (worker == null && !closed) {
            worker = Thread.ofPlatform().name("mocket-ambient-index").daemon().start(this::translateLoop);
        }
        wake.signalAll();
    }

    // ---------------------------------------------------------------- translation (translating thread)

    private void translateLoop() {
        while (true) {
            Set<OutputKey> batch;
            long first;
            lock.lock();
            try {
                while (true) {
                    if (closed) {
                        return;
                    }
                    if (dirty.isEmpty()) {
                        wake.await();
                        continue;
                    }
                    long now = System.nanoTime();
                    long deadline = Math.min(lastEventNanos + settings.debounceQuiet().toNanos(),
                            firstEventNanos + settings.debounceMax().toNanos());
                    if (now - deadline >= 0) {
                        break;
                    }
                    wake.awaitNanos(deadline - now);
                }
                batch = dirty;
                dirty = new HashSet<>();
                first = firstEventNanos;
                batchOpen = false;
                translating = true;
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
            try {
                translateAndCommit(batch, first);
            } catch (RuntimeException e) {
                log.error("Committing {} translated outputs failed; they are retried with the next change", batch.size(), e);
            } finally {
                lock.lock();
                try {
                    translating = false;
                    if (dirty.isEmpty()) {
                        idle.signalAll();
                    }
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    private void translateAndCommit(Set<OutputKey> batch, long firstEvent) {
        long start = System.nanoTime();
        debounceDelay.record(start - firstEvent, TimeUnit.NANOSECONDS);
        List<XdsResource> upserts = new ArrayList<>(batch.size());
        Map<ResourceType, List<String>> removals = new EnumMap<>(ResourceType.class);
        for (OutputKey key : batch) {
            ResourceType type = key instanceof AuthorizationKey ? ResourceType.AUTHORIZATION : ResourceType.ADDRESS;
            XdsResource resource;
            try {
                resource = translate(key);
            } catch (RuntimeException e) {
                // One odd object must not stop the others; what was served for it stays.
                log.error("Translating {} failed; keeping what was served for it. Fix or delete the object to recover", key, e);
                continue;
            }
            if (resource == null) {
                removals.computeIfAbsent(type, t -> new ArrayList<>()).add(key.resourceName(settings));
                served.remove(key);
            } else {
                upserts.add(resource);
                served.add(key);
            }
        }
        translateTime.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        store.commit(upserts, removals, firstEvent);
    }

    private XdsResource translate(OutputKey key) {
        return switch (key) {
            case WorkloadKey k -> {
                Pod pod = state.pods.get(k.pod());
                yield pod == null ? null : workloads.translate(pod);
            }
            case ServiceKey k -> {
                Service svc = state.services.get(k.service());
                yield svc == null ? null : services.translate(svc);
            }
            case AuthorizationKey k -> authorization(k.policy());
        };
    }

    private XdsResource authorization(ObjectKey key) {
        PolicyVersions versions = state.policyVersions.get(key);
        if (versions == null) {
            invalid.remove(key);
            unserved.remove(key);
            return null;
        }
        switch (versions.latest()) {
            case PolicyConversion.Served s -> {
                invalid.remove(key);
                unserved.remove(key);
                for (PolicyConversion.L7Rule r : s.l7Rules()) {
                    reportL7(key, r);
                }
                return resource(key, s);
            }
            case PolicyConversion.NotServed n -> {
                invalid.remove(key);
                if (!n.reason().equals(unserved.put(key, n.reason()))) {
                    log.info("AuthorizationPolicy {} is not served to L4 clients: {}", key, n.reason());
                }
                return null;
            }
            case PolicyConversion.Invalid i -> {
                unserved.remove(key);
                return invalidPolicy(key, versions, i);
            }
        }
    }

    /**
     * An invalid latest version: serves the last good version unchanged when there is one, else the stand-in
     * (fail closed), and reports what it serves.
     */
    private XdsResource invalidPolicy(ObjectKey key, PolicyVersions versions, PolicyConversion.Invalid i) {
        PolicyConversion.Outcome outcome = versions.outcome();
        String serving;
        if (outcome == PolicyConversion.Outcome.KEPT_LAST_GOOD) {
            PolicyVersions.LastGood good = versions.lastGood();
            serving = good.conversion() instanceof PolicyConversion.NotServed n
                    ? "the last good version (" + good.version() + ") stays in force, and it is not served to L4 clients: " + n.reason()
                    : "the last good version (" + good.version() + ") keeps serving";
        } else {
            serving = i.standIn().description();
        }
        String reason = i.field() + " " + i.problem() + "; fix: " + i.fix();
        invalid.put(key, new IndexDescription.InvalidPolicy(versions.latestVersion(), reason, outcome.tag(), serving));
        invalidPolicies.get(outcome).increment();
        switch (outcome) {
            case KEPT_LAST_GOOD -> log.warn("AuthorizationPolicy {} ({}) is invalid: {} {}. Fix: {}. Until it is fixed, {}",
                    key, versions.latestVersion(), i.field(), i.problem(), i.fix(), serving);
            case ALLOW_NOTHING, DENY_WIDENED -> log.warn("AuthorizationPolicy {} ({}) is invalid and has never been valid: {} {}. "
                            + "Fix: {}. Until it is fixed it is served fail-closed as {}",
                    key, versions.latestVersion(), i.field(), i.problem(), i.fix(), serving);
            case SKIPPED -> log.warn("AuthorizationPolicy {} ({}) is invalid and has never been valid: {} {}. Fix: {}. Served for it: {}",
                    key, versions.latestVersion(), i.field(), i.problem(), i.fix(), serving);
        }
        return versions.inForce() instanceof PolicyConversion.Served s ? resource(key, s) : null;
    }

    private static XdsResource resource(ObjectKey key, PolicyConversion.Served s) {
        return XdsResource.of(ResourceType.AUTHORIZATION, key.toString(), List.of(), s.authorization());
    }

    private void reportL7(ObjectKey key, PolicyConversion.L7Rule r) {
        Counter.builder("mocket.authorization.l7.failclosed")
                .description("AuthorizationPolicy rules with HTTP attributes converted for L4 enforcement")
                .tag("action", r.action() == Action.ALLOW ? "allow" : "deny")
                .register(meters)
                .increment();
        String fix = "enforce HTTP rules in a waypoint (targetRefs) or remove the HTTP attributes";
        if (r.action() == Action.ALLOW) {
            log.info("AuthorizationPolicy {}: rule {} uses HTTP attributes {} that L4 enforcement cannot check; "
                    + "the ALLOW rule is dropped and allows nothing (fail closed, as istiod does); {}", key, r.rule(), r.attributes(), fix);
        } else if (r.denies()) {
            log.info("AuthorizationPolicy {}: rule {} uses HTTP attributes {} that L4 enforcement cannot check; "
                    + "the DENY rule is enforced on its L4 part only and denies more than written (as istiod does); {}",
                    key, r.rule(), r.attributes(), fix);
        } else {
            // Not fail-closed: with the HTTP attributes gone nothing of the rule can match (istiod serves it so too).
            log.warn("AuthorizationPolicy {}: rule {} uses HTTP attributes {} and has no L4 part left where they were, "
                    + "so this DENY rule denies nothing at L4 (as with istiod); {}", key, r.rule(), r.attributes(), fix);
        }
    }

    // ---------------------------------------------------------------- helpers

    /** What of a Service its selected workloads see. */
    private record ServiceSelection(Map<String, String> selector, List<ServicePort> ports, boolean served) {
    }

    private static ServiceSelection selection(Service s) {
        var spec = s.getSpec();
        Map<String, String> selector = spec == null || spec.getSelector() == null ? Map.of() : spec.getSelector();
        List<ServicePort> ports = spec == null || spec.getPorts() == null ? List.of() : spec.getPorts();
        boolean isServed = ServiceTranslator.served(s);
        return new ServiceSelection(isServed ? selector : Map.of(), ports, isServed);
    }

    private static Locality locality(Node node) {
        Map<String, String> labels = MeshLabels.labels(node);
        String region = labels.getOrDefault(MeshLabels.TOPOLOGY_REGION, "");
        String zone = labels.getOrDefault(MeshLabels.TOPOLOGY_ZONE, "");
        String subzone = labels.getOrDefault(MeshLabels.TOPOLOGY_SUBZONE, "");
        if (region.isEmpty() && zone.isEmpty() && subzone.isEmpty()) {
            return null;
        }
        return Locality.newBuilder().setRegion(region).setZone(zone).setSubzone(subzone).build();
    }

    private static String nodeName(Pod pod) {
        return pod.getSpec() == null ? null : pod.getSpec().getNodeName();
    }

    private static ObjectKey ownWaypoint(HasMetadata o) {
        Waypoint.Reference ref = Waypoint.Reference.in(MeshLabels.labels(o), o.getMetadata().getNamespace());
        return ref == null || ref.none() ? null : ref.gateway();
    }

    private static ObjectKey gatewayInstance(Pod pod) {
        String gw = MeshLabels.labels(pod).get(MeshLabels.GATEWAY_NAME);
        return gw == null ? null : new ObjectKey(pod.getMetadata().getNamespace(), gw);
    }

    /**
     * Same object as before: an informer resync (same instance), a relist or a file reload that changed
     * nothing. Content is compared, not resourceVersion: hand-written files may keep a stale one.
     */
    private static boolean unchanged(HasMetadata old, HasMetadata current) {
        return old != null && (old == current || old.equals(current));
    }

    private boolean wellFormed(KubeKind kind, HasMetadata o) {
        Class<?> expected = kind.modelClass();
        if (!expected.isInstance(o)) {
            log.warn("Ignoring a {} delivered as {}: the source must deliver {}", o == null ? "null" : o.getClass().getName(),
                    kind, expected.getName());
            return false;
        }
        if (o.getMetadata() == null || o.getMetadata().getName() == null
                || (kind.namespaced() && o.getMetadata().getNamespace() == null)) {
            log.warn("Ignoring a {} without {}: set metadata.name{}", kind.kind(),
                    kind.namespaced() ? "name or namespace" : "name", kind.namespaced() ? " and metadata.namespace" : "");
            return false;
        }
        return true;
    }

    private static Object keyOf(KubeKind kind, HasMetadata o) {
        return kind.namespaced() ? ObjectKey.of(o) : o.getMetadata().getName();
    }

    private Map<?, ? extends HasMetadata> held(KubeKind kind) {
        return switch (kind) {
            case NAMESPACE -> state.namespaces;
            case NODE -> state.nodes;
            case POD -> state.pods;
            case SERVICE -> state.services;
            case AUTHORIZATION_POLICY -> state.authorizationPolicies;
            case PEER_AUTHENTICATION -> state.peerAuthentications;
            case GATEWAY -> state.gateways;
        };
    }
}
