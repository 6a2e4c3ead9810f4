package io.mocket.agent;

import io.mocket.api.istio.workload.LoadBalancing;
import io.mocket.api.istio.workload.Locality;
import io.mocket.bpf.FrontendKey;
import io.mocket.bpf.HealthPolicy;
import io.mocket.bpf.L4Protocol;
import io.mocket.bpf.LbMode;
import io.mocket.bpf.ServiceValue;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What the socket load balancer of this node should hold, computed from a {@link NodeState.Snapshot}
 * without ids (the reconciler assigns them): one {@link ServicePort} per service, service port and
 * address family, with its frontends and its backends per locality priority.
 *
 * <p>Rules, following ztunnel's reading of the workload API:
 * <ul>
 *   <li>Frontends: every service address on this node's network, for every service port, for TCP and UDP
 *       (the workload API does not say which transport a port is).</li>
 *   <li>Backends: the workloads that list the service in their {@code services} map, with an address of the
 *       family and on this node's network. The target port is the workload's own mapping for the service
 *       port, else the service's numeric target port; a named target port the workload does not resolve
 *       leaves the workload out of that port, as Kubernetes endpoints do.</li>
 *   <li>Health: {@code ONLY_HEALTHY} (the default) leaves out {@code UNHEALTHY} workloads.</li>
 *   <li>Locality: FAILOVER ranks a backend by how many routing preferences, in order, it shares with this
 *       node; priority 0 matches all. STRICT keeps only priority 0. UNSPECIFIED puts every backend at
 *       priority 0. PASSTHROUGH services get no frontend: the original destination is kept.</li>
 * </ul>
 *
 * @param services the service ports, sorted by {@link ServicePort#key()}
 * @param problems resources that cannot be applied as sent, by resource name (e.g. a VIP claimed twice)
 */
public record DesiredState(List<ServicePort> services, Map<String, String> problems) {

    /** The address family of a frontend and its backends. */
    public enum Family {
        IPV4("v4"),
        IPV6("v6");

        private final String tag;

        Family(String tag) {
            this.tag = tag;
        }

        public String tag() {
            return tag;
        }

        static Family of(InetAddress address) {
            return address instanceof Inet4Address ? IPV4 : IPV6;
        }
    }

    /**
     * One backend of a service port.
     *
     * @param address    the workload address
     * @param targetPort the port the workload listens on for this service port
     * @param healthy    the workload's status
     * @param workload   the workload's resource name
     */
    public record Member(InetAddress address, int targetPort, boolean healthy, String workload) {
    }

    /**
     * One service port in one family: the unit that gets a service id.
     *
     * @param service      "namespace/hostname", as workloads name it
     * @param resourceName the xDS name of the service resource
     * @param port         the service port
     * @param family       the address family
     * @param frontends    VIP:port for TCP and UDP, sorted
     * @param lbMode       how priorities are used
     * @param healthPolicy which workloads may be backends
     * @param byPriority   backends per priority, index 0 the most local, exactly
     *                     {@link ServiceValue#PRIORITIES} lists, each sorted by address and port
     * @param key          the stable name the service id is derived from,
     *                     e.g. "default/web.default.svc.cluster.local:80/v4" (made once: passes sort and look up by it)
     */
    public record ServicePort(String service, String resourceName, int port, Family family, List<FrontendKey> frontends,
                              LbMode lbMode, HealthPolicy healthPolicy, List<List<Member>> byPriority, String key) {

        public ServicePort(String service, String resourceName, int port, Family family, List<FrontendKey> frontends,
                           LbMode lbMode, HealthPolicy healthPolicy, List<List<Member>> byPriority) {
            this(service, resourceName, port, family, frontends, lbMode, healthPolicy, byPriority,
                    service + ":" + port + "/" + family.tag());
        }

        public ServicePort {
            java.util.Objects.requireNonNull(key, "key");
            frontends = List.copyOf(frontends);
            List<List<Member>> lists = new ArrayList<>(byPriority.size());
            for (List<Member> l : byPriority) {
                lists.add(List.copyOf(l)); // the same list when it is already an immutable copy
            }
            byPriority = List.copyOf(lists);
            if (byPriority.size() != ServiceValue.PRIORITIES) {
                throw new IllegalArgumentException("byPriority needs " + ServiceValue.PRIORITIES + " lists");
            }
        }

        /** This service port with only some of its frontends (the others belong to another service). */
        public ServicePort withFrontends(List<FrontendKey> kept) {
            return kept.equals(frontends) ? this
                    : new ServicePort(service, resourceName, port, family, kept, lbMode, healthPolicy, byPriority, key);
        }

        /** Every backend of every priority. */
        public List<Member> members() {
            return byPriority.stream().flatMap(List::stream).toList();
        }

        /** The resource names whose content this service port reflects: the service and its member workloads. */
        public Set<String> sources() {
            Set<String> out = new LinkedHashSet<>();
            out.add(resourceName);
            members().forEach(m -> out.add(m.workload()));
            return out;
        }
    }

    /** Service ports by key (one call per comparison: C1 does not inline a Comparator.comparing chain). */
    static final Comparator<ServicePort> BY_KEY = (a, b) -> a.key().compareTo(b.key());

    /** Members by address, target port, workload (written out: C1 does not inline a Comparator.comparing chain). */
    private static final Comparator<Member> MEMBER_ORDER = (a, b) -> {
        int c = compareAddresses(a.address(), b.address());
        if (c != 0) {
            return c;
        }
        c = Integer.compare(a.targetPort(), b.targetPort());
        return c != 0 ? c : a.workload().compareTo(b.workload());
    };

    /** {@link L4Protocol#values()} once (each call copies the array). */
    private static final L4Protocol[] PROTOCOLS = L4Protocol.values();

    /** Unsigned byte order; an IPv4 address's hash code is its 32 bits, which spares copying it for each comparison. */
    static int compareAddresses(InetAddress a, InetAddress b) {
        if (a instanceof Inet4Address && b instanceof Inet4Address) {
            return Integer.compareUnsigned(a.hashCode(), b.hashCode());
        }
        return Arrays.compareUnsigned(a.getAddress(), b.getAddress());
    }

    public DesiredState {
        services = List.copyOf(services);
        problems = Map.copyOf(problems);
    }

    /** Computes the desired content for the node described by {@code topology}. */
    public static DesiredState compute(NodeState.Snapshot snapshot, NodeTopology topology) {
        Locality locality = topology.localityIn(snapshot);
        Map<String, String> problems = new LinkedHashMap<>();
        Map<FrontendKey, String> claimed = new HashMap<>();
        List<ServicePort> out = new ArrayList<>();
        // Sorted by resource name so that a VIP claimed twice goes to the same service on every node and run.
        for (KnownService svc : new TreeMap<>(snapshot.services()).values()) {
            for (ServicePort sp : servicePorts(svc, snapshot.membersOf(svc.key()), topology, locality)) {
                List<FrontendKey> kept = new ArrayList<>();
                for (FrontendKey fk : sp.frontends()) {
                    String owner = claimed.putIfAbsent(fk, svc.name());
                    if (owner == null) {
                        kept.add(fk);
                    } else {
                        problems.put(svc.name(), conflict(fk, owner));
                    }
                }
                if (!kept.isEmpty()) {
                    out.add(sp.withFrontends(kept));
                }
            }
        }
        out.sort(DesiredState.BY_KEY);
        return new DesiredState(out, problems);
    }

    /** The problem of a service that wants a frontend another service holds. */
    static String conflict(FrontendKey fk, String owner) {
        return "address " + fk.address().getHostAddress() + ":" + fk.port() + "/" + fk.protocol()
                + " is already the address of " + owner + "; this service does not get it";
    }

    /** Every frontend a service wants on this node (before any conflict with another service is settled). */
    static Set<FrontendKey> wantedFrontends(KnownService svc, NodeTopology topology) {
        if (svc.mode() == LoadBalancing.Mode.PASSTHROUGH) {
            return Set.of();
        }
        Set<FrontendKey> out = new HashSet<>();
        for (KnownService.Vip vip : svc.addresses()) {
            if (vip.network().equals(topology.network())) {
                for (KnownWorkload.KnownPort p : svc.ports()) {
                    for (L4Protocol proto : PROTOCOLS) {
                        out.add(new FrontendKey(vip.address(), p.port(), proto));
                    }
                }
            }
        }
        return out;
    }

    /**
     * The service ports of one service with all the frontends it wants (conflicts not settled), sorted by key;
     * none for a PASSTHROUGH service or one without an address on this node's network.
     *
     * @param members the workloads that list the service, in any order
     */
    static List<ServicePort> servicePorts(KnownService svc, List<KnownWorkload> members, NodeTopology topology,
                                          Locality locality) {
        if (svc.mode() == LoadBalancing.Mode.PASSTHROUGH) {
            return List.of();
        }
        Map<Family, List<InetAddress>> vips = new TreeMap<>();
        for (KnownService.Vip a : svc.addresses()) {
            if (a.network().equals(topology.network())) {
                vips.computeIfAbsent(Family.of(a.address()), f -> new ArrayList<>()).add(a.address());
            }
        }
        if (vips.isEmpty()) {
            return List.of();
        }
        Map<Integer, KnownWorkload.KnownPort> ports = new TreeMap<>();
        for (KnownWorkload.KnownPort p : svc.ports()) {
            ports.putIfAbsent(p.port(), p);
        }
        List<ServicePort> out = new ArrayList<>();
        for (Map.Entry<Family, List<InetAddress>> f : vips.entrySet()) {
            for (KnownWorkload.KnownPort port : ports.values()) {
                out.add(servicePort(svc, port, f.getKey(), f.getValue(), members, topology, locality));
            }
        }
        out.sort(DesiredState.BY_KEY);
        return out;
    }

    private static ServicePort servicePort(KnownService svc, KnownWorkload.KnownPort port, Family family,
                                           List<InetAddress> vips, List<KnownWorkload> members,
                                           NodeTopology topology, Locality locality) {
        String service = svc.key();
        LbMode mode = switch (svc.mode()) {
            case STRICT -> LbMode.STRICT;
            case FAILOVER -> LbMode.FAILOVER;
            default -> LbMode.UNSPECIFIED;
        };
        HealthPolicy health = svc.allowAll() ? HealthPolicy.ALLOW_ALL : HealthPolicy.ONLY_HEALTHY;
        List<List<Member>> byPriority = new ArrayList<>();
        for (int i = 0; i < ServiceValue.PRIORITIES; i++) {
            byPriority.add(new ArrayList<>());
        }
        for (KnownWorkload w : members) {
            if (!w.healthy() && health == HealthPolicy.ONLY_HEALTHY) {
                continue;
            }
            if (!w.network().equals(topology.network())) {
                continue; // another network is reached through its gateway, which the kernel cannot do
            }
            int target = targetPort(w.services().get(service), port);
            if (target == 0) {
                continue;
            }
            int priority = switch (mode) {
                case UNSPECIFIED -> 0;
                case STRICT, FAILOVER -> {
                    int unmatched = svc.preferences().size() - matchedPreferences(svc.preferences(), w, topology,
                            locality);
                    yield Math.min(unmatched, ServiceValue.PRIORITIES - 1);
                }
            };
            if (mode == LbMode.STRICT && priority != 0) {
                continue;
            }
            for (InetAddress a : w.addresses()) {
                if (Family.of(a) == family) {
                    byPriority.get(priority).add(new Member(a, target, w.healthy(), w.uid()));
                }
            }
        }
        for (List<Member> list : byPriority) {
            list.sort(MEMBER_ORDER);
            dropDuplicateAddresses(list);
        }
        List<FrontendKey> frontends = new ArrayList<>();
        for (InetAddress vip : vips) {
            for (L4Protocol proto : PROTOCOLS) {
                frontends.add(new FrontendKey(vip, port.port(), proto));
            }
        }
        return new ServicePort(service, svc.name(), port.port(), family, frontends, mode, health, byPriority);
    }

    /** Host-network pods share their node's address: one slot per address and port, not one per pod. */
    private static void dropDuplicateAddresses(List<Member> sorted) {
        for (int i = sorted.size() - 1; i > 0; i--) {
            Member a = sorted.get(i - 1);
            Member b = sorted.get(i);
            if (a.address().equals(b.address()) && a.targetPort() == b.targetPort()) {
                sorted.remove(i);
            }
        }
    }

    /** The workload's port for a service port: its own mapping, else the service's numeric target port, else 0. */
    static int targetPort(List<KnownWorkload.KnownPort> workloadPorts, KnownWorkload.KnownPort servicePort) {
        if (workloadPorts != null) {
            for (KnownWorkload.KnownPort p : workloadPorts) {
                if (p.port() == servicePort.port() && p.targetPort() != 0) {
                    return p.targetPort();
                }
            }
        }
        return servicePort.targetPort();
    }

    /** How many routing preferences, from the first on, the workload shares with this node. */
    static int matchedPreferences(List<LoadBalancing.Scope> preferences, KnownWorkload w, NodeTopology topology,
                                  Locality locality) {
        Locality at = w.locality() == null ? Locality.getDefaultInstance() : w.locality();
        int matched = 0;
        for (LoadBalancing.Scope scope : preferences) {
            boolean same = switch (scope) {
                case REGION -> at.getRegion().equals(locality.getRegion());
                case ZONE -> at.getZone().equals(locality.getZone());
                case SUBZONE -> at.getSubzone().equals(locality.getSubzone());
                case NODE -> topology.isLocal(w);
                case CLUSTER -> w.clusterId().equals(topology.clusterId());
                case NETWORK -> w.network().equals(topology.network());
                default -> true; // an unknown scope constrains nothing
            };
            if (!same) {
                break;
            }
            matched++;
        }
        return matched;
    }
}
