package io.mocket.bpf;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The typed maps of the socket load balancer and the one write protocol that keeps them consistent for
 * the programs reading them concurrently: {@link #replaceBackends} never shows a service with an empty or
 * half-written backend set. Writes to one service must come from one thread (the agent's reconciler).
 */
public final class LoadBalancerMaps implements AutoCloseable {

    public static final String FRONTEND = "mk_frontend";
    public static final String SERVICE = "mk_service";
    public static final String ENDPOINT = "mk_endpoint";
    public static final String BACKEND = "mk_backend";
    public static final String REVERSE_NAT = "mk_revnat";
    public static final String CONNECTION = "mk_connection";
    public static final String SOCKET = "mk_socket";

    /**
     * One map, its kernel type and the codecs of its key and value (one element, as the C struct): the single
     * place that pairs C maps with Java records. A pin whose type or sizes differ was made by another version.
     */
    public record MapSpec(String mapName, int mapType, BpfCodec<?> key, BpfCodec<?> value) {

        /** Whether a pinned map has this spec's type, key size and value size. */
        boolean matches(BpfMap pinned) {
            return pinned.type() == mapType && pinned.keySize() == key.byteSize()
                    && pinned.valueSize() == value.byteSize();
        }
    }

    /** Every map of the load balancer, in pin order. */
    public static final List<MapSpec> SPECS = List.of(
            new MapSpec(FRONTEND, BpfMap.TYPE_HASH, FrontendKey.CODEC, FrontendValue.CODEC),
            new MapSpec(SERVICE, BpfMap.TYPE_HASH, ServiceKey.CODEC, ServiceValue.CODEC),
            new MapSpec(ENDPOINT, BpfMap.TYPE_HASH, EndpointKey.CODEC, EndpointValue.CODEC),
            new MapSpec(BACKEND, BpfMap.TYPE_HASH, BackendKey.CODEC, BackendValue.CODEC),
            new MapSpec(REVERSE_NAT, BpfMap.TYPE_LRU_HASH, ReverseNatKey.CODEC, ReverseNatValue.CODEC),
            new MapSpec(CONNECTION, BpfMap.TYPE_PERCPU_HASH, ConnectionKey.CODEC, ConnectionTotals.CODEC),
            new MapSpec(SOCKET, BpfMap.TYPE_SK_STORAGE, SocketKey.CODEC, SocketState.CODEC));

    private final List<BpfMap> owned;
    private final TypedMap<FrontendKey, FrontendValue> frontends;
    private final TypedMap<ServiceKey, ServiceValue> services;
    private final TypedMap<EndpointKey, EndpointValue> endpoints;
    private final TypedMap<BackendKey, BackendValue> backends;
    private final TypedMap<ReverseNatKey, ReverseNatValue> reverseNat;
    private final TypedMap<ConnectionKey, ConnectionTotals> connections;
    private final TypedMap<SocketKey, SocketState> sockets;

    LoadBalancerMaps(Map<String, BpfMap> maps, List<BpfMap> owned) {
        this.owned = List.copyOf(owned);
        this.frontends = require(maps, FRONTEND).typed(FrontendKey.CODEC, FrontendValue.CODEC);
        this.services = require(maps, SERVICE).typed(ServiceKey.CODEC, ServiceValue.CODEC);
        this.endpoints = require(maps, ENDPOINT).typed(EndpointKey.CODEC, EndpointValue.CODEC);
        this.backends = require(maps, BACKEND).typed(BackendKey.CODEC, BackendValue.CODEC);
        this.reverseNat = require(maps, REVERSE_NAT).typed(ReverseNatKey.CODEC, ReverseNatValue.CODEC);
        this.connections = require(maps, CONNECTION).typed(ConnectionKey.CODEC, ConnectionTotals.PER_CPU);
        this.sockets = require(maps, SOCKET).typed(SocketKey.CODEC, SocketState.CODEC);
    }

    /**
     * Opens the maps pinned in a pin directory without loading any program (for a restarted agent that
     * only reads, or for inspection tools). The returned object owns the fds.
     */
    public static LoadBalancerMaps openPinned(Libbpf libbpf, Path pinDir) {
        Map<String, BpfMap> maps = new LinkedHashMap<>();
        try {
            for (MapSpec spec : SPECS) {
                maps.put(spec.mapName(), BpfMap.openPinned(libbpf, pinDir.resolve(spec.mapName())));
            }
            return new LoadBalancerMaps(maps, new ArrayList<>(maps.values()));
        } catch (RuntimeException e) {
            maps.values().forEach(BpfMap::close);
            throw e;
        }
    }

    private static BpfMap require(Map<String, BpfMap> maps, String name) {
        BpfMap map = maps.get(name);
        if (map == null) {
            throw new IllegalStateException("map " + name + " is missing from the loaded BPF objects");
        }
        return map;
    }

    /** VIP, port and protocol to service id. */
    public TypedMap<FrontendKey, FrontendValue> frontends() {
        return frontends;
    }

    /** Service id to revision, counts per priority and policy. */
    public TypedMap<ServiceKey, ServiceValue> services() {
        return services;
    }

    /** Slot of a service revision to backend id and target port. */
    public TypedMap<EndpointKey, EndpointValue> endpoints() {
        return endpoints;
    }

    /** Backend id to address. */
    public TypedMap<BackendKey, BackendValue> backends() {
        return backends;
    }

    /** Socket cookie and backend to the VIP sent to, for unconnected UDP (written by sendmsg). */
    public TypedMap<ReverseNatKey, ReverseNatValue> reverseNat() {
        return reverseNat;
    }

    /**
     * Direction, service and address pair to connection counters (added to by sockops; per-CPU, read as
     * sums).
     */
    public TypedMap<ConnectionKey, ConnectionTotals> connections() {
        return connections;
    }

    /** Socket storage of the programs, reachable from user space only with a socket fd of this process. */
    public TypedMap<SocketKey, SocketState> sockets() {
        return sockets;
    }

    /**
     * Replaces the backend set of a service in the order that keeps every connect answered:
     * (1) write all slots of a new revision, (2) switch the service entry to it in one update,
     * (3) delete the slots of the old revision. A program that raced with (3) reads the service again.
     * An empty set is allowed and makes the VIP refuse connections.
     *
     * @param byPriority backends per locality priority, index 0 the most local, at most
     *                   {@link ServiceValue#PRIORITIES} lists
     * @return the service entry now in force
     */
    public ServiceValue replaceBackends(int serviceId, LbMode lbMode, HealthPolicy healthPolicy,
                                        List<List<EndpointValue>> byPriority) {
        ServiceValue current = services.get(new ServiceKey(serviceId)).orElse(null);
        return replaceBackends(List.of(new BackendSet(serviceId, current, lbMode, healthPolicy, byPriority))).getFirst();
    }

    /**
     * A service's next backend set for {@link #replaceBackends(List)}.
     *
     * @param current    the service entry the kernel holds now (null for a new service)
     * @param byPriority backends per locality priority, at most {@link ServiceValue#PRIORITIES} lists
     */
    public record BackendSet(int serviceId, ServiceValue current, LbMode lbMode, HealthPolicy healthPolicy,
                             List<List<EndpointValue>> byPriority) {
        public BackendSet {
            if (byPriority.size() > ServiceValue.PRIORITIES) {
                throw new IllegalArgumentException("at most " + ServiceValue.PRIORITIES + " priorities, got "
                        + byPriority.size());
            }
        }
    }

    /**
     * {@link #replaceBackends(int, LbMode, HealthPolicy, List)} for many services in three batch calls: the
     * slots of every new revision, then every service entry (one element each, so each service switches in one
     * step to a revision whose slots are all written), then the slots of every old revision. The entries the
     * caller says the kernel holds are used as they are (no lookups). The caller needs room in the endpoint map
     * for the old and the new slots of all of them at once.
     *
     * <p>If a batch fails, the services whose entry was not switched keep their old revision in full; slots of
     * their new revision may be left behind (no entry points at them) for the caller to delete.
     *
     * @return the service entries now in force, in the order of {@code sets}
     */
    public List<ServiceValue> replaceBackends(List<BackendSet> sets) {
        List<ServiceValue> result = switchBackends(sets);
        List<EndpointKey> oldSlots = new ArrayList<>();
        for (BackendSet set : sets) {
            if (set.current() != null) {
                oldSlots.addAll(slotKeys(set.serviceId(), set.current()));
            }
        }
        endpoints.removeAll(oldSlots);
        return result;
    }

    /**
     * Steps (1) and (2) of {@link #replaceBackends(List)} without (3): when it returns, every service of
     * {@code sets} serves its new revision, whole; the slots of the old revisions ({@link #slotKeys} of each
     * set's {@code current}) are still in the endpoint map for the caller to delete later. No entry points at
     * them any more, and a program that read an old entry just before its switch still finds its slots, so
     * deleting them later changes nothing a connecting socket can see; until then they take room in the map.
     *
     * @return the service entries now in force, in the order of {@code sets}
     */
    public List<ServiceValue> switchBackends(List<BackendSet> sets) {
        Map<EndpointKey, EndpointValue> slots = new LinkedHashMap<>();
        Map<ServiceKey, ServiceValue> entries = new LinkedHashMap<>();
        List<ServiceValue> result = new ArrayList<>(sets.size());
        for (BackendSet set : sets) {
            int revision = set.current() == null ? 1 : set.current().revision() + 1;
            List<Integer> counts = new ArrayList<>(ServiceValue.PRIORITIES);
            for (int prio = 0; prio < ServiceValue.PRIORITIES; prio++) {
                List<EndpointValue> backendsAtPrio = prio < set.byPriority().size() ? set.byPriority().get(prio)
                        : List.of();
                for (int slot = 0; slot < backendsAtPrio.size(); slot++) {
                    slots.put(new EndpointKey(set.serviceId(), revision, prio, slot), backendsAtPrio.get(slot));
                }
                counts.add(backendsAtPrio.size());
            }
            ServiceValue next = new ServiceValue(revision, counts, set.lbMode(), set.healthPolicy());
            entries.put(new ServiceKey(set.serviceId()), next);
            result.add(next);
        }
        endpoints.putAll(slots);
        services.putAll(entries);
        return result;
    }

    /** Removes a service entry and its slots (frontends pointing at it then refuse, so remove those first). */
    public void removeService(int serviceId) {
        ServiceKey key = new ServiceKey(serviceId);
        Optional<ServiceValue> old = services.get(key);
        services.remove(key);
        old.ifPresent(o -> endpoints.removeAll(slotKeys(serviceId, o)));
    }

    /** The keys of every slot of a service entry's revision. */
    public static List<EndpointKey> slotKeys(int serviceId, ServiceValue value) {
        List<EndpointKey> keys = new ArrayList<>();
        for (int prio = 0; prio < ServiceValue.PRIORITIES; prio++) {
            for (int slot = 0; slot < value.counts().get(prio); slot++) {
                keys.add(new EndpointKey(serviceId, value.revision(), prio, slot));
            }
        }
        return keys;
    }

    /** Releases the fds this object owns (only when opened from pins). */
    @Override
    public void close() {
        owned.forEach(BpfMap::close);
    }
}
