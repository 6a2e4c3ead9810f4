package io.mocket.agent;

import com.google.protobuf.ByteString;
import io.mocket.api.istio.workload.Locality;
import io.mocket.api.istio.workload.Port;
import io.mocket.api.istio.workload.PortList;
import io.mocket.api.istio.workload.Workload;
import io.mocket.api.istio.workload.WorkloadStatus;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the node keeps of one {@link Workload}: the fields the load balancer, the telemetry labels and
 * {@code /debug/state} read, nothing else. Strings, localities and port lists that many workloads share
 * are held once (see {@link Interner}), so 10,000 pods cost little more than their addresses and names.
 *
 * @param uid            the resource name (the workload uid)
 * @param version        the version the control plane sent
 * @param name           the Kubernetes name (pod name)
 * @param namespace      the namespace
 * @param addresses      the workload's addresses, as sent
 * @param node           the Kubernetes node it runs on
 * @param network        its network ("" is the default)
 * @param clusterId      its cluster
 * @param healthy        false when the control plane marks it UNHEALTHY
 * @param locality       its region/zone/subzone, or null when it has none
 * @param services       service key ("namespace/hostname") to the workload's own port map for it (often empty)
 * @param workloadName   the owning workload (e.g. the Deployment), for telemetry labels
 * @param canonicalName  the canonical service name, for telemetry labels
 * @param serviceAccount its service account
 * @param trustDomain    its trust domain
 */
public record KnownWorkload(String uid, String version, String name, String namespace, List<InetAddress> addresses,
                            String node, String network, String clusterId, boolean healthy, Locality locality,
                            Map<String, List<KnownPort>> services, String workloadName, String canonicalName,
                            String serviceAccount, String trustDomain) {

    /** A service port and the port a workload (or a service's target) listens on for it; 0 = a named port. */
    public record KnownPort(int port, int targetPort) {
    }

    /**
     * This workload holding {@code held}'s instances of the fields that are equal (the uid, the name, the
     * addresses, the port map): a push that re-sends a workload then adds only what changed to the heap that
     * outlives it (the old generation, with the shipped small young generation).
     */
    KnownWorkload sharing(KnownWorkload held) {
        if (held == null) {
            return this;
        }
        return new KnownWorkload(held.uid, version, name.equals(held.name) ? held.name : name, namespace,
                addresses.equals(held.addresses) ? held.addresses : addresses, node, network, clusterId, healthy,
                locality, services.equals(held.services) ? held.services : services, workloadName, canonicalName,
                serviceAccount, trustDomain);
    }

    // Written out: the generated record methods go through method handles, which the agent's C1-only JIT does not
    // inline, and a full push compares every workload with the one held.
    @Override
    public boolean equals(Object o) {
        return o instanceof KnownWorkload w && healthy == w.healthy && uid.equals(w.uid) && version.equals(w.version)
                && name.equals(w.name) && namespace.equals(w.namespace) && node.equals(w.node)
                && network.equals(w.network) && clusterId.equals(w.clusterId) && addresses.equals(w.addresses)
                && java.util.Objects.equals(locality, w.locality) && services.equals(w.services)
                && workloadName.equals(w.workloadName) && canonicalName.equals(w.canonicalName)
                && serviceAccount.equals(w.serviceAccount) && trustDomain.equals(w.trustDomain);
    }

    @Override
    public int hashCode() {
        return uid.hashCode() * 31 + version.hashCode();
    }

    /** Whether a pass of the load balancer could see a difference between the two (version and labels aside). */
    boolean sameForLoadBalancing(KnownWorkload o) {
        return healthy == o.healthy && addresses.equals(o.addresses) && node.equals(o.node)
                && network.equals(o.network) && clusterId.equals(o.clusterId)
                && java.util.Objects.equals(locality, o.locality) && services.equals(o.services);
    }

    /** The compact form of a decoded workload; {@code pool} shares repeated values. */
    static KnownWorkload of(String uid, String version, Workload w, Interner pool) {
        List<InetAddress> addresses = new ArrayList<>(w.getAddressesCount());
        for (ByteString raw : w.getAddressesList()) {
            addresses.add(address(raw));
        }
        Map<String, PortList> sent = w.getServicesMap();
        Map<String, List<KnownPort>> services;
        if (sent.isEmpty()) {
            services = Map.of();
        } else {
            Map<String, List<KnownPort>> m = new HashMap<>(sent.size() * 2);
            for (Map.Entry<String, PortList> e : sent.entrySet()) {
                m.put(pool.intern(e.getKey()), ports(e.getValue().getPortsList(), pool));
            }
            services = Map.copyOf(m);
        }
        return new KnownWorkload(uid, version, w.getName(), pool.intern(w.getNamespace()),
                List.copyOf(addresses), pool.intern(w.getNode()), pool.intern(w.getNetwork()),
                pool.intern(w.getClusterId()), w.getStatus() != WorkloadStatus.UNHEALTHY,
                w.hasLocality() ? pool.intern(w.getLocality()) : null, services, pool.intern(w.getWorkloadName()),
                pool.intern(w.getCanonicalName()), pool.intern(w.getServiceAccount()),
                pool.intern(w.getTrustDomain()));
    }

    static List<KnownPort> ports(List<Port> ports, Interner pool) {
        if (ports.isEmpty()) {
            return List.of();
        }
        List<KnownPort> out = new ArrayList<>(ports.size());
        for (Port p : ports) {
            out.add(new KnownPort(p.getServicePort(), p.getTargetPort()));
        }
        return pool.intern(List.copyOf(out));
    }

    static InetAddress address(ByteString raw) {
        try {
            return InetAddress.getByAddress(raw.toByteArray());
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("address of " + raw.size() + " bytes reached the store", e);
        }
    }
}
