package io.mocket.agent;

import com.google.protobuf.Message;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import java.net.InetAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The one store of what this node believes: services by resource name, workloads by resource name (their
 * uid), authorizations by name, each with the version the control plane gave it. Only the xDS client
 * writes it ({@link #apply}); the reconciler, telemetry and admin endpoints read {@link #snapshot()}s.
 * Workloads and services are kept as compact records of the fields the agent reads ({@link KnownWorkload},
 * {@link KnownService}), not as the decoded messages, with an index of each service's members.
 *
 * <p>Each write also records what it changed for the load balancer ({@link Changes}: the services whose
 * content may differ), so the reconciler can recompute only those: {@link #changesSince}.
 *
 * <p>Thread safety: writes are serialized; every write publishes a new immutable {@link Snapshot} with the
 * next generation, so a reader always sees one consistent state without locking. Listeners are told on
 * the writing thread after the snapshot is visible and must not block.
 */
public final class NodeState {

    /**
     * One resource as held or sent: its xDS name, the version the control plane sent, and the decoded message (or,
     * for an Address, its compact record made while decoding).
     */
    public record Entry<T>(String name, String version, T value) {
        public Entry {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(version, "version");
            Objects.requireNonNull(value, "value");
        }
    }

    /**
     * The changes of one xDS response of one kind. Address upserts are {@link Workload} or {@link Service}
     * entries, or their compact {@link KnownWorkload} or {@link KnownService} (whose name and version must be the
     * entry's); a removal names a resource of the kind whatever it held.
     *
     * @param completesSync true for the first response of the kind on a stream: after it the node holds the
     *                      control plane's full state of that kind
     */
    public record Update(ResourceKind kind, List<Entry<?>> upserts, List<String> removals, boolean completesSync) {
        public Update {
            Objects.requireNonNull(kind, "kind");
            upserts = List.copyOf(upserts);
            removals = List.copyOf(removals);
            for (Entry<?> e : upserts) {
                boolean fits = switch (kind) {
                    case ADDRESS -> e.value() instanceof Workload || e.value() instanceof Service
                            || e.value() instanceof KnownWorkload || e.value() instanceof KnownService;
                    case AUTHORIZATION -> e.value() instanceof Authorization;
                };
                if (!fits) {
                    throw new IllegalArgumentException(kind + " update holds a " + e.value().getClass().getSimpleName()
                            + " named " + e.name());
                }
            }
        }
    }

    /**
     * What one or more writes changed, as the load balancer needs to know it: the services whose content may
     * differ. {@link #all()} means "anything may have changed" (the history did not reach back far enough).
     *
     * @param serviceKeys  "namespace/hostname" keys whose members changed (a workload joined, left, or changed an
     *                     address, status, locality, node, network or port map)
     * @param serviceNames resource names of services that were added, changed or removed
     * @param nodes        node names of the workloads that changed (a node's own locality is learned from them)
     */
    public record Changes(boolean all, Set<String> serviceKeys, Set<String> serviceNames, Set<String> nodes) {
        /** Everything may have changed. */
        public static final Changes ALL = new Changes(true, Set.of(), Set.of(), Set.of());
        /** Nothing changed. */
        public static final Changes NONE = new Changes(false, Set.of(), Set.of(), Set.of());

        public boolean isEmpty() {
            return !all && serviceKeys.isEmpty() && serviceNames.isEmpty() && nodes.isEmpty();
        }

        int size() {
            return serviceKeys.size() + serviceNames.size() + nodes.size();
        }
    }

    /** An immutable view of the whole store at one generation. */
    public static final class Snapshot {
        private final long generation;
        private final Map<String, KnownService> services;
        private final Map<String, KnownWorkload> workloads;
        private final Map<String, Entry<Authorization>> authorizations;
        private final Map<String, Set<String>> membersByService;
        private final Set<ResourceKind> synced;
        private volatile Map<InetAddress, KnownWorkload> byAddress;

        Snapshot(long generation, Map<String, KnownService> services, Map<String, KnownWorkload> workloads,
                 Map<String, Entry<Authorization>> authorizations, Map<String, Set<String>> membersByService,
                 Set<ResourceKind> synced) {
            this.generation = generation;
            // Callers pass maps no one else holds, or the previous snapshot's: wrapping once keeps reads flat.
            this.services = services;
            this.workloads = workloads;
            this.authorizations = authorizations;
            this.membersByService = membersByService;
            this.synced = Collections.unmodifiableSet(synced.isEmpty()
                    ? EnumSet.noneOf(ResourceKind.class) : EnumSet.copyOf(synced));
        }

        /** Increases with every write that changed something; 0 for the empty store. */
        public long generation() {
            return generation;
        }

        /** Services by resource name ("namespace/hostname"). */
        public Map<String, KnownService> services() {
            return services;
        }

        /** Workloads by resource name (the workload uid, e.g. "Kubernetes//Pod/default/web-0"). */
        public Map<String, KnownWorkload> workloads() {
            return workloads;
        }

        /** Authorizations by resource name ("namespace/name"). */
        public Map<String, Entry<Authorization>> authorizations() {
            return authorizations;
        }

        /** The workloads that list a service ("namespace/hostname") in their services map, in no order. */
        public List<KnownWorkload> membersOf(String serviceKey) {
            Set<String> names = membersByService.get(serviceKey);
            if (names == null) {
                return List.of();
            }
            List<KnownWorkload> out = new ArrayList<>(names.size());
            for (String n : names) {
                KnownWorkload w = workloads.get(n);
                if (w != null) {
                    out.add(w);
                }
            }
            return out;
        }

        /** The kinds of which the node has received the control plane's full state at least once. */
        public Set<ResourceKind> synced() {
            return synced;
        }

        public boolean synced(ResourceKind kind) {
            return synced.contains(kind);
        }

        /** Resource name to version of every resource of a kind: what a reconnect declares it holds. */
        public Map<String, String> versions(ResourceKind kind) {
            Map<String, String> out = new LinkedHashMap<>();
            switch (kind) {
                case ADDRESS -> {
                    services.values().forEach(s -> out.put(s.name(), s.version()));
                    workloads.values().forEach(w -> out.put(w.uid(), w.version()));
                }
                case AUTHORIZATION -> authorizations.values().forEach(e -> out.put(e.name(), e.version()));
            }
            return out;
        }

        /** How many resources of a kind the node holds. */
        public int count(ResourceKind kind) {
            return switch (kind) {
                case ADDRESS -> services.size() + workloads.size();
                case AUTHORIZATION -> authorizations.size();
            };
        }

        /**
         * The workload that owns an address. Host-network pods share their node's address; then the one with
         * the smallest name wins, so answers are stable.
         */
        public Optional<KnownWorkload> workloadByAddress(InetAddress address) {
            Map<InetAddress, KnownWorkload> index = byAddress;
            if (index == null) {
                index = new HashMap<>();
                for (KnownWorkload w : workloads.values()) {
                    for (InetAddress a : w.addresses()) {
                        index.merge(a, w, (x, y) -> x.uid().compareTo(y.uid()) <= 0 ? x : y);
                    }
                }
                byAddress = index;
            }
            return Optional.ofNullable(index.get(address));
        }
    }

    /** How many writes' changes are kept for {@link #changesSince}; a reader further behind gets {@link Changes#ALL}. */
    static final int CHANGE_LOG_WRITES = 256;
    /** How many names the kept changes may hold in all. */
    static final int CHANGE_LOG_NAMES = 200_000;

    private record Logged(long generation, Changes changes) {
    }

    private volatile Snapshot current = new Snapshot(0, Map.of(), Map.of(), Map.of(), Map.of(), Set.of());
    private final List<Consumer<Snapshot>> listeners = new CopyOnWriteArrayList<>();
    private final Interner pool = new Interner();
    private final ArrayDeque<Logged> log = new ArrayDeque<>();
    private int logNames;

    /** The current state; never null, never changing. */
    public Snapshot snapshot() {
        return current;
    }

    /** Registers a listener told of every snapshot that a write produced. */
    public void addListener(Consumer<Snapshot> listener) {
        listeners.add(listener);
    }

    /**
     * What changed between generation {@code from} (exclusive) and {@code to} (inclusive): the union of the
     * writes in between, or {@link Changes#ALL} when {@code from} is older than the kept history (or negative).
     */
    public Changes changesSince(long from, long to) {
        if (from >= to) {
            return Changes.NONE;
        }
        synchronized (this) {
            if (from < 0 || log.isEmpty() || log.peekFirst().generation() > from + 1) {
                return Changes.ALL;
            }
            Set<String> keys = new HashSet<>();
            Set<String> names = new HashSet<>();
            Set<String> nodes = new HashSet<>();
            for (Logged l : log) {
                if (l.generation() > from && l.generation() <= to) {
                    keys.addAll(l.changes().serviceKeys());
                    names.addAll(l.changes().serviceNames());
                    nodes.addAll(l.changes().nodes());
                }
            }
            return new Changes(false, keys, names, nodes);
        }
    }

    /**
     * Applies the changes of one response. Upserts with the version already held change nothing; removals
     * of names not held are ignored. Returns the generation that reflects the update (the current one when
     * nothing changed).
     */
    public long apply(Update update) {
        Snapshot next;
        synchronized (this) {
            Write w = new Write(current);
            for (String name : update.removals()) {
                switch (update.kind()) {
                    case ADDRESS -> {
                        w.removeService(name);
                        w.removeWorkload(name);
                    }
                    case AUTHORIZATION -> {
                        if (w.base.authorizations.containsKey(name)) {
                            w.authorizations().remove(name);
                            w.changed = true;
                        }
                    }
                }
            }
            for (Entry<?> e : update.upserts()) {
                switch (e.value()) {
                    case Service s -> upsertService(w, KnownService.of(e.name(), e.version(), s, pool));
                    case KnownService s -> upsertService(w, s);
                    case Workload wl -> {
                        KnownWorkload held = w.workload(e.name());
                        // The held uid is the store's key: member sets that share it compare by identity.
                        upsertWorkload(w, held, KnownWorkload.of(held != null ? held.uid() : e.name(), e.version(),
                                wl, pool));
                    }
                    case KnownWorkload wl -> upsertWorkload(w, w.workload(e.name()), wl);
                    case Authorization a -> {
                        Entry<Authorization> held = w.base.authorizations.get(e.name());
                        if (held == null || !held.version().equals(e.version()) || !held.value().equals(a)) {
                            w.authorizations().put(e.name(), new Entry<>(e.name(), e.version(), a));
                            w.changed = true;
                        }
                    }
                    default -> throw new IllegalArgumentException("unexpected resource " + e.name());
                }
            }
            Snapshot base = w.base;
            boolean newlySynced = update.completesSync() && !base.synced.contains(update.kind());
            if (!w.changed && !newlySynced) {
                return base.generation;
            }
            Set<ResourceKind> synced = EnumSet.noneOf(ResourceKind.class);
            synced.addAll(base.synced);
            if (update.completesSync()) {
                synced.add(update.kind());
            }
            next = new Snapshot(base.generation + 1,
                    w.services == null ? base.services : Collections.unmodifiableMap(w.services),
                    w.workloads == null ? base.workloads : Collections.unmodifiableMap(w.workloads),
                    w.authorizations == null ? base.authorizations : Collections.unmodifiableMap(w.authorizations),
                    w.members == null ? base.membersByService : w.members,
                    synced);
            record(next.generation, new Changes(false, Set.copyOf(w.serviceKeys), Set.copyOf(w.serviceNames),
                    Set.copyOf(w.nodes)));
            current = next;
        }
        for (Consumer<Snapshot> l : listeners) {
            l.accept(next);
        }
        return next.generation;
    }

    private static void upsertService(Write w, KnownService incoming) {
        KnownService held = w.service(incoming.name());
        if (!incoming.equals(held)) {
            w.removeWorkload(incoming.name()); // an address name changed kind: it can only be one of the two
            w.services().put(incoming.name(), incoming);
            w.changed = true;
            if (held == null || !held.equals(withVersion(incoming, held.version()))) {
                w.serviceNames.add(incoming.name());
            }
        }
    }

    private static void upsertWorkload(Write w, KnownWorkload held, KnownWorkload incoming) {
        if (!incoming.equals(held)) {
            w.removeService(incoming.uid());
            w.putWorkload(held, incoming.sharing(held));
        }
    }

    private void record(long generation, Changes changes) {
        log.addLast(new Logged(generation, changes));
        logNames += changes.size();
        while (log.size() > CHANGE_LOG_WRITES || (logNames > CHANGE_LOG_NAMES && log.size() > 1)) {
            logNames -= log.removeFirst().changes().size();
        }
    }

    private static KnownService withVersion(KnownService s, String version) {
        return new KnownService(s.name(), version, s.namespace(), s.hostname(), s.addresses(), s.ports(), s.mode(),
                s.preferences(), s.allowAll(), s.key());
    }

    /** One write in progress: copies of the maps it touches, made on first touch, and what it changed. */
    private static final class Write {
        final Snapshot base;
        Map<String, KnownService> services;
        Map<String, KnownWorkload> workloads;
        Map<String, Entry<Authorization>> authorizations;
        Map<String, Set<String>> members;
        final Set<String> copiedMemberSets = new HashSet<>();
        final Set<String> serviceKeys = new HashSet<>();
        final Set<String> serviceNames = new HashSet<>();
        final Set<String> nodes = new HashSet<>();
        boolean changed;

        Write(Snapshot base) {
            this.base = base;
        }

        KnownService service(String name) {
            return (services != null ? services : base.services).get(name);
        }

        KnownWorkload workload(String name) {
            return (workloads != null ? workloads : base.workloads).get(name);
        }

        Map<String, KnownService> services() {
            if (services == null) {
                services = new HashMap<>(base.services);
            }
            return services;
        }

        Map<String, KnownWorkload> workloads() {
            if (workloads == null) {
                workloads = new HashMap<>(base.workloads);
            }
            return workloads;
        }

        Map<String, Entry<Authorization>> authorizations() {
            if (authorizations == null) {
                authorizations = new HashMap<>(base.authorizations);
            }
            return authorizations;
        }

        private Set<String> memberSet(String key) {
            if (members == null) {
                members = new HashMap<>(base.membersByService);
            }
            if (copiedMemberSets.add(key)) {
                Set<String> held = members.get(key);
                members.put(key, held == null ? new HashSet<>() : new HashSet<>(held));
            }
            return members.get(key);
        }

        void removeService(String name) {
            KnownService held = service(name);
            if (held != null) {
                services().remove(name);
                serviceNames.add(name);
                changed = true;
            }
        }

        void removeWorkload(String name) {
            KnownWorkload held = workload(name);
            if (held != null) {
                workloads().remove(name);
                leave(held);
                changed = true;
            }
        }

        void putWorkload(KnownWorkload held, KnownWorkload incoming) {
            // The held uid is the map's key: member sets that hold the same instance compare by identity.
            String uid = held != null ? held.uid() : incoming.uid();
            workloads().put(uid, incoming);
            changed = true;
            if (held != null && held.sameForLoadBalancing(incoming)) {
                return; // a new version or new labels only: no service is affected
            }
            if (held != null) {
                leave(held);
            }
            for (String key : incoming.services().keySet()) {
                memberSet(key).add(uid);
                serviceKeys.add(key);
            }
            nodes.add(incoming.node());
        }

        private void leave(KnownWorkload held) {
            for (String key : held.services().keySet()) {
                Set<String> set = memberSet(key);
                set.remove(held.uid());
                if (set.isEmpty()) {
                    members.remove(key);
                    copiedMemberSets.remove(key);
                }
                serviceKeys.add(key);
            }
            nodes.add(held.node());
        }
    }
}
