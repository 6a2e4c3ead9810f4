package io.mocket.controlplane.index;

import com.google.protobuf.ByteString;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServiceSpec;
import io.mocket.api.istio.workload.Address;
import io.mocket.api.istio.workload.IPFamilies;
import io.mocket.api.istio.workload.LoadBalancing;
import io.mocket.api.istio.workload.NetworkAddress;
import io.mocket.api.istio.workload.Port;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.XdsResource;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Translates a Kubernetes Service into its Service address, as istiod does for ztunnel. */
final class ServiceTranslator {
    private static final Logger log = LoggerFactory.getLogger(ServiceTranslator.class);

    private final MeshSettings settings;
    private final ClusterState state;
    private final WaypointBindings waypoints;

    ServiceTranslator(MeshSettings settings, ClusterState state, WaypointBindings waypoints) {
        this.settings = settings;
        this.state = state;
        this.waypoints = waypoints;
    }

    /**
     * Whether a Service is served at all. Headless and selector-less Services are (clients resolve their
     * hostname); ExternalName Services are not: DNS answers for them upstream, as istiod leaves it.
     */
    static boolean served(Service s) {
        return s.getSpec() == null || !"ExternalName".equals(s.getSpec().getType());
    }

    /** The served resource for {@code service}, or null when it is not served. */
    XdsResource translate(Service service) {
        if (!served(service)) {
            return null;
        }
        ObjectKey key = ObjectKey.of(service);
        var spec = service.getSpec() == null ? new ServiceSpec() : service.getSpec();
        String hostname = OutputKey.hostname(settings, key);

        List<String> vips = vips(spec);
        List<NetworkAddress> addresses = new ArrayList<>(vips.size());
        List<String> aliases = new ArrayList<>(vips.size());
        for (String vip : vips) {
            byte[] ip = IpAddresses.parse(vip);
            if (ip == null) {
                log.warn("Service {}: cluster IP '{}' is not an IP address; the service is not served until spec.clusterIPs is fixed", key, vip);
                return null;
            }
            addresses.add(NetworkAddress.newBuilder().setNetwork(settings.network()).setAddress(ByteString.copyFrom(ip)).build());
            aliases.add(settings.network() + "/" + vip);
        }

        io.mocket.api.istio.workload.Service.Builder s = io.mocket.api.istio.workload.Service.newBuilder()
                .setName(key.name())
                .setNamespace(key.namespace())
                .setHostname(hostname)
                .addAllAddresses(addresses)
                .setIpFamilies(ipFamilies(spec.getIpFamilies()))
                // A Kubernetes Service owns its hostname; overrides must be namespace-local to the client.
                .setCanonical(true);
        for (ServicePort p : spec.getPorts() == null ? List.<ServicePort>of() : spec.getPorts()) {
            if (p.getPort() == null) {
                continue;
            }
            IntOrString target = p.getTargetPort();
            // Named target ports are resolved per workload (Workload.services); 0 here means "see the workload".
            int targetPort = target == null ? p.getPort()
                    : target.getIntVal() != null ? target.getIntVal()
                    : target.getStrVal() == null || target.getStrVal().isEmpty() ? p.getPort() : 0;
            s.addPorts(Port.newBuilder().setServicePort(p.getPort()).setTargetPort(targetPort).setAppProtocol(AppProtocols.of(p)));
        }
        LoadBalancing lb = loadBalancing(service, spec);
        if (lb != null) {
            s.setLoadBalancing(lb);
        }
        Waypoint waypoint = waypoints.forService(service);
        if (waypoint != null) {
            if (waypoint.address() != null) {
                s.setWaypoint(waypoint.address());
            }
            s.setIngressUseWaypoint(ingressUseWaypoint(service, key));
        }
        return XdsResource.of(ResourceType.ADDRESS, key.namespace() + "/" + hostname, aliases,
                Address.newBuilder().setService(s).build());
    }

    private LoadBalancing loadBalancing(Service service, ServiceSpec spec) {
        LoadBalancing.Builder lb = null;
        if ("Local".equals(spec.getInternalTrafficPolicy())) {
            // Node-local endpoints only, and nothing else.
            lb = LoadBalancing.newBuilder().addRoutingPreference(LoadBalancing.Scope.NODE).setMode(LoadBalancing.Mode.STRICT);
        } else {
            switch (trafficDistribution(spec.getTrafficDistribution(), MeshLabels.annotations(service),
                    MeshLabels.annotations(state.namespaces.get(service.getMetadata().getNamespace())))) {
                case SAME_ZONE -> lb = LoadBalancing.newBuilder()
                        .addRoutingPreference(LoadBalancing.Scope.NETWORK)
                        .addRoutingPreference(LoadBalancing.Scope.REGION)
                        .addRoutingPreference(LoadBalancing.Scope.ZONE)
                        .setMode(LoadBalancing.Mode.FAILOVER);
                case SAME_NODE -> lb = LoadBalancing.newBuilder()
                        .addRoutingPreference(LoadBalancing.Scope.NETWORK)
                        .addRoutingPreference(LoadBalancing.Scope.REGION)
                        .addRoutingPreference(LoadBalancing.Scope.ZONE)
                        .addRoutingPreference(LoadBalancing.Scope.SUBZONE)
                        .addRoutingPreference(LoadBalancing.Scope.NODE)
                        .setMode(LoadBalancing.Mode.FAILOVER);
                case ANY -> {
                }
            }
        }
        if (Boolean.TRUE.equals(spec.getPublishNotReadyAddresses())) {
            if (lb == null) {
                lb = LoadBalancing.newBuilder();
            }
            lb.setHealthPolicy(LoadBalancing.HealthPolicy.ALLOW_ALL);
        }
        return lb == null ? null : lb.build();
    }

    enum TrafficDistribution { ANY, SAME_ZONE, SAME_NODE }

    /**
     * spec.trafficDistribution first, then the networking.istio.io/traffic-distribution annotation of the
     * service, then of its namespace. PreferClose is the older name of PreferSameZone. An unknown annotation
     * value means no preference and stops the search; an unknown spec value is skipped.
     */
    static TrafficDistribution trafficDistribution(String specValue, Map<String, String> serviceAnnotations,
                                                   Map<String, String> namespaceAnnotations) {
        if (specValue != null) {
            switch (specValue) {
                case "PreferSameZone", "PreferClose" -> {
                    return TrafficDistribution.SAME_ZONE;
                }
                case "PreferSameNode" -> {
                    return TrafficDistribution.SAME_NODE;
                }
                default -> {
                }
            }
        }
        for (Map<String, String> annotations : List.of(serviceAnnotations, namespaceAnnotations)) {
            String v = annotations.getOrDefault(MeshLabels.TRAFFIC_DISTRIBUTION, "").toLowerCase(Locale.ROOT);
            if (!v.isEmpty()) {
                return switch (v) {
                    case "preferclose", "prefersamezone" -> TrafficDistribution.SAME_ZONE;
                    case "prefersamenode" -> TrafficDistribution.SAME_NODE;
                    default -> TrafficDistribution.ANY;
                };
            }
        }
        return TrafficDistribution.ANY;
    }

    private boolean ingressUseWaypoint(Service service, ObjectKey key) {
        String v = MeshLabels.labels(service).get(MeshLabels.INGRESS_USE_WAYPOINT);
        if (v == null) {
            v = state.namespaceLabels(key.namespace()).get(MeshLabels.INGRESS_USE_WAYPOINT);
        }
        if (v == null) {
            return false;
        }
        return switch (v) {
            case "1", "t", "T", "true", "TRUE", "True" -> true;
            case "0", "f", "F", "false", "FALSE", "False" -> false;
            default -> {
                log.warn("Service {}: label {}='{}' is not a boolean; treating it as false. Use \"true\" or \"false\"",
                        key, MeshLabels.INGRESS_USE_WAYPOINT, v);
                yield false;
            }
        };
    }

    private static IPFamilies ipFamilies(List<String> families) {
        if (families == null || families.isEmpty()) {
            return IPFamilies.AUTOMATIC;
        }
        if (families.size() == 2) {
            return IPFamilies.DUAL;
        }
        return "IPv4".equals(families.get(0)) ? IPFamilies.IPV4_ONLY : IPFamilies.IPV6_ONLY;
    }

    /** spec.clusterIPs (or clusterIP), without "None" (headless) and empty values. */
    private static List<String> vips(ServiceSpec spec) {
        List<String> ips = spec.getClusterIPs() != null && !spec.getClusterIPs().isEmpty()
                ? spec.getClusterIPs()
                : spec.getClusterIP() == null ? List.of() : List.of(spec.getClusterIP());
        List<String> out = new ArrayList<>(ips.size());
        for (String ip : ips) {
            if (ip != null && !ip.isEmpty() && !"None".equals(ip)) {
                out.add(ip);
            }
        }
        return out;
    }
}
