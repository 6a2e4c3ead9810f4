package io.mocket.controlplane.index;

import static io.mocket.controlplane.index.IndexFixture.namespace;
import static io.mocket.controlplane.index.IndexFixture.service;
import static io.mocket.controlplane.index.IndexFixture.waypoint;
import static io.mocket.controlplane.kube.KubeKind.GATEWAY;
import static io.mocket.controlplane.kube.KubeKind.NAMESPACE;
import static io.mocket.controlplane.kube.KubeKind.SERVICE;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.mocket.api.istio.workload.AppProtocol;
import io.mocket.api.istio.workload.IPFamilies;
import io.mocket.api.istio.workload.LoadBalancing;
import io.mocket.api.istio.workload.LoadBalancing.Scope;
import io.mocket.api.istio.workload.NetworkAddress;
import io.mocket.api.istio.workload.Port;
import io.mocket.api.istio.workload.Service;
import io.mocket.controlplane.resources.ResourceType;
import java.net.InetAddress;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AmbientIndexServiceTest {
    private final IndexFixture f = new IndexFixture();

    @AfterEach
    void close() {
        f.close();
    }

    private static NetworkAddress vip(String network, String ip) {
        return NetworkAddress.newBuilder().setNetwork(network).setAddress(ByteString.copyFrom(InetAddress.ofLiteral(ip).getAddress())).build();
    }

    private static final LoadBalancing SAME_ZONE = LoadBalancing.newBuilder()
            .addRoutingPreference(Scope.NETWORK).addRoutingPreference(Scope.REGION).addRoutingPreference(Scope.ZONE)
            .setMode(LoadBalancing.Mode.FAILOVER).build();
    private static final LoadBalancing SAME_NODE = LoadBalancing.newBuilder()
            .addRoutingPreference(Scope.NETWORK).addRoutingPreference(Scope.REGION).addRoutingPreference(Scope.ZONE)
            .addRoutingPreference(Scope.SUBZONE).addRoutingPreference(Scope.NODE)
            .setMode(LoadBalancing.Mode.FAILOVER).build();

    @Test
    void serviceBecomesAddressWithIstiodNames() {
        f.apply(SERVICE, service("shop", "web", "10.96.0.10").build());
        Service s = f.service("shop", "web");
        assertThat(s.getName()).isEqualTo("web");
        assertThat(s.getNamespace()).isEqualTo("shop");
        assertThat(s.getHostname()).isEqualTo("web.shop.svc.cluster.local");
        assertThat(s.getAddressesList()).containsExactly(vip("", "10.96.0.10"));
        assertThat(s.getPortsList()).containsExactly(Port.newBuilder().setServicePort(80).setTargetPort(8080).setAppProtocol(AppProtocol.HTTP11).build());
        assertThat(s.getCanonical()).isTrue();
        assertThat(s.hasLoadBalancing()).isFalse();
        assertThat(s.hasWaypoint()).isFalse();
        assertThat(s.getIpFamilies()).isEqualTo(IPFamilies.AUTOMATIC);
        assertThat(f.resource(ResourceType.ADDRESS, "shop/web.shop.svc.cluster.local").aliases()).containsExactly("/10.96.0.10");
    }

    @Test
    void dualStackServiceHasBothVipsAndAliasesPerNetwork() {
        try (IndexFixture g = new IndexFixture(MeshSettings.defaults().withNetwork("net1"))) {
            g.apply(SERVICE, service("shop", "web", "10.96.0.10").editSpec().withClusterIPs("10.96.0.10", "fd00:96::10")
                    .withIpFamilies("IPv4", "IPv6").endSpec().build());
            Service s = g.service("shop", "web");
            assertThat(s.getAddressesList()).containsExactly(vip("net1", "10.96.0.10"), vip("net1", "fd00:96::10"));
            assertThat(s.getIpFamilies()).isEqualTo(IPFamilies.DUAL);
            assertThat(g.resource(ResourceType.ADDRESS, g.serviceName("shop", "web")).aliases())
                    .containsExactly("net1/10.96.0.10", "net1/fd00:96::10");
        }
    }

    @Test
    void ipFamilies() {
        f.apply(SERVICE,
                service("shop", "v4", "10.96.0.10").editSpec().withIpFamilies("IPv4").endSpec().build(),
                service("shop", "v6", "fd00::10").editSpec().withIpFamilies("IPv6").endSpec().build());
        assertThat(f.service("shop", "v4").getIpFamilies()).isEqualTo(IPFamilies.IPV4_ONLY);
        assertThat(f.service("shop", "v6").getIpFamilies()).isEqualTo(IPFamilies.IPV6_ONLY);
    }

    @Test
    void headlessAndSelectorlessServicesAreServedExternalNameIsNot() {
        f.apply(SERVICE,
                service("shop", "headless", "None").build(),
                service("shop", "manual", "10.96.0.11").editSpec().withSelector(null).endSpec().build(),
                service("shop", "ext", null).editSpec().withType("ExternalName").withExternalName("example.com").withClusterIPs().endSpec().build());
        assertThat(f.service("shop", "headless").getAddressesList()).isEmpty();
        assertThat(f.resource(ResourceType.ADDRESS, f.serviceName("shop", "headless")).aliases()).isEmpty();
        assertThat(f.service("shop", "manual").getAddressesList()).containsExactly(vip("", "10.96.0.11"));
        assertThat(f.hasService("shop", "ext")).isFalse();
    }

    @Test
    void portsKeepNumericTargetsAndLeaveNamedOnesToWorkloads() {
        f.apply(SERVICE, service("shop", "web", "10.96.0.10").editSpec().withPorts()
                .addNewPort().withName("grpc-api").withPort(9000).withNewTargetPort("grpc").endPort()
                .addNewPort().withName("whatever").withPort(8443).withAppProtocol("https").withNewTargetPort(443).endPort()
                .addNewPort().withName("tcp-db").withPort(5432).endPort()
                .addNewPort().withName("dns").withPort(53).withProtocol("UDP").endPort()
                .addNewPort().withName("mysql").withPort(3306).endPort()
                .addNewPort().withName("smtp").withPort(25).endPort()
                .addNewPort().withName("h2c").withPort(81).withAppProtocol("kubernetes.io/h2c").endPort()
                .addNewPort().withName("grpc-web").withPort(82).endPort()
                .addNewPort().withName("HTTP2-x").withPort(83).endPort()
                .addNewPort().withName("tls").withPort(84).endPort()
                .endSpec().build());
        assertThat(f.service("shop", "web").getPortsList()).containsExactly(
                Port.newBuilder().setServicePort(9000).setTargetPort(0).setAppProtocol(AppProtocol.GRPC).build(),
                Port.newBuilder().setServicePort(8443).setTargetPort(443).setAppProtocol(AppProtocol.TLS).build(),
                Port.newBuilder().setServicePort(5432).setTargetPort(5432).setAppProtocol(AppProtocol.TCP).build(),
                Port.newBuilder().setServicePort(53).setTargetPort(53).setAppProtocol(AppProtocol.UNKNOWN).build(),
                Port.newBuilder().setServicePort(3306).setTargetPort(3306).setAppProtocol(AppProtocol.UNKNOWN).build(),
                Port.newBuilder().setServicePort(25).setTargetPort(25).setAppProtocol(AppProtocol.TCP).build(),
                Port.newBuilder().setServicePort(81).setTargetPort(81).setAppProtocol(AppProtocol.HTTP2).build(),
                Port.newBuilder().setServicePort(82).setTargetPort(82).setAppProtocol(AppProtocol.UNKNOWN).build(),
                Port.newBuilder().setServicePort(83).setTargetPort(83).setAppProtocol(AppProtocol.HTTP2).build(),
                Port.newBuilder().setServicePort(84).setTargetPort(84).setAppProtocol(AppProtocol.TLS).build());
    }

    @Test
    void trafficDistributionFromSpecAnnotationAndNamespace() {
        f.apply(NAMESPACE, namespace("near", Map.of()));
        f.apply(NAMESPACE, new io.fabric8.kubernetes.api.model.NamespaceBuilder(namespace("near", Map.of()))
                .editMetadata().addToAnnotations("networking.istio.io/traffic-distribution", "PreferSameNode").endMetadata().build());
        f.apply(SERVICE,
                service("shop", "close", "10.96.0.1").editSpec().withTrafficDistribution("PreferClose").endSpec().build(),
                service("shop", "zone", "10.96.0.2").editSpec().withTrafficDistribution("PreferSameZone").endSpec().build(),
                service("shop", "node", "10.96.0.3").editSpec().withTrafficDistribution("PreferSameNode").endSpec().build(),
                service("shop", "annotated", "10.96.0.4").editMetadata().addToAnnotations("networking.istio.io/traffic-distribution", "preferclose").endMetadata().build(),
                service("shop", "unknown", "10.96.0.5").editMetadata().addToAnnotations("networking.istio.io/traffic-distribution", "Anywhere").endMetadata().build(),
                service("near", "inherits", "10.96.0.6").build(),
                service("near", "overrides", "10.96.0.7").editSpec().withTrafficDistribution("PreferClose").endSpec().build(),
                service("shop", "local", "10.96.0.8").editSpec().withInternalTrafficPolicy("Local").withTrafficDistribution("PreferClose").endSpec().build(),
                service("shop", "unready", "10.96.0.9").editSpec().withPublishNotReadyAddresses(true).endSpec().build(),
                service("shop", "unready-zone", "10.96.0.10").editSpec().withPublishNotReadyAddresses(true).withTrafficDistribution("PreferClose").endSpec().build());
        assertThat(f.service("shop", "close").getLoadBalancing()).isEqualTo(SAME_ZONE);
        assertThat(f.service("shop", "zone").getLoadBalancing()).isEqualTo(SAME_ZONE);
        assertThat(f.service("shop", "node").getLoadBalancing()).isEqualTo(SAME_NODE);
        assertThat(f.service("shop", "annotated").getLoadBalancing()).isEqualTo(SAME_ZONE);
        assertThat(f.service("shop", "unknown").hasLoadBalancing()).isFalse();
        assertThat(f.service("near", "inherits").getLoadBalancing()).isEqualTo(SAME_NODE);
        assertThat(f.service("near", "overrides").getLoadBalancing()).isEqualTo(SAME_ZONE);
        assertThat(f.service("shop", "local").getLoadBalancing()).isEqualTo(LoadBalancing.newBuilder()
                .addRoutingPreference(Scope.NODE).setMode(LoadBalancing.Mode.STRICT).build());
        assertThat(f.service("shop", "unready").getLoadBalancing()).isEqualTo(LoadBalancing.newBuilder()
                .setHealthPolicy(LoadBalancing.HealthPolicy.ALLOW_ALL).build());
        assertThat(f.service("shop", "unready-zone").getLoadBalancing()).isEqualTo(SAME_ZONE.toBuilder()
                .setHealthPolicy(LoadBalancing.HealthPolicy.ALLOW_ALL).build());

        // The namespace annotation is read at translation: removing it changes the inheriting service.
        f.apply(NAMESPACE, namespace("near", Map.of()));
        assertThat(f.service("near", "inherits").hasLoadBalancing()).isFalse();
    }

    @Test
    void serviceWaypointFromServiceOrNamespaceLabel() {
        f.apply(GATEWAY, waypoint("shop", "wp", null).build());
        f.apply(SERVICE,
                service("shop", "web", "10.96.0.10").editMetadata().addToLabels(Map.of("istio.io/use-waypoint", "wp",
                        "istio.io/ingress-use-waypoint", "true")).endMetadata().build(),
                service("shop", "plain", "10.96.0.11").build());
        Service web = f.service("shop", "web");
        assertThat(web.getWaypoint().getHostname().getHostname()).isEqualTo("wp.shop.svc.cluster.local");
        assertThat(web.getWaypoint().getHboneMtlsPort()).isEqualTo(15008);
        assertThat(web.getIngressUseWaypoint()).isTrue();
        assertThat(f.service("shop", "plain").hasWaypoint()).isFalse();

        f.apply(NAMESPACE, namespace("shop", Map.of("istio.io/use-waypoint", "wp")));
        assertThat(f.service("shop", "plain").hasWaypoint()).isTrue();
        assertThat(f.service("shop", "plain").getIngressUseWaypoint()).isFalse();
    }

    @Test
    void workloadOnlyWaypointAndTheWaypointsOwnServiceGetNone() {
        f.apply(NAMESPACE, namespace("shop", Map.of("istio.io/use-waypoint", "wp")));
        f.apply(GATEWAY, waypoint("shop", "wp", "workload").build(), waypoint("shop", "wp2", "service").build());
        f.apply(SERVICE,
                service("shop", "web", "10.96.0.10").build(),
                service("shop", "wp2", "10.96.0.11").editMetadata().addToLabels(Map.of("gateway.istio.io/managed", "istio.io-mesh-controller",
                        "istio.io/use-waypoint", "wp2")).endMetadata().build());
        assertThat(f.service("shop", "web").hasWaypoint()).isFalse();
        assertThat(f.service("shop", "wp2").hasWaypoint()).isFalse();
    }

    @Test
    void badClusterIpSkipsTheServiceUntilFixed() {
        f.apply(SERVICE, service("shop", "web", "10.96.0.300").build());
        assertThat(f.hasService("shop", "web")).isFalse();
        f.apply(SERVICE, service("shop", "web", "10.96.0.30").build());
        assertThat(f.hasService("shop", "web")).isTrue();
    }
}
