package io.mocket.agent;

import com.google.protobuf.ByteString;
import io.mocket.api.istio.workload.LoadBalancing;
import io.mocket.api.istio.workload.Locality;
import io.mocket.api.istio.workload.NetworkAddress;
import io.mocket.api.istio.workload.Port;
import io.mocket.api.istio.workload.PortList;
import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import io.mocket.api.istio.workload.WorkloadStatus;
import io.mocket.bpf.FrontendKey;
import io.mocket.bpf.HealthPolicy;
import io.mocket.bpf.L4Protocol;
import io.mocket.bpf.LbMode;
import io.mocket.bpf.ServiceValue;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
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
     */
    public record ServicePort(String service, String resourceName, int port, Family family, List<FrontendKey> frontends,
                              LbMode lbMode, HealthPolicy healthPolicy, List<List<Member>> byPriority) {

        public ServicePort {
            frontends = List.copyOf(frontends);
            byPriority = byPriority.stream().map(List::copyOf).toList();
            if (byPriority.size() != ServiceValue.PRIORITIES) {
                throw new IllegalArgumentException("byPriority needs " + ServiceValue.PRIORITIES + " lists");
            }
        }

        /** The stable name the service id is derived from, e.g. "default/web.default.svc.cluster.local:80/v4". */
        public String key() {
            return service + ":" + port + "/" + family.tag();
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

    private static final Comparator<Member> MEMBER_ORDER = Comparator
            .comparing((Member m) -> m.address().getAddress(), Arrays::compareUnsigned)
            .thenComparingInt(Member::targetPort)
            .thenComparing(Member::workload);

    public DesiredState {
        services = List.copyOf(services);
        problems = Map.copyOf(problems);
    }

    /** Computes the desired content for the node described by {@code topology}. */
    public static DesiredState compute(NodeState.Snapshot snapshot, NodeTopology topology) {
        Locality locality = topology.localityIn(snapshot);
        Map<String, List<NodeState.Entry<Workload>>> membersByService = new HashMap<>();
        for (NodeState.Entry<Workload> e : snapshot.workloads().values()) {
            for (String service : e.value().getServicesMap().keySet()) {
                membersByService.computeIfAbsent(service, s -> new ArrayList<>()).add(e);
            }
        }
        Map<String, String> problems = new LinkedHashMap<>();
        Map<FrontendKey, String> claimed = new HashMap<>();
        List<ServicePort> out = new ArrayList<>();
        // Sorted by resource name so that a VIP claimed twice goes to the same service on every node and run.
        for (NodeState.Entry<Service> e : new TreeMap<>(snapshot.services()).values()) {
            Service svc = e.value();
            LoadBalancing lb = svc.getLoadBalancing();
            if (lb.getMode() == LoadBalancing.Mode.PASSTHROUGH) {
                continue;
            }
            String service = svc.getNamespace() + "/" + svc.getHostname();
            Map<Family, List<InetAddress>> vips = new TreeMap<>();
            for (NetworkAddress a : svc.getAddressesList()) {
                if (a.getNetwork().equals(topology.network())) {
                    InetAddress vip = address(a.getAddress());
                    vips.computeIfAbsent(Family.of(vip), f -> new ArrayList<>()).add(vip);
                }
            }
            Map<Integer, Port> ports = new TreeMap<>();
            for (Port p : svc.getPortsList()) {
                ports.putIfAbsent(p.getServicePort(), p);
            }
            List<NodeState.Entry<Workload>> members = membersByService.getOrDefault(service, List.of());
            for (Map.Entry<Family, List<InetAddress>> f : vips.entrySet()) {
                for (Port port : ports.values()) {
                    ServicePort sp = servicePort(e.name(), service, svc, port, f.getKey(), f.getValue(), members,
                            topology, locality);
                    List<FrontendKey> kept = new ArrayList<>();
                    for (FrontendKey fk : sp.frontends()) {
                        String owner = claimed.putIfAbsent(fk, e.name());
                        if (owner == null) {
                            kept.add(fk);
                        } else {
                            problems.put(e.name(), "address " + fk.address().getHostAddress() + ":" + fk.port() + "/"
                                    + fk.protocol() + " is already the address of " + owner + "; this service does not"
                                    + " get it");
                        }
                    }
                    if (!kept.isEmpty()) {
                        out.add(new ServicePort(sp.service(), sp.resourceName(), sp.port(), sp.family(), kept,
                                sp.lbMode(), sp.healthPolicy(), sp.byPriority()));
                    }
                }
            }
        }
        out.sort(Comparator.comparing(ServicePort::key));
        return new DesiredState(out, problems);
    }

    private static ServicePort servicePort(String resourceName, String service, Service svc, Port port, Family family,
                                           List<InetAddress> vips, List<NodeState.Entry<Workload>> members,
                                           NodeTopology topology, Locality locality) {
        LoadBalancing lb = svc.getLoadBalancing();
        LbMode mode = switch (lb.getMode()) {
            case STRICT -> LbMode.STRICT;
            case FAILOVER -> LbMode.FAILOVER;
            default -> LbMode.UNSPECIFIED;
        };
        HealthPolicy health = lb.getHealthPolicy() == LoadBalancing.HealthPolicy.ALLOW_ALL
                ? HealthPolicy.ALLOW_ALL : HealthPolicy.ONLY_HEALTHY;
        List<List<Member>> byPriority = new ArrayList<>();
        for (int i = 0; i < ServiceValue.PRIORITIES; i++) {
            byPriority.add(new ArrayList<>());
        }
        for (NodeState.Entry<Workload> e : members) {
            Workload w = e.value();
            boolean healthy = w.getStatus() != WorkloadStatus.UNHEALTHY;
            if (!healthy && health == HealthPolicy.ONLY_HEALTHY) {
                continue;
            }
            if (!w.getNetwork().equals(topology.network())) {
                continue; // another network is reached through its gateway, which the kernel cannot do
            }
            int target = targetPort(w.getServicesMap().get(service), port);
            if (target == 0) {
                continue;
            }
            int priority = switch (mode) {
                case UNSPECIFIED -> 0;
                case STRICT, FAILOVER -> {
                    int unmatched = lb.getRoutingPreferenceCount() - matchedPreferences(lb, w, topology, locality);
                    yield Math.min(unmatched, ServiceValue.PRIORITIES - 1);
                }
            };
            if (mode == LbMode.STRICT && priority != 0) {
                continue;
            }
            for (ByteString raw : w.getAddressesList()) {
                InetAddress a = address(raw);
                if (Family.of(a) == family) {
                    byPriority.get(priority).add(new Member(a, target, healthy, e.name()));
                }
            }
        }
        for (List<Member> list : byPriority) {
            list.sort(MEMBER_ORDER);
            dropDuplicateAddresses(list);
        }
        List<FrontendKey> frontends = new ArrayList<>();
        for (InetAddress vip : vips) {
            for (L4Protocol proto : L4Protocol.values()) {
                frontends.add(new FrontendKey(vip, port.getServicePort(), proto));
            }
        }
        return new ServicePort(service, resourceName, port.getServicePort(), family, frontends, mode, health,
                byPriority);
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
    static int targetPort(PortList workloadPorts, Port servicePort) {
        if (workloadPorts != null) {
            for (Port p : workloadPorts.getPortsList()) {
                if (p.getServicePort() == servicePort.getServicePort() && p.getTargetPort() != 0) {
                    return p.getTargetPort();
                }
            }
        }
        return servicePort.getTargetPort();
    }

    /** How many routing preferences, from the first on, the workload shares with this node. */
    static int matchedPreferences(LoadBalancing lb, Workload w, NodeTopology topology, Locality locality) {
        int matched = 0;
        for (LoadBalancing.Scope scope : lb.getRoutingPreferenceList()) {
            boolean same = switch (scope) {
                case REGION -> w.getLocality().getRegion().equals(locality.getRegion());
                case ZONE -> w.getLocality().getZone().equals(locality.getZone());
                case SUBZONE -> w.getLocality().getSubzone().equals(locality.getSubzone());
                case NODE -> topology.isLocal(w);
                case CLUSTER -> w.getClusterId().equals(topology.clusterId());
                case NETWORK -> w.getNetwork().equals(topology.network());
                default -> true; // an unknown scope constrains nothing
            };
            if (!same) {
                break;
            }
            matched++;
        }
        return matched;
    }

    private static InetAddress address(ByteString raw) {
        try {
            return InetAddress.getByAddress(raw.toByteArray());
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("address of " + raw.size() + " bytes reached the reconciler", e);
        }
    }
}
