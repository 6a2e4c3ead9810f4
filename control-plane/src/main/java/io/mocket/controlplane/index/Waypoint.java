package io.mocket.controlplane.index;

import com.google.protobuf.ByteString;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.Gateway;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GatewayStatusAddress;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.Listener;
import io.mocket.api.istio.workload.ApplicationTunnel;
import io.mocket.api.istio.workload.GatewayAddress;
import io.mocket.api.istio.workload.NamespacedHostname;
import io.mocket.api.istio.workload.NetworkAddress;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Gateway that serves as a waypoint, reduced to what workloads and services that use it need: its address,
 * the traffic it accepts, and which namespaces may attach to it. Immutable; equal values mean "no change for
 * the users of this waypoint".
 *
 * @param gateway      namespace/name of the Gateway
 * @param address      where clients send traffic for it; null when its status has no usable address
 * @param inboundBinding the application tunnel its own pods accept, from the inbound-binding annotation, or null
 * @param trafficType  "service", "workload", "all" or "none" (istio.io/waypoint-for, default "service")
 * @param allowedFrom  "All", "Same" or "Selector": which namespaces may use it
 * @param allowedSelector the namespace selector when {@code allowedFrom} is "Selector"
 */
record Waypoint(ObjectKey gateway, GatewayAddress address, ApplicationTunnel inboundBinding, String trafficType,
                String allowedFrom, LabelSelector allowedSelector) {

    private static final Logger log = LoggerFactory.getLogger(Waypoint.class);

    static final Set<String> WAYPOINT_CLASSES = Set.of("istio-waypoint", "mocket-waypoint");
    /** The HBONE port of every waypoint; istiod does not look it up either. */
    static final int HBONE_MTLS_PORT = 15008;
    static final String SERVICE_TRAFFIC = "service";
    static final String WORKLOAD_TRAFFIC = "workload";
    static final String ALL_TRAFFIC = "all";
    private static final String PROXY_PROTOCOL_LISTENER = "istio.io/PROXY";
    private static final String MTLS_LITE_LISTENER = "mTLS-lite";

    boolean acceptsServiceTraffic() {
        return SERVICE_TRAFFIC.equals(trafficType) || ALL_TRAFFIC.equals(trafficType);
    }

    boolean acceptsWorkloadTraffic() {
        return WORKLOAD_TRAFFIC.equals(trafficType) || ALL_TRAFFIC.equals(trafficType);
    }

    /** Whether an object in {@code namespace} (with {@code namespaceLabels}) may use this waypoint. */
    boolean allowsAttachmentFrom(String namespace, Map<String, String> namespaceLabels) {
        return switch (allowedFrom) {
            case "All" -> true;
            case "Selector" -> Selector.matches(allowedSelector, namespaceLabels);
            default -> gateway.namespace().equals(namespace);
        };
    }

    /**
     * The waypoint a Gateway makes, or null when it is not one: its class must be a waypoint class and its
     * status must carry an address (istiod treats a Gateway without status addresses as not ready).
     */
    static Waypoint of(Gateway gw, MeshSettings settings) {
        if (gw.getSpec() == null || !WAYPOINT_CLASSES.contains(gw.getSpec().getGatewayClassName())) {
            return null;
        }
        if (gw.getStatus() == null || gw.getStatus().getAddresses() == null || gw.getStatus().getAddresses().isEmpty()) {
            return null;
        }
        ObjectKey key = ObjectKey.of(gw);
        ApplicationTunnel binding = inboundBinding(key, MeshLabels.annotations(gw).get(MeshLabels.WAYPOINT_INBOUND_BINDING));
        String trafficType = MeshLabels.labels(gw).getOrDefault(MeshLabels.WAYPOINT_FOR, SERVICE_TRAFFIC);
        Listener listener = attachmentListener(gw, binding);
        String from = "Same";
        LabelSelector selector = null;
        if (listener != null && listener.getAllowedRoutes() != null && listener.getAllowedRoutes().getNamespaces() != null) {
            var ns = listener.getAllowedRoutes().getNamespaces();
            from = ns.getFrom() == null ? "Same" : ns.getFrom();
            selector = ns.getSelector();
        }
        return new Waypoint(key, address(gw, settings), binding, trafficType, from, selector);
    }

    private static GatewayAddress address(Gateway gw, MeshSettings settings) {
        // A hostname is the better key: it is how services are named, and IPs can be reused or come in pairs.
        for (GatewayStatusAddress a : gw.getStatus().getAddresses()) {
            if ("Hostname".equals(a.getType()) && a.getValue() != null) {
                return GatewayAddress.newBuilder()
                        .setHostname(NamespacedHostname.newBuilder()
                                .setNamespace(gw.getMetadata().getNamespace()).setHostname(a.getValue()))
                        .setHboneMtlsPort(HBONE_MTLS_PORT)
                        .build();
            }
        }
        for (GatewayStatusAddress a : gw.getStatus().getAddresses()) {
            // The Gateway API defaults a missing type to IPAddress.
            if (a.getType() == null || "IPAddress".equals(a.getType())) {
                byte[] ip = IpAddresses.parse(a.getValue());
                if (ip == null) {
                    log.warn("Gateway {}: status address '{}' is not an IP address; fix the Gateway's status or give it a Hostname address",
                            ObjectKey.of(gw), a.getValue());
                    continue;
                }
                return GatewayAddress.newBuilder()
                        .setAddress(NetworkAddress.newBuilder().setNetwork(settings.network()).setAddress(ByteString.copyFrom(ip)))
                        .setHboneMtlsPort(HBONE_MTLS_PORT)
                        .build();
            }
        }
        return null;
    }

    /** "PROXY", "NONE", "PROXY/15088": the tunnel the waypoint's own pods accept from ztunnel. */
    private static ApplicationTunnel inboundBinding(ObjectKey gw, String value) {
        if (value == null) {
            return null;
        }
        String[] parts = value.split("/", -1);
        if (parts.length > 2) {
            log.warn("Gateway {}: annotation {}='{}' is not \"<protocol>\" or \"<protocol>/<port>\"; ignoring it",
                    gw, MeshLabels.WAYPOINT_INBOUND_BINDING, value);
            return null;
        }
        ApplicationTunnel.Protocol protocol = switch (parts[0]) {
            case "NONE" -> ApplicationTunnel.Protocol.NONE;
            case "PROXY" -> ApplicationTunnel.Protocol.PROXY;
            default -> null;
        };
        if (protocol == null) {
            log.warn("Gateway {}: annotation {}='{}' names protocol '{}'; only NONE and PROXY are supported",
                    gw, MeshLabels.WAYPOINT_INBOUND_BINDING, value, parts[0]);
            return null;
        }
        int port = 0;
        if (parts.length == 2) {
            try {
                port = Integer.parseInt(parts[1]);
            } catch (NumberFormatException e) {
                log.warn("Gateway {}: annotation {}='{}' has port '{}' that is not a number; using no port",
                        gw, MeshLabels.WAYPOINT_INBOUND_BINDING, value, parts[1]);
            }
        }
        return ApplicationTunnel.newBuilder().setProtocol(protocol).setPort(port).build();
    }

    /** The listener whose allowedRoutes decide who may use the waypoint. */
    private static Listener attachmentListener(Gateway gw, ApplicationTunnel binding) {
        List<Listener> listeners = gw.getSpec().getListeners() == null ? List.of() : gw.getSpec().getListeners();
        if (binding != null) {
            for (Listener l : listeners) {
                if (binding.getPort() != 0 ? l.getPort() != null && l.getPort() == binding.getPort()
                        : binding.getProtocol() == ApplicationTunnel.Protocol.PROXY && PROXY_PROTOCOL_LISTENER.equals(l.getProtocol())) {
                    return l;
                }
            }
        }
        for (Listener l : listeners) {
            if ("HBONE".equals(l.getProtocol()) && l.getPort() != null && l.getPort() == HBONE_MTLS_PORT) {
                return l;
            }
        }
        // Mocket's own waypoints listen with the mTLS-lite protocol instead of HBONE.
        for (Listener l : listeners) {
            if (MTLS_LITE_LISTENER.equals(l.getProtocol())) {
                return l;
            }
        }
        return null;
    }

    /** An {@code istio.io/use-waypoint} reference: a Gateway, or an explicit opt-out. */
    record Reference(ObjectKey gateway, boolean none) {
        static final Reference NONE = new Reference(null, true);

        /**
         * The reference in {@code labels}, resolving a missing namespace to {@code fallbackNamespace}; null when
         * there is no use-waypoint label.
         */
        static Reference in(Map<String, String> labels, String fallbackNamespace) {
            String name = labels.get(MeshLabels.USE_WAYPOINT);
            if (name == null) {
                return null;
            }
            // Istio reserves "none": a waypoint of that name cannot be used.
            if (MeshLabels.USE_WAYPOINT_NONE.equals(name)) {
                return NONE;
            }
            String ns = labels.getOrDefault(MeshLabels.USE_WAYPOINT_NAMESPACE, fallbackNamespace);
            return new Reference(new ObjectKey(ns, name), false);
        }
    }
}
