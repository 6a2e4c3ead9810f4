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
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/** Workloads and services shaped like the ones istiod sends, for the agent's tests. */
final class Mesh {
    private Mesh() {
    }

    static ByteString ip(String literal) {
        return ByteString.copyFrom(InetAddress.ofLiteral(literal).getAddress());
    }

    static String host(String ns, String name) {
        return name + "." + ns + ".svc.cluster.local";
    }

    /** "ns/hostname": the service resource name and the key workloads use. */
    static String serviceName(String ns, String name) {
        return ns + "/" + host(ns, name);
    }

    static String podName(String ns, String pod) {
        return "Kubernetes//Pod/" + ns + "/" + pod;
    }

    /** A service with the given VIPs and ports "service:target" (target 0 = a named target port). */
    static Service.Builder service(String ns, String name, List<String> vips, int[]... ports) {
        Service.Builder s = Service.newBuilder().setName(name).setNamespace(ns).setHostname(host(ns, name));
        for (String vip : vips) {
            s.addAddresses(NetworkAddress.newBuilder().setAddress(ip(vip)));
        }
        for (int[] p : ports) {
            s.addPorts(Port.newBuilder().setServicePort(p[0]).setTargetPort(p[1]));
        }
        return s;
    }

    static LoadBalancing failover(LoadBalancing.Scope... scopes) {
        return LoadBalancing.newBuilder().setMode(LoadBalancing.Mode.FAILOVER).addAllRoutingPreference(List.of(scopes))
                .build();
    }

    /** A pod workload on a node, in a locality "region/zone", member of services with explicit port maps. */
    static Workload.Builder pod(String ns, String pod, String node, String locality, List<String> addresses) {
        String[] l = locality.split("/");
        Workload.Builder w = Workload.newBuilder()
                .setUid(podName(ns, pod)).setName(pod).setNamespace(ns).setNode(node)
                .setWorkloadName(pod.replaceAll("-[0-9]+$", "")).setServiceAccount("default")
                .setClusterId("Kubernetes")
                .setLocality(Locality.newBuilder().setRegion(l[0]).setZone(l.length > 1 ? l[1] : ""));
        for (String a : addresses) {
            w.addAddresses(ip(a));
        }
        return w;
    }

    /** Adds membership of a service with "service:target" port maps (none: the service's target ports apply). */
    static Workload.Builder member(Workload.Builder w, String serviceKey, int[]... ports) {
        PortList.Builder pl = PortList.newBuilder();
        for (int[] p : ports) {
            pl.addPorts(Port.newBuilder().setServicePort(p[0]).setTargetPort(p[1]));
        }
        return w.putServices(serviceKey, pl.build());
    }

    static Workload.Builder unhealthy(Workload.Builder w) {
        return w.setStatus(WorkloadStatus.UNHEALTHY);
    }

    static int[] port(int service, int target) {
        return new int[]{service, target};
    }

    /** A store holding these services and workloads, synced for both kinds. */
    static NodeState store(List<Service> services, List<Workload> workloads) {
        NodeState state = new NodeState();
        List<NodeState.Entry<?>> entries = new ArrayList<>();
        for (Service s : services) {
            entries.add(new NodeState.Entry<>(s.getNamespace() + "/" + s.getHostname(), version(s), s));
        }
        for (Workload w : workloads) {
            entries.add(new NodeState.Entry<>(w.getUid(), version(w), w));
        }
        state.apply(new NodeState.Update(ResourceKind.ADDRESS, entries, List.of(), true));
        state.apply(new NodeState.Update(ResourceKind.AUTHORIZATION, List.of(), List.of(), true));
        return state;
    }

    static String version(com.google.protobuf.Message m) {
        return Integer.toHexString(m.hashCode());
    }

    /** Decodes one resource the way the agent does: as the only resource of a delta response's bytes. */
    static NodeState.Entry<?> decodeOne(ResourceDecoder decoder, ResourceKind kind, io.mocket.api.xds.Resource resource)
            throws InvalidResourceException {
        return decoder.decode(kind, DeltaResponse.of(io.mocket.api.xds.DeltaDiscoveryResponse.newBuilder()
                .setTypeUrl(kind.typeUrl()).addResources(resource).build()), 0);
    }
}
