package io.mocket.controlplane.xds;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.workload.Address;
import io.mocket.api.istio.workload.NetworkAddress;
import io.mocket.api.istio.workload.PortList;
import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.XdsResource;
import java.net.InetAddress;
import java.util.List;

/** Resources shaped like the ones istiod serves, for protocol tests. */
final class Fixtures {
    private Fixtures() {
    }

    static String podName(String ns, String pod) {
        return "Kubernetes//Pod/" + ns + "/" + pod;
    }

    static String serviceName(String ns, String svc) {
        return ns + "/" + svc + "." + ns + ".svc.cluster.local";
    }

    /** A pod workload on {@code node} with address {@code ip}, member of the given services ("ns/hostname"). */
    static XdsResource workload(String ns, String pod, String ip, String node, String... services) {
        Workload.Builder w = Workload.newBuilder()
                .setUid(podName(ns, pod))
                .setName(pod)
                .setNamespace(ns)
                .setNode(node)
                .setServiceAccount("default")
                .addAddresses(ByteString.copyFrom(InetAddress.ofLiteral(ip).getAddress()));
        for (String s : services) {
            w.putServices(s, PortList.getDefaultInstance());
        }
        return XdsResource.of(ResourceType.ADDRESS, podName(ns, pod), List.of("/" + ip),
                Address.newBuilder().setWorkload(w).build());
    }

    /** A service with cluster IP {@code vip}. */
    static XdsResource service(String ns, String svc, String vip) {
        String host = svc + "." + ns + ".svc.cluster.local";
        Service s = Service.newBuilder()
                .setName(svc)
                .setNamespace(ns)
                .setHostname(host)
                .addAddresses(NetworkAddress.newBuilder()
                        .setAddress(ByteString.copyFrom(InetAddress.ofLiteral(vip).getAddress())))
                .build();
        return XdsResource.of(ResourceType.ADDRESS, ns + "/" + host, List.of("/" + vip),
                Address.newBuilder().setService(s).build());
    }

    static XdsResource authorization(String ns, String name, boolean dryRun) {
        Authorization a = Authorization.newBuilder().setName(name).setNamespace(ns).setDryRun(dryRun).build();
        return XdsResource.of(ResourceType.AUTHORIZATION, ns + "/" + name, List.of(), a);
    }

    static List<String> names(DeltaDiscoveryResponse r) {
        return r.getResourcesList().stream().map(Resource::getName).toList();
    }

    static Address address(Resource r) {
        try {
            return Address.parseFrom(r.getResource().getValue());
        } catch (InvalidProtocolBufferException e) {
            throw new AssertionError("resource " + r.getName() + " is not an istio.workload.Address", e);
        }
    }
}
