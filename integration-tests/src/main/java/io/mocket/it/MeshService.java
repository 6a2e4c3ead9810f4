package io.mocket.it;

import io.mocket.bpf.L4Protocol;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.List;
import java.util.Objects;

/**
 * A service as the tests declare it, in the mesh's own terms: a VIP, its ports, and the pods behind it. A
 * data plane turns it into whatever its nodes need (map entries today; Kubernetes objects for the control
 * plane and agent later).
 *
 * @param name      unique in the cluster, e.g. {@code echo}
 * @param vip       the cluster IP, inside {@link TestCluster#SERVICE_CIDR}
 * @param ports     the ports the VIP serves
 * @param endpoints the backend pods, in the order given; may be empty (the VIP then refuses)
 */
public record MeshService(String name, InetAddress vip, List<Port> ports, List<Pod> endpoints) {

    /** One service port and the pod port it forwards to. */
    public record Port(int port, int targetPort, L4Protocol protocol) {
        public Port {
            if (port < 1 || port > 0xffff || targetPort < 1 || targetPort > 0xffff) {
                throw new IllegalArgumentException("ports must be 1..65535: " + port + " -> " + targetPort);
            }
            Objects.requireNonNull(protocol, "protocol");
        }
    }

    public MeshService {
        Objects.requireNonNull(name, "name");
        if (!(vip instanceof Inet4Address)) {
            throw new IllegalArgumentException("the test cluster is IPv4: " + vip);
        }
        ports = List.copyOf(ports);
        endpoints = List.copyOf(endpoints);
        if (ports.isEmpty()) {
            throw new IllegalArgumentException("service " + name + " has no port");
        }
    }

    /** The same service with other endpoints: a scale-up, a scale-down, a rollout. */
    public MeshService withEndpoints(List<Pod> newEndpoints) {
        return new MeshService(name, vip, ports, newEndpoints);
    }
}
