package io.mocket.agent;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
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
 *
 * <p>Thread safety: writes are serialized; every write publishes a new immutable {@link Snapshot} with the
 * next generation, so a reader always sees one consistent state without locking. Listeners are told on
 * the writing thread after the snapshot is visible and must not block.
 */
public final class NodeState {

    /** One resource as held: its xDS name, the version the control plane sent, and the decoded message. */
    public record Entry<T extends Message>(String name, String version, T value) {
        public Entry {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(version, "version");
            Objects.requireNonNull(value, "value");
        }
    }

    /**
     * The changes of one xDS response of one kind. Address upserts are {@link Workload} or {@link Service}
     * entries; a removal names a resource of the kind whatever it held.
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
                    case ADDRESS -> e.value() instanceof Workload || e.value() instanceof Service;
                    case AUTHORIZATION -> e.value() instanceof Authorization;
                };
                if (!fits) {
                    throw new IllegalArgumentException(kind + " update holds a " + e.value().getClass().getSimpleName()
                            + " named " + e.name());
                }
            }
        }
    }

    /** An immutable view of the whole store at one generation. */
    public static final class Snapshot {
        private final long generation;
        private final Map<String, Entry<Service>> services;
        private final Map<String, Entry<Workload>> workloads;
        private final Map<String, Entry<Authorization>> authorizations;
        private final Set<ResourceKind> synced;
        private volatile Map<InetAddress, Entry<Workload>> byAddress;

        Snapshot(long generation, Map<String, Entry<Service>> services, Map<String, Entry<Workload>> workloads,
                 Map<String, Entry<Authorization>> authorizations, Set<ResourceKind> synced) {
            this.generation = generation;
            // Callers pass maps no one else holds, or the previous snapshot's: wrapping once keeps reads flat.
            this.services = services;
            this.workloads = workloads;
            this.authorizations = authorizations;
            this.synced = Collections.unmodifiableSet(synced.isEmpty()
                    ? EnumSet.noneOf(ResourceKind.class) : EnumSet.copyOf(synced));
        }

        /** Increases with every write that changed something; 0 for the empty store. */
        public long generation() {
            return generation;
        }

        /** Services by resource name ("namespace/hostname"). */
        public Map<String, Entry<Service>> services() {
            return services;
        }

        /** Workloads by resource name (the workload uid, e.g. "Kubernetes//Pod/default/web-0"). */
        public Map<String, Entry<Workload>> workloads() {
            return workloads;
        }

        /** Authorizations by resource name ("namespace/name"). */
        public Map<String, Entry<Authorization>> authorizations() {
            return authorizations;
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
                    services.values().forEach(e -> out.put(e.name(), e.version()));
                    workloads.values().forEach(e -> out.put(e.name(), e.version()));
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
        public Optional<Entry<Workload>> workloadByAddress(InetAddress address) {
            Map<InetAddress, Entry<Workload>> index = byAddress;
            if (index == null) {
                index = new HashMap<>();
                for (Entry<Workload> e : workloads.values()) {
                    for (ByteString raw : e.value().getAddressesList()) {
                        try {
                            InetAddress a = InetAddress.getByAddress(raw.toByteArray());
                            index.merge(a, e, (x, y) -> x.name().compareTo(y.name()) <= 0 ? x : y);
                        } catch (UnknownHostException ignored) {
                            // the decoder admits only 4- and 16-byte addresses
                        }
                    }
                }
                byAddress = index;
            }
            return Optional.ofNullable(index.get(address));
        }
    }

    private volatile Snapshot current = new Snapshot(0, Map.of(), Map.of(), Map.of(), Set.of());
    private final List<Consumer<Snapshot>> listeners = new CopyOnWriteArrayList<>();

    /** The current state; never null, never changing. */
    public Snapshot snapshot() {
        return current;
    }

    /** Registers a listener told of every snapshot that a write produced. */
    public void addListener(Consumer<Snapshot> listener) {
        listeners.add(listener);
    }

    /**
     * Applies the changes of one response. Upserts with the version already held change nothing; removals
     * of names not held are ignored. Returns the generation that reflects the update (the current one when
     * nothing changed).
     */
    public long apply(Update update) {
        Snapshot next;
        synchronized (this) {
            Snapshot base = current;
            Map<String, Entry<Service>> services = null;
            Map<String, Entry<Workload>> workloads = null;
            Map<String, Entry<Authorization>> authorizations = null;
            boolean changed = false;
            for (String name : update.removals()) {
                switch (update.kind()) {
                    case ADDRESS -> {
                        if (base.services.containsKey(name) || (services != null && services.containsKey(name))) {
                            services = services == null ? new HashMap<>(base.services) : services;
                            changed |= services.remove(name) != null;
                        }
                        if (base.workloads.containsKey(name) || (workloads != null && workloads.containsKey(name))) {
                            workloads = workloads == null ? new HashMap<>(base.workloads) : workloads;
                            changed |= workloads.remove(name) != null;
                        }
                    }
                    case AUTHORIZATION -> {
                        if (base.authorizations.containsKey(name)) {
                            authorizations = authorizations == null ? new HashMap<>(base.authorizations) : authorizations;
                            changed |= authorizations.remove(name) != null;
                        }
                    }
                }
            }
            for (Entry<?> e : update.upserts()) {
                switch (e.value()) {
                    case Service s -> {
                        if (!same(base.services.get(e.name()), e) || base.workloads.containsKey(e.name())) {
                            services = services == null ? new HashMap<>(base.services) : services;
                            services.put(e.name(), new Entry<>(e.name(), e.version(), s));
                            if (base.workloads.containsKey(e.name())) {
                                // an address name changed kind: it can only be one of the two
                                workloads = workloads == null ? new HashMap<>(base.workloads) : workloads;
                                workloads.remove(e.name());
                            }
                            changed = true;
                        }
                    }
                    case Workload w -> {
                        if (!same(base.workloads.get(e.name()), e) || base.services.containsKey(e.name())) {
                            workloads = workloads == null ? new HashMap<>(base.workloads) : workloads;
                            workloads.put(e.name(), new Entry<>(e.name(), e.version(), w));
                            if (base.services.containsKey(e.name())) {
                                services = services == null ? new HashMap<>(base.services) : services;
                                services.remove(e.name());
                            }
                            changed = true;
                        }
                    }
                    case Authorization a -> {
                        if (!same(base.authorizations.get(e.name()), e)) {
                            authorizations = authorizations == null ? new HashMap<>(base.authorizations) : authorizations;
                            authorizations.put(e.name(), new Entry<>(e.name(), e.version(), a));
                            changed = true;
                        }
                    }
                    default -> throw new IllegalArgumentException("unexpected resource " + e.name());
                }
            }
            boolean newlySynced = update.completesSync() && !base.synced.contains(update.kind());
            if (!changed && !newlySynced) {
                return base.generation;
            }
            Set<ResourceKind> synced = EnumSet.noneOf(ResourceKind.class);
            synced.addAll(base.synced);
            if (update.completesSync()) {
                synced.add(update.kind());
            }
            next = new Snapshot(base.generation + 1,
                    services == null ? base.services : Collections.unmodifiableMap(services),
                    workloads == null ? base.workloads : Collections.unmodifiableMap(workloads),
                    authorizations == null ? base.authorizations : Collections.unmodifiableMap(authorizations),
                    synced);
            current = next;
        }
        for (Consumer<Snapshot> l : listeners) {
            l.accept(next);
        }
        return next.generation;
    }

    private static boolean same(Entry<?> held, Entry<?> incoming) {
        return held != null && held.version().equals(incoming.version()) && held.value().equals(incoming.value());
    }
}
