package io.mocket.agent;

import io.mocket.api.istio.workload.LoadBalancing;
import io.mocket.api.istio.workload.NetworkAddress;
import io.mocket.api.istio.workload.Service;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * What the node keeps of one {@link Service}: its name, addresses, ports and load balancing, the fields
 * the load balancer reads.
 *
 * @param name        the resource name ("namespace/hostname")
 * @param version     the version the control plane sent
 * @param namespace   the namespace
 * @param hostname    the hostname
 * @param addresses   the VIPs with their networks
 * @param ports       the service ports with their target ports (0 = a named target port)
 * @param mode        the load balancing mode
 * @param preferences the routing preferences, in order
 * @param allowAll    health policy ALLOW_ALL (else ONLY_HEALTHY)
 * @param key         "namespace/hostname": the key workloads name the service by (made once and shared with
 *                    the workloads' keys, so that looking members up by it compares by identity)
 */
public record KnownService(String name, String version, String namespace, String hostname,
                           List<Vip> addresses, List<KnownWorkload.KnownPort> ports, LoadBalancing.Mode mode,
                           List<LoadBalancing.Scope> preferences, boolean allowAll, String key) {

    public KnownService {
        java.util.Objects.requireNonNull(key, "key");
    }

    public KnownService(String name, String version, String namespace, String hostname, List<Vip> addresses,
                        List<KnownWorkload.KnownPort> ports, LoadBalancing.Mode mode,
                        List<LoadBalancing.Scope> preferences, boolean allowAll) {
        this(name, version, namespace, hostname, addresses, ports, mode, preferences, allowAll,
                namespace + "/" + hostname);
    }

    /** A service address on a network. */
    public record Vip(String network, InetAddress address) {
    }

    /** The compact form of a decoded service. */
    static KnownService of(String name, String version, Service s, Interner pool) {
        List<Vip> vips = new ArrayList<>(s.getAddressesCount());
        for (NetworkAddress a : s.getAddressesList()) {
            vips.add(new Vip(pool.intern(a.getNetwork()), KnownWorkload.address(a.getAddress())));
        }
        LoadBalancing lb = s.getLoadBalancing();
        return new KnownService(name, version, pool.intern(s.getNamespace()), s.getHostname(),
                List.copyOf(vips), KnownWorkload.ports(s.getPortsList(), pool), lb.getMode(),
                pool.intern(List.copyOf(lb.getRoutingPreferenceList())),
                lb.getHealthPolicy() == LoadBalancing.HealthPolicy.ALLOW_ALL,
                pool.intern(s.getNamespace() + "/" + s.getHostname()));
    }
}
