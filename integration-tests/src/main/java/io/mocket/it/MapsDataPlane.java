package io.mocket.it;

import io.mocket.bpf.BackendKey;
import io.mocket.bpf.BackendValue;
import io.mocket.bpf.EndpointValue;
import io.mocket.bpf.FrontendKey;
import io.mocket.bpf.FrontendValue;
import io.mocket.bpf.HealthPolicy;
import io.mocket.bpf.L4Protocol;
import io.mocket.bpf.LbMode;
import io.mocket.bpf.Libbpf;
import io.mocket.bpf.LoadBalancerMaps;
import io.mocket.bpf.SocketLoadBalancer;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Mocket's data plane driven without an agent: each node gets its own {@link SocketLoadBalancer}, pinned in
 * the node's pin directory and attached to the node's cgroup, and every service is written into every node's
 * maps the way an agent would (one service id per VIP port, one backend id per pod IP, backend sets switched
 * with {@link LoadBalancerMaps#replaceBackends}). Changes are in force when {@link #publish} returns.
 */
public final class MapsDataPlane implements MeshDataPlane {

    /** One service port of one service: what a service id names. */
    private record ServicePortKey(String service, int port, L4Protocol protocol) {
    }

    private final Libbpf libbpf;
    private final Map<String, SocketLoadBalancer> nodes = new LinkedHashMap<>();
    private final Map<String, MeshService> published = new LinkedHashMap<>();
    private final Map<ServicePortKey, Integer> serviceIds = new LinkedHashMap<>();
    private final Map<InetAddress, Integer> backendIds = new LinkedHashMap<>();

    public MapsDataPlane(Libbpf libbpf) {
        this.libbpf = libbpf;
    }

    @Override
    public void startNode(ClusterNode node) {
        if (nodes.containsKey(node.name())) {
            throw new IllegalStateException("data plane already started on " + node.name());
        }
        SocketLoadBalancer lb = SocketLoadBalancer.load(libbpf, node.pinDirectory());
        try {
            lb.attach(node.cgroup());
        } catch (RuntimeException e) {
            lb.detachAndUnpin();
            throw e;
        }
        nodes.put(node.name(), lb);
        for (MeshService service : published.values()) {
            write(lb.maps(), null, service);
        }
    }

    @Override
    public void publish(MeshService service) {
        MeshService previous = published.put(service.name(), service);
        for (SocketLoadBalancer lb : nodes.values()) {
            write(lb.maps(), previous, service);
        }
    }

    @Override
    public void withdraw(String serviceName) {
        MeshService previous = published.remove(serviceName);
        if (previous == null) {
            return;
        }
        for (SocketLoadBalancer lb : nodes.values()) {
            for (MeshService.Port port : previous.ports()) {
                removePort(lb.maps(), previous, port);
            }
        }
    }

    /** The service id this data plane gave a service port (for tests that read the metrics by service). */
    public int serviceId(String serviceName, int port, L4Protocol protocol) {
        Integer id = serviceIds.get(new ServicePortKey(serviceName, port, protocol));
        if (id == null) {
            throw new IllegalArgumentException("no service port " + serviceName + ":" + port + "/" + protocol);
        }
        return id;
    }

    private void write(LoadBalancerMaps maps, MeshService previous, MeshService service) {
        for (Pod pod : service.endpoints()) {
            maps.backends().put(new BackendKey(backendId(pod.address())), new BackendValue(pod.address(), true));
        }
        for (MeshService.Port port : service.ports()) {
            int id = serviceIds.computeIfAbsent(new ServicePortKey(service.name(), port.port(), port.protocol()),
                    k -> serviceIds.size() + 1);
            List<EndpointValue> slots = new ArrayList<>();
            for (Pod pod : service.endpoints()) {
                slots.add(new EndpointValue(backendId(pod.address()), port.targetPort()));
            }
            // Slots and service entry first, frontend last: the VIP never points at a service not yet written.
            maps.replaceBackends(id, LbMode.UNSPECIFIED, HealthPolicy.ONLY_HEALTHY, List.of(slots));
            maps.frontends().put(new FrontendKey(service.vip(), port.port(), port.protocol()), new FrontendValue(id));
        }
        if (previous != null) {
            for (MeshService.Port old : previous.ports()) {
                boolean kept = previous.vip().equals(service.vip())
                        && service.ports().stream().anyMatch(p -> sameServicePort(p, old));
                if (!kept) {
                    removePort(maps, previous, old);
                }
            }
        }
    }

    private static boolean sameServicePort(MeshService.Port a, MeshService.Port b) {
        return a.port() == b.port() && a.protocol() == b.protocol();
    }

    private void removePort(LoadBalancerMaps maps, MeshService service, MeshService.Port port) {
        maps.frontends().remove(new FrontendKey(service.vip(), port.port(), port.protocol()));
        Integer id = serviceIds.get(new ServicePortKey(service.name(), port.port(), port.protocol()));
        boolean stillPublished = published.containsKey(service.name())
                && published.get(service.name()).ports().stream().anyMatch(p -> sameServicePort(p, port));
        if (id != null && !stillPublished) {
            maps.removeService(id);
        }
    }

    private int backendId(InetAddress address) {
        return backendIds.computeIfAbsent(address, a -> backendIds.size() + 1);
    }

    /** Detaches and unpins every node's programs and maps. */
    @Override
    public void close() {
        RuntimeException first = null;
        for (SocketLoadBalancer lb : nodes.values()) {
            try {
                lb.detachAndUnpin();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        nodes.clear();
        if (first != null) {
            throw first;
        }
    }
}
