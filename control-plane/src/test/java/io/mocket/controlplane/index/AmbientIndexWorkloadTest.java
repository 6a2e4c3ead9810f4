package io.mocket.controlplane.index;

import static io.mocket.controlplane.index.IndexFixture.ambientNamespace;
import static io.mocket.controlplane.index.IndexFixture.namespace;
import static io.mocket.controlplane.index.IndexFixture.node;
import static io.mocket.controlplane.index.IndexFixture.pod;
import static io.mocket.controlplane.index.IndexFixture.policy;
import static io.mocket.controlplane.index.IndexFixture.service;
import static io.mocket.controlplane.index.IndexFixture.waypoint;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.fabric8.kubernetes.api.model.Pod;
import io.mocket.api.istio.workload.ApplicationTunnel;
import io.mocket.api.istio.workload.GatewayAddress;
import io.mocket.api.istio.workload.Locality;
import io.mocket.api.istio.workload.NamespacedHostname;
import io.mocket.api.istio.workload.NetworkMode;
import io.mocket.api.istio.workload.Port;
import io.mocket.api.istio.workload.PortList;
import io.mocket.api.istio.workload.TunnelProtocol;
import io.mocket.api.istio.workload.Workload;
import io.mocket.api.istio.workload.WorkloadStatus;
import io.mocket.api.istio.workload.WorkloadType;
import io.mocket.controlplane.resources.ResourceType;
import java.net.InetAddress;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static io.mocket.controlplane.kube.KubeKind.AUTHORIZATION_POLICY;
import static io.mocket.controlplane.kube.KubeKind.GATEWAY;
import static io.mocket.controlplane.kube.KubeKind.NAMESPACE;
import static io.mocket.controlplane.kube.KubeKind.NODE;
import static io.mocket.controlplane.kube.KubeKind.POD;
import static io.mocket.controlplane.kube.KubeKind.SERVICE;

class AmbientIndexWorkloadTest {
    private final IndexFixture f = new IndexFixture();

    @AfterEach
    void close() {
        f.close();
    }

    private static ByteString ip(String s) {
        return ByteString.copyFrom(InetAddress.ofLiteral(s).getAddress());
    }

    @Test
    void podBecomesWorkloadWithIstiodNamesAndFields() {
        f.apply(NAMESPACE, ambientNamespace("shop"));
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").build());

        Workload w = f.workload("shop", "web-0");
        assertThat(w.getUid()).isEqualTo("Kubernetes//Pod/shop/web-0");
        assertThat(w.getName()).isEqualTo("web-0");
        assertThat(w.getNamespace()).isEqualTo("shop");
        assertThat(w.getAddressesList()).containsExactly(ip("10.1.0.5"));
        assertThat(w.getAddresses(0).size()).isEqualTo(4);
        assertThat(w.getNode()).isEqualTo("node-a");
        assertThat(w.getServiceAccount()).isEqualTo("web");
        assertThat(w.getClusterId()).isEqualTo("Kubernetes");
        assertThat(w.getNetwork()).isEmpty();
        // istiod leaves the default trust domain out.
        assertThat(w.getTrustDomain()).isEmpty();
        assertThat(w.getStatus()).isEqualTo(WorkloadStatus.HEALTHY);
        assertThat(w.getCanonicalName()).isEqualTo("web");
        assertThat(w.getCanonicalRevision()).isEqualTo("latest");
        assertThat(w.getWorkloadType()).isEqualTo(WorkloadType.POD);
        assertThat(w.getWorkloadName()).isEqualTo("web-0");
        assertThat(f.resource(ResourceType.ADDRESS, w.getUid()).aliases()).containsExactly("/10.1.0.5");
    }

    @Test
    void dualStackPodHasBothAddressesAndAliases() {
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").editStatus().addNewPodIP().withIp("fd00::5").endPodIP().endStatus().build());
        Workload w = f.workload("shop", "web-0");
        assertThat(w.getAddressesList()).containsExactly(ip("10.1.0.5"), ip("fd00::5"));
        assertThat(w.getAddresses(1).size()).isEqualTo(16);
        assertThat(f.resource(ResourceType.ADDRESS, w.getUid()).aliases()).containsExactly("/10.1.0.5", "/fd00::5");
    }

    @Test
    void networkAndTrustDomainFromSettings() {
        try (IndexFixture g = new IndexFixture(MeshSettings.defaults().withNetwork("net1").withTrustDomain("example.org").withClusterId("c1"))) {
            g.apply(POD, pod("shop", "web-0", "10.1.0.5").build());
            Workload w = g.workload("shop", "web-0");
            assertThat(w.getUid()).isEqualTo("c1//Pod/shop/web-0");
            assertThat(w.getNetwork()).isEqualTo("net1");
            assertThat(w.getTrustDomain()).isEqualTo("example.org");
            assertThat(g.resource(ResourceType.ADDRESS, w.getUid()).aliases()).containsExactly("net1/10.1.0.5");
        }
    }

    @Test
    void podsWithoutIpOrFinishedAreNotServedButPendingWithIpIs() {
        f.apply(POD,
                pod("shop", "no-ip", "x").editStatus().withPodIP(null).withPodIPs().endStatus().build(),
                pod("shop", "done", "10.1.0.6").editStatus().withPhase("Succeeded").endStatus().build(),
                pod("shop", "failed", "10.1.0.7").editStatus().withPhase("Failed").endStatus().build(),
                pod("shop", "init", "10.1.0.8").editStatus().withPhase("Pending").withConditions().endStatus().build());
        assertThat(f.hasWorkload("shop", "no-ip")).isFalse();
        assertThat(f.hasWorkload("shop", "done")).isFalse();
        assertThat(f.hasWorkload("shop", "failed")).isFalse();
        assertThat(f.workload("shop", "init").getStatus()).isEqualTo(WorkloadStatus.UNHEALTHY);
    }

    @Test
    void podIpFallbackWhenPodIPsIsEmpty() {
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").editStatus().withPodIPs().endStatus().build());
        assertThat(f.workload("shop", "web-0").getAddressesList()).containsExactly(ip("10.1.0.5"));
    }

    @Test
    void readinessAndTerminationDecideHealth() {
        f.apply(POD,
                pod("shop", "not-ready", "10.1.0.5").editStatus().editFirstCondition().withStatus("False").endCondition().endStatus().build(),
                pod("shop", "terminating", "10.1.0.6").editMetadata().withDeletionTimestamp("2026-01-01T00:00:00Z").endMetadata().build());
        assertThat(f.workload("shop", "not-ready").getStatus()).isEqualTo(WorkloadStatus.UNHEALTHY);
        assertThat(f.workload("shop", "terminating").getStatus()).isEqualTo(WorkloadStatus.UNHEALTHY);
    }

    @Test
    void serviceAccountDefaultsToDefault() {
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").editSpec().withServiceAccountName(null).endSpec().build());
        assertThat(f.workload("shop", "web-0").getServiceAccount()).isEqualTo("default");
    }

    @Test
    void localityComesFromTheNodeAndFollowsIt() {
        f.apply(NODE, node("node-a", "eu-west1", "eu-west1-b", "rack7"));
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").build());
        assertThat(f.workload("shop", "web-0").getLocality())
                .isEqualTo(Locality.newBuilder().setRegion("eu-west1").setZone("eu-west1-b").setSubzone("rack7").build());

        f.apply(NODE, node("node-a", "eu-west1", "eu-west1-c", null));
        assertThat(f.workload("shop", "web-0").getLocality())
                .isEqualTo(Locality.newBuilder().setRegion("eu-west1").setZone("eu-west1-c").build());
    }

    @Test
    void podOnUnlabelledOrUnknownNodeHasNoLocality() {
        f.apply(NODE, node("node-a", null, null, null));
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").build(),
                pod("shop", "web-1", "10.1.0.6").editSpec().withNodeName("node-z").endSpec().build());
        assertThat(f.workload("shop", "web-0").hasLocality()).isFalse();
        assertThat(f.workload("shop", "web-1").hasLocality()).isFalse();
    }

    @Test
    void hostNetworkPodIsHostNetworkAndNeverEnrolled() {
        f.apply(NAMESPACE, ambientNamespace("shop"));
        f.apply(POD, pod("shop", "agent", "192.168.0.10").editSpec().withHostNetwork(true).endSpec().build());
        Workload w = f.workload("shop", "agent");
        assertThat(w.getNetworkMode()).isEqualTo(NetworkMode.HOST_NETWORK);
        assertThat(w.getTunnelProtocol()).isEqualTo(TunnelProtocol.NONE);
        assertThat(w.getExtensionsList()).isEmpty();
    }

    // ------------------------------------------------------------ owners and names

    private static Pod owned(String name, String generateName, String kind, String owner, Map<String, String> labels) {
        return pod("shop", name, "10.1.0.5").editMetadata().withGenerateName(generateName).addToLabels(labels)
                .addNewOwnerReference().withApiVersion("apps/v1").withKind(kind).withName(owner).withController(true).withUid("u").endOwnerReference()
                .endMetadata().build();
    }

    @Test
    void replicaSetWithTemplateHashIsItsDeployment() {
        f.apply(POD, owned("reviews-v1-5d8f7c9b4-x2x9q", "reviews-v1-5d8f7c9b4-", "ReplicaSet", "reviews-v1-5d8f7c9b4",
                Map.of("pod-template-hash", "5d8f7c9b4")));
        Workload w = f.workload("shop", "reviews-v1-5d8f7c9b4-x2x9q");
        assertThat(w.getWorkloadType()).isEqualTo(WorkloadType.DEPLOYMENT);
        assertThat(w.getWorkloadName()).isEqualTo("reviews-v1");
    }

    @Test
    void bareReplicaSetStatefulSetAndUncontrolledPods() {
        f.apply(POD,
                owned("rs-abcde", "rs-", "ReplicaSet", "rs", Map.of()),
                owned("db-0", "db-", "StatefulSet", "db", Map.of()),
                pod("shop", "lonely", "10.1.0.9").build());
        assertThat(f.workload("shop", "rs-abcde").getWorkloadName()).isEqualTo("rs");
        assertThat(f.workload("shop", "rs-abcde").getWorkloadType()).isEqualTo(WorkloadType.POD);
        assertThat(f.workload("shop", "db-0").getWorkloadName()).isEqualTo("db");
        assertThat(f.workload("shop", "lonely").getWorkloadName()).isEqualTo("lonely");
        assertThat(f.workload("shop", "lonely").getWorkloadType()).isEqualTo(WorkloadType.POD);
    }

    @Test
    void ownerIsIgnoredWithoutGenerateName() {
        f.apply(POD, owned("manual", null, "ReplicaSet", "rs-123", Map.of("pod-template-hash", "123")));
        assertThat(f.workload("shop", "manual").getWorkloadName()).isEqualTo("manual");
        assertThat(f.workload("shop", "manual").getWorkloadType()).isEqualTo(WorkloadType.POD);
    }

    @Test
    void jobsAndCronJobs() {
        f.apply(POD,
                owned("migrate-abcde", "migrate-", "Job", "migrate", Map.of()),
                owned("backup-29012345-xyz12", "backup-29012345-", "Job", "backup-29012345", Map.of()));
        assertThat(f.workload("shop", "migrate-abcde").getWorkloadType()).isEqualTo(WorkloadType.JOB);
        assertThat(f.workload("shop", "migrate-abcde").getWorkloadName()).isEqualTo("migrate");
        assertThat(f.workload("shop", "backup-29012345-xyz12").getWorkloadType()).isEqualTo(WorkloadType.CRONJOB);
        assertThat(f.workload("shop", "backup-29012345-xyz12").getWorkloadName()).isEqualTo("backup");
    }

    @Test
    void workloadNameLabelAndCanonicalLabelsInIstioOrder() {
        f.apply(POD, owned("reviews-v1-5d8f7c9b4-x2x9q", "reviews-v1-5d8f7c9b4-", "ReplicaSet", "reviews-v1-5d8f7c9b4",
                Map.of("pod-template-hash", "5d8f7c9b4", "service.istio.io/workload-name", "reviews-custom",
                        "app.kubernetes.io/name", "reviews", "app", "ignored", "version", "v1")));
        Workload w = f.workload("shop", "reviews-v1-5d8f7c9b4-x2x9q");
        assertThat(w.getWorkloadName()).isEqualTo("reviews-custom");
        assertThat(w.getCanonicalName()).isEqualTo("reviews");
        assertThat(w.getCanonicalRevision()).isEqualTo("v1");

        f.apply(POD, pod("shop", "plain", "10.1.0.7").editMetadata().withLabels(Map.of(
                "service.istio.io/canonical-name", "cn", "service.istio.io/canonical-revision", "r2", "app", "a")).endMetadata().build());
        assertThat(f.workload("shop", "plain").getCanonicalName()).isEqualTo("cn");
        assertThat(f.workload("shop", "plain").getCanonicalRevision()).isEqualTo("r2");
    }

    // ------------------------------------------------------------ enrollment

    @Test
    void namespaceLabelEnrollsPodsUnlessThePodOptsOut() {
        f.apply(NAMESPACE, ambientNamespace("shop"));
        f.apply(POD, pod("shop", "in", "10.1.0.5").build(),
                pod("shop", "out", "10.1.0.6").editMetadata().addToLabels("istio.io/dataplane-mode", "none").endMetadata().build());
        Workload in = f.workload("shop", "in");
        assertThat(in.getTunnelProtocol()).isEqualTo(TunnelProtocol.HBONE);
        assertThat(in.getExtensionsList()).extracting(e -> e.getName()).containsExactly("mocket.io/mtls-lite");
        Workload out = f.workload("shop", "out");
        assertThat(out.getTunnelProtocol()).isEqualTo(TunnelProtocol.NONE);
        assertThat(out.getExtensionsList()).isEmpty();
    }

    @Test
    void podLabelEnrollsInPlainNamespaceAndNotEnrolledPodsAreStillServed() {
        f.apply(NAMESPACE, namespace("plain", Map.of()));
        f.apply(POD, pod("plain", "in", "10.1.0.5").editMetadata().addToLabels("istio.io/dataplane-mode", "ambient").endMetadata().build(),
                pod("plain", "legacy", "10.1.0.6").build(),
                pod("plain", "sidecar", "10.1.0.7").editMetadata().addToLabels("istio.io/dataplane-mode", "ambient")
                        .addToAnnotations("sidecar.istio.io/status", "{}").endMetadata().build());
        assertThat(f.workload("plain", "in").getTunnelProtocol()).isEqualTo(TunnelProtocol.HBONE);
        assertThat(f.workload("plain", "legacy").getTunnelProtocol()).isEqualTo(TunnelProtocol.NONE);
        assertThat(f.workload("plain", "sidecar").getTunnelProtocol()).isEqualTo(TunnelProtocol.NONE);
    }

    @Test
    void enrollmentFollowsNamespaceLabelChanges() {
        f.apply(NAMESPACE, namespace("shop", Map.of()));
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").build());
        assertThat(f.workload("shop", "web-0").getTunnelProtocol()).isEqualTo(TunnelProtocol.NONE);
        f.apply(NAMESPACE, ambientNamespace("shop"));
        assertThat(f.workload("shop", "web-0").getTunnelProtocol()).isEqualTo(TunnelProtocol.HBONE);
    }

    @Test
    void istioCniRedirectionAnnotationAndNativeTunnelLabelMeanHbone() {
        f.apply(POD,
                pod("plain", "redirected", "10.1.0.5").editMetadata().addToAnnotations("ambient.istio.io/redirection", "enabled").endMetadata().build(),
                pod("plain", "native", "10.1.0.6").editMetadata().addToLabels("networking.istio.io/tunnel", "http").endMetadata().build());
        assertThat(f.workload("plain", "redirected").getTunnelProtocol()).isEqualTo(TunnelProtocol.HBONE);
        assertThat(f.workload("plain", "redirected").getExtensionsList()).isEmpty();
        assertThat(f.workload("plain", "native").getTunnelProtocol()).isEqualTo(TunnelProtocol.HBONE);
        assertThat(f.workload("plain", "native").getNativeTunnel()).isTrue();
    }

    // ------------------------------------------------------------ services map

    @Test
    void servicesMapListsSelectingServicesWithResolvedTargetPorts() {
        f.apply(SERVICE,
                service("shop", "web", "10.96.0.10").build(),
                service("shop", "web-named", "10.96.0.11").editSpec().withPorts().addNewPort().withName("http").withPort(80)
                        .withNewTargetPort("http").endPort()
                        .addNewPort().withName("metrics").withPort(9090).withNewTargetPort("metrics").endPort().endSpec().build(),
                service("shop", "other", "10.96.0.12").editSpec().withSelector(Map.of("app", "other")).endSpec().build(),
                service("shop", "no-selector", "10.96.0.13").editSpec().withSelector(null).endSpec().build(),
                service("elsewhere", "web", "10.96.0.14").build());
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").build());

        Map<String, PortList> services = f.workload("shop", "web-0").getServicesMap();
        assertThat(services).containsOnlyKeys("shop/web.shop.svc.cluster.local", "shop/web-named.shop.svc.cluster.local");
        assertThat(services.get("shop/web.shop.svc.cluster.local").getPortsList())
                .containsExactly(Port.newBuilder().setServicePort(80).setTargetPort(8080).build());
        // "metrics" is not a port of this pod: istiod drops that service port for it.
        assertThat(services.get("shop/web-named.shop.svc.cluster.local").getPortsList())
                .containsExactly(Port.newBuilder().setServicePort(80).setTargetPort(8080).build());
    }

    @Test
    void multiLabelSelectorsNeedEveryLabel() {
        f.apply(SERVICE, service("shop", "web-v1", "10.96.0.10").editSpec().withSelector(Map.of("app", "web", "version", "v1")).endSpec().build());
        f.apply(POD, pod("shop", "v1", "10.1.0.5").editMetadata().addToLabels("version", "v1").endMetadata().build(),
                pod("shop", "v2", "10.1.0.6").editMetadata().addToLabels("version", "v2").endMetadata().build());
        assertThat(f.workload("shop", "v1").getServicesMap()).containsOnlyKeys("shop/web-v1.shop.svc.cluster.local");
        assertThat(f.workload("shop", "v2").getServicesMap()).isEmpty();
    }

    @Test
    void namedTargetPortIsFoundInNativeSidecarsButOnlyForTcp() {
        f.apply(SERVICE, service("shop", "web", "10.96.0.10").editSpec().withPorts()
                .addNewPort().withName("admin").withPort(15000).withNewTargetPort("admin").endPort()
                .addNewPort().withName("dns").withPort(53).withNewTargetPort("dns").endPort().endSpec().build());
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").editSpec()
                .addNewInitContainer().withName("proxy").withRestartPolicy("Always")
                .addNewPort().withName("admin").withContainerPort(15001).endPort().endInitContainer()
                .editFirstContainer().addNewPort().withName("dns").withContainerPort(5353).withProtocol("UDP").endPort().endContainer()
                .endSpec().build());
        assertThat(f.workload("shop", "web-0").getServicesMap().get("shop/web.shop.svc.cluster.local").getPortsList())
                .containsExactly(Port.newBuilder().setServicePort(15000).setTargetPort(15001).build());
    }

    @Test
    void servicesMapFollowsServiceChanges() {
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").build());
        assertThat(f.workload("shop", "web-0").getServicesMap()).isEmpty();
        f.apply(SERVICE, service("shop", "web", "10.96.0.10").build());
        assertThat(f.workload("shop", "web-0").getServicesMap()).containsOnlyKeys("shop/web.shop.svc.cluster.local");
        f.apply(SERVICE, service("shop", "web", "10.96.0.10").editSpec().withSelector(Map.of("app", "api")).endSpec().build());
        assertThat(f.workload("shop", "web-0").getServicesMap()).isEmpty();
        f.apply(SERVICE, service("shop", "web", "10.96.0.10").build());
        f.remove(SERVICE, service("shop", "web", "10.96.0.10").build());
        assertThat(f.workload("shop", "web-0").getServicesMap()).isEmpty();
    }

    // ------------------------------------------------------------ authorization_policies

    @Test
    void onlySelectorPoliciesThatSelectThePodAreListed() {
        f.apply(AUTHORIZATION_POLICY,
                policy("shop", "ns-wide", "action: ALLOW\nrules: [{}]"),
                policy("shop", "selects-web", "selector: {matchLabels: {app: web}}\naction: DENY\nrules: [{}]"),
                policy("shop", "selects-api", "selector: {matchLabels: {app: api}}\nrules: [{}]"),
                policy("istio-system", "mesh-web", "selector: {matchLabels: {app: web}}\nrules: [{}]"),
                policy("istio-system", "mesh-wide", "rules: [{}]"),
                policy("other", "other-web", "selector: {matchLabels: {app: web}}\nrules: [{}]"),
                policy("shop", "broken-web", "selector: {matchLabels: {app: web}}\nrules: [{from: [{source: {ipBlocks: [nope]}}]}]"));
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").build());
        // broken-web has never been valid: it is served as allow-nothing and listed like a valid policy would be.
        assertThat(f.workload("shop", "web-0").getAuthorizationPoliciesList())
                .containsExactly("istio-system/mesh-web", "shop/broken-web", "shop/selects-web");
    }

    @Test
    void policyListFollowsSelectorChanges() {
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").build());
        f.apply(AUTHORIZATION_POLICY, policy("shop", "p", "selector: {matchLabels: {app: api}}\nrules: [{}]"));
        assertThat(f.workload("shop", "web-0").getAuthorizationPoliciesList()).isEmpty();
        f.apply(AUTHORIZATION_POLICY, policy("shop", "p", "selector: {matchLabels: {app: web}}\nrules: [{}]"));
        assertThat(f.workload("shop", "web-0").getAuthorizationPoliciesList()).containsExactly("shop/p");
        f.remove(AUTHORIZATION_POLICY, policy("shop", "p", "selector: {matchLabels: {app: web}}\nrules: [{}]"));
        assertThat(f.workload("shop", "web-0").getAuthorizationPoliciesList()).isEmpty();
    }

    // ------------------------------------------------------------ waypoints

    private static final GatewayAddress WAYPOINT_ADDRESS = GatewayAddress.newBuilder()
            .setHostname(NamespacedHostname.newBuilder().setNamespace("shop").setHostname("wp.shop.svc.cluster.local"))
            .setHboneMtlsPort(15008).build();

    @Test
    void podLabelPicksAWorkloadWaypoint() {
        f.apply(GATEWAY, waypoint("shop", "wp", "workload").build());
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").editMetadata().addToLabels("istio.io/use-waypoint", "wp").endMetadata().build());
        assertThat(f.workload("shop", "web-0").getWaypoint()).isEqualTo(WAYPOINT_ADDRESS);
    }

    @Test
    void namespaceLabelAppliesUnlessThePodSaysNone() {
        f.apply(NAMESPACE, namespace("shop", Map.of("istio.io/use-waypoint", "wp")));
        f.apply(GATEWAY, waypoint("shop", "wp", "all").build());
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").build(),
                pod("shop", "web-1", "10.1.0.6").editMetadata().addToLabels("istio.io/use-waypoint", "none").endMetadata().build());
        assertThat(f.workload("shop", "web-0").getWaypoint()).isEqualTo(WAYPOINT_ADDRESS);
        assertThat(f.workload("shop", "web-1").hasWaypoint()).isFalse();
    }

    @Test
    void serviceOnlyWaypointIsNotUsedForWorkloads() {
        f.apply(GATEWAY, waypoint("shop", "wp", null).build());
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").editMetadata().addToLabels("istio.io/use-waypoint", "wp").endMetadata().build());
        assertThat(f.workload("shop", "web-0").hasWaypoint()).isFalse();
    }

    @Test
    void waypointAppearsWhenItsGatewayBecomesReadyAndGoesWhenDeleted() {
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").editMetadata().addToLabels("istio.io/use-waypoint", "wp").endMetadata().build());
        f.apply(GATEWAY, waypoint("shop", "wp", "workload").withStatus(null).build());
        assertThat(f.workload("shop", "web-0").hasWaypoint()).as("no status address: not ready").isFalse();
        f.apply(GATEWAY, waypoint("shop", "wp", "workload").build());
        assertThat(f.workload("shop", "web-0").getWaypoint()).isEqualTo(WAYPOINT_ADDRESS);
        f.remove(GATEWAY, waypoint("shop", "wp", "workload").build());
        assertThat(f.workload("shop", "web-0").hasWaypoint()).isFalse();
    }

    @Test
    void gatewayOfAnotherClassIsNotAWaypoint() {
        f.apply(GATEWAY, waypoint("shop", "wp", "workload").editSpec().withGatewayClassName("istio").endSpec().build());
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").editMetadata().addToLabels("istio.io/use-waypoint", "wp").endMetadata().build());
        assertThat(f.workload("shop", "web-0").hasWaypoint()).isFalse();
    }

    @Test
    void crossNamespaceWaypointNeedsAllowedRoutes() {
        var shared = waypoint("infra", "shared", "all").editSpec().withListeners().addNewListener().withName("mesh").withPort(15008)
                .withProtocol("HBONE").withNewAllowedRoutes().withNewNamespaces().withFrom("Selector").withNewSelector()
                .addToMatchLabels("mesh", "yes").endSelector().endNamespaces().endAllowedRoutes().endListener().endSpec();
        f.apply(NAMESPACE, namespace("shop", Map.of("mesh", "yes")), namespace("other", Map.of()));
        f.apply(GATEWAY, shared.build());
        f.apply(POD,
                pod("shop", "web-0", "10.1.0.5").editMetadata().addToLabels(Map.of("istio.io/use-waypoint", "shared",
                        "istio.io/use-waypoint-namespace", "infra")).endMetadata().build(),
                pod("other", "web-0", "10.1.0.6").editMetadata().addToLabels(Map.of("istio.io/use-waypoint", "shared",
                        "istio.io/use-waypoint-namespace", "infra")).endMetadata().build());
        assertThat(f.workload("shop", "web-0").getWaypoint().getHostname().getNamespace()).isEqualTo("infra");
        assertThat(f.workload("other", "web-0").hasWaypoint()).isFalse();
    }

    @Test
    void waypointWithOnlyAnIpAddress() {
        f.apply(GATEWAY, waypoint("shop", "wp", "workload").withNewStatus().addNewAddress().withType("IPAddress").withValue("10.96.9.9")
                .endAddress().endStatus().build());
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").editMetadata().addToLabels("istio.io/use-waypoint", "wp").endMetadata().build());
        assertThat(f.workload("shop", "web-0").getWaypoint().getAddress().getAddress()).isEqualTo(ip("10.96.9.9"));
        assertThat(f.workload("shop", "web-0").getWaypoint().getHboneMtlsPort()).isEqualTo(15008);
    }

    @Test
    void mocketWaypointClassIsAWaypoint() {
        f.apply(GATEWAY, waypoint("shop", "wp", "workload").editSpec().withGatewayClassName("mocket-waypoint").withListeners()
                .addNewListener().withName("mesh").withPort(15008).withProtocol("mTLS-lite").endListener().endSpec().build());
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").editMetadata().addToLabels("istio.io/use-waypoint", "wp").endMetadata().build());
        assertThat(f.workload("shop", "web-0").getWaypoint()).isEqualTo(WAYPOINT_ADDRESS);
    }

    @Test
    void waypointInstancePodHasNoWaypointButItsInboundBinding() {
        f.apply(NAMESPACE, namespace("shop", Map.of("istio.io/use-waypoint", "wp")));
        f.apply(GATEWAY, waypoint("shop", "wp", "all").editMetadata().addToAnnotations("ambient.istio.io/waypoint-inbound-binding", "PROXY/15088")
                .endMetadata().build());
        f.apply(POD, pod("shop", "wp-abc", "10.1.0.9").editMetadata().addToLabels("gateway.networking.k8s.io/gateway-name", "wp").endMetadata().build());
        Workload w = f.workload("shop", "wp-abc");
        assertThat(w.hasWaypoint()).isFalse();
        assertThat(w.getApplicationTunnel()).isEqualTo(ApplicationTunnel.newBuilder().setProtocol(ApplicationTunnel.Protocol.PROXY).setPort(15088).build());
    }
}
