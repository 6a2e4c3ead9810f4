package io.mocket.controlplane.index;

import static io.mocket.controlplane.index.IndexFixture.ambientNamespace;
import static io.mocket.controlplane.index.IndexFixture.namespace;
import static io.mocket.controlplane.index.IndexFixture.node;
import static io.mocket.controlplane.index.IndexFixture.pod;
import static io.mocket.controlplane.index.IndexFixture.policy;
import static io.mocket.controlplane.index.IndexFixture.service;
import static io.mocket.controlplane.index.IndexFixture.waypoint;
import static io.mocket.controlplane.kube.KubeKind.AUTHORIZATION_POLICY;
import static io.mocket.controlplane.kube.KubeKind.GATEWAY;
import static io.mocket.controlplane.kube.KubeKind.NAMESPACE;
import static io.mocket.controlplane.kube.KubeKind.NODE;
import static io.mocket.controlplane.kube.KubeKind.POD;
import static io.mocket.controlplane.kube.KubeKind.SERVICE;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.mocket.controlplane.kube.KubeKind;
import io.mocket.controlplane.resources.Commit;
import io.mocket.controlplane.resources.ResourceType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AmbientIndexIncrementalTest {
    private IndexFixture f = new IndexFixture();

    @AfterEach
    void close() {
        f.close();
    }

    private static String uid(String ns, String name) {
        return "Kubernetes//Pod/" + ns + "/" + name;
    }

    private Commit lastCommit() {
        return f.commits.getLast();
    }

    /** Runs {@code change}, lets the index settle, and returns the commits it produced. */
    private List<Commit> commitsOf(Runnable change) {
        int before = f.commits.size();
        change.run();
        f.settle();
        return List.copyOf(f.commits.subList(before, f.commits.size()));
    }

    private void baseCluster() {
        f.apply(NAMESPACE, ambientNamespace("shop"), namespace("other", Map.of()));
        f.apply(NODE, node("node-a", "r", "z", null));
        f.apply(SERVICE, service("shop", "web", "10.96.0.10").build(),
                service("shop", "api", "10.96.0.11").editSpec().withSelector(Map.of("app", "api")).endSpec().build());
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").build(), pod("shop", "web-1", "10.1.0.6").build(),
                pod("shop", "api-0", "10.1.0.7").editMetadata().withLabels(Map.of("app", "api")).endMetadata().build(),
                pod("other", "x-0", "10.1.0.8").build());
        f.apply(AUTHORIZATION_POLICY, policy("shop", "web-only", "selector: {matchLabels: {app: web}}\nrules: [{}]"),
                policy("shop", "ns", "rules: [{}]"));
    }

    @Test
    void podChangeCommitsOnlyThatWorkload() {
        baseCluster();
        List<Commit> commits = commitsOf(() -> f.index.upsert(POD, pod("shop", "web-1", "10.1.0.6")
                .editStatus().editFirstCondition().withStatus("False").endCondition().endStatus().build()));
        assertThat(commits).hasSize(1);
        Commit c = commits.getFirst();
        assertThat(c.updated(ResourceType.ADDRESS)).containsExactly(uid("shop", "web-1"));
        assertThat(c.touches(ResourceType.AUTHORIZATION)).isFalse();
        assertThat(c.removed(ResourceType.ADDRESS)).isEmpty();
    }

    @Test
    void unchangedObjectsCommitNothing() {
        baseCluster();
        List<Commit> commits = commitsOf(() -> {
            f.index.upsert(POD, pod("shop", "web-0", "10.1.0.5").build());
            f.index.upsert(SERVICE, service("shop", "web", "10.96.0.10").build());
            f.index.upsert(NAMESPACE, ambientNamespace("shop"));
            f.index.upsert(AUTHORIZATION_POLICY, policy("shop", "ns", "rules: [{}]"));
        });
        assertThat(commits).isEmpty();
    }

    @Test
    void nodeHeartbeatWithoutLocalityChangeTouchesNothing() {
        baseCluster();
        List<Commit> commits = commitsOf(() -> f.index.upsert(NODE, new io.fabric8.kubernetes.api.model.NodeBuilder(node("node-a", "r", "z", null))
                .withNewStatus().addNewCondition().withType("Ready").withStatus("True").withLastHeartbeatTime("2026-01-01T00:00:10Z").endCondition().endStatus()
                .build()));
        assertThat(commits).isEmpty();
    }

    @Test
    void nodeLocalityChangeTouchesOnlyPodsOnThatNode() {
        baseCluster();
        f.apply(POD, pod("shop", "elsewhere", "10.1.0.9").editSpec().withNodeName("node-b").endSpec().build());
        List<Commit> commits = commitsOf(() -> f.index.upsert(NODE, node("node-b", "r", "z2", null)));
        assertThat(commits).hasSize(1);
        assertThat(commits.getFirst().updated(ResourceType.ADDRESS)).containsExactly(uid("shop", "elsewhere"));
    }

    @Test
    void serviceSelectorOrPortChangeTouchesOnlyTheServiceAndPodsSelectedBeforeOrAfter() {
        baseCluster();
        List<Commit> commits = commitsOf(() -> f.index.upsert(SERVICE, service("shop", "web", "10.96.0.10").editSpec()
                .editFirstPort().withPort(81).endPort().endSpec().build()));
        assertThat(commits).hasSize(1);
        assertThat(commits.getFirst().updated(ResourceType.ADDRESS)).containsExactlyInAnyOrder(
                f.serviceName("shop", "web"), uid("shop", "web-0"), uid("shop", "web-1"));

        commits = commitsOf(() -> f.index.upsert(SERVICE, service("shop", "web", "10.96.0.10").editSpec()
                .editFirstPort().withPort(81).endPort().withSelector(Map.of("app", "api")).endSpec().build()));
        // The selector is not part of the Service resource: only the workloads changed.
        assertThat(commits.getFirst().updated(ResourceType.ADDRESS)).containsExactlyInAnyOrder(
                uid("shop", "web-0"), uid("shop", "web-1"), uid("shop", "api-0"));
    }

    @Test
    void serviceChangeInvisibleToWorkloadsTouchesOnlyTheService() {
        baseCluster();
        List<Commit> commits = commitsOf(() -> f.index.upsert(SERVICE, service("shop", "web", "10.96.0.10")
                .editSpec().withTrafficDistribution("PreferClose").endSpec().build()));
        assertThat(commits).hasSize(1);
        assertThat(commits.getFirst().updated(ResourceType.ADDRESS)).containsExactly(f.serviceName("shop", "web"));
    }

    @Test
    void policyRuleChangeWithTheSameSelectorTouchesOnlyTheAuthorization() {
        baseCluster();
        List<Commit> commits = commitsOf(() -> f.index.upsert(AUTHORIZATION_POLICY,
                policy("shop", "web-only", "selector: {matchLabels: {app: web}}\naction: DENY\nrules: [{}]")));
        assertThat(commits).hasSize(1);
        assertThat(commits.getFirst().updated(ResourceType.AUTHORIZATION)).containsExactly("shop/web-only");
        assertThat(commits.getFirst().touches(ResourceType.ADDRESS)).isFalse();
    }

    @Test
    void policySelectorChangeTouchesPodsSelectedBeforeOrAfter() {
        baseCluster();
        List<Commit> commits = commitsOf(() -> f.index.upsert(AUTHORIZATION_POLICY,
                policy("shop", "web-only", "selector: {matchLabels: {app: api}}\nrules: [{}]")));
        assertThat(commits.getFirst().updated(ResourceType.ADDRESS))
                .containsExactlyInAnyOrder(uid("shop", "web-0"), uid("shop", "web-1"), uid("shop", "api-0"));
    }

    @Test
    void namespaceLabelChangeTouchesItsPodsAndServicesOnly() {
        baseCluster();
        List<Commit> commits = commitsOf(() -> f.index.upsert(NAMESPACE, namespace("shop", Map.of())));
        assertThat(commits.getFirst().updated(ResourceType.ADDRESS)).containsExactlyInAnyOrder(
                uid("shop", "web-0"), uid("shop", "web-1"), uid("shop", "api-0"));
        // Services carry nothing that depends on enrollment: they were recomputed and found unchanged.
        assertThat(commits.getFirst().updated(ResourceType.ADDRESS)).doesNotContain(uid("other", "x-0"));
    }

    @Test
    void gatewayChangeTouchesOnlyItsUsers() {
        baseCluster();
        f.apply(POD, pod("shop", "uses-wp", "10.1.0.20").editMetadata().addToLabels("istio.io/use-waypoint", "wp").endMetadata().build());
        f.apply(NAMESPACE, namespace("other", Map.of("istio.io/use-waypoint", "wp", "istio.io/use-waypoint-namespace", "shop")));
        List<Commit> commits = commitsOf(() -> f.index.upsert(GATEWAY, waypoint("shop", "wp", "all")
                .editSpec().editFirstListener().withNewAllowedRoutes().withNewNamespaces().withFrom("All").endNamespaces().endAllowedRoutes()
                .endListener().endSpec().build()));
        assertThat(commits).hasSize(1);
        assertThat(commits.getFirst().updated(ResourceType.ADDRESS)).containsExactlyInAnyOrder(uid("shop", "uses-wp"), uid("other", "x-0"));
    }

    @Test
    void deletesRemoveResourcesAndAliases() {
        baseCluster();
        f.remove(POD, pod("shop", "web-0", "10.1.0.5").build());
        assertThat(f.hasWorkload("shop", "web-0")).isFalse();
        assertThat(f.store.current().resolve(ResourceType.ADDRESS, "/10.1.0.5")).isEmpty();
        assertThat(lastCommit().removed(ResourceType.ADDRESS)).containsExactly(uid("shop", "web-0"));

        f.remove(SERVICE, service("shop", "web", "10.96.0.10").build());
        assertThat(f.hasService("shop", "web")).isFalse();
        assertThat(f.workload("shop", "web-1").getServicesMap()).isEmpty();

        f.remove(AUTHORIZATION_POLICY, policy("shop", "web-only", "rules: []"));
        assertThat(f.hasAuthorization("shop", "web-only")).isFalse();
        assertThat(f.workload("shop", "web-1").getAuthorizationPoliciesList()).isEmpty();
    }

    @Test
    void podThatLosesItsIpOrFinishesIsRemoved() {
        baseCluster();
        f.apply(POD, pod("shop", "web-0", "10.1.0.5").editStatus().withPhase("Succeeded").endStatus().build());
        assertThat(f.hasWorkload("shop", "web-0")).isFalse();
        assertThat(lastCommit().removed(ResourceType.ADDRESS)).containsExactly(uid("shop", "web-0"));
    }

    @Test
    void replaceAllDeletesWhatIsMissingAndLeavesTheUnchangedAlone() {
        baseCluster();
        List<HasMetadata> pods = List.of(pod("shop", "web-0", "10.1.0.5").build(), pod("shop", "new-0", "10.1.0.30").build());
        List<Commit> commits = commitsOf(() -> f.index.replaceAll(POD, pods));
        assertThat(commits).hasSize(1);
        assertThat(commits.getFirst().updated(ResourceType.ADDRESS)).containsExactly(uid("shop", "new-0"));
        assertThat(commits.getFirst().removed(ResourceType.ADDRESS))
                .containsExactlyInAnyOrder(uid("shop", "web-1"), uid("shop", "api-0"), uid("other", "x-0"));
        assertThat(f.index.describe().inputs()).containsEntry(KubeKind.POD, 2);
    }

    @Test
    void oneReplaceAllIsOneCommit() {
        List<HasMetadata> pods = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            pods.add(pod("shop", "web-" + i, "10.1." + (i / 250) + "." + (i % 250 + 1)).build());
        }
        List<Commit> commits = commitsOf(() -> f.index.replaceAll(POD, pods));
        assertThat(commits).hasSize(1);
        assertThat(commits.getFirst().updated(ResourceType.ADDRESS)).hasSize(200);
    }

    @Test
    void commitWaitsForTheQuietPeriodAndCarriesTheFirstEventTime() throws Exception {
        f.close();
        f = new IndexFixture(MeshSettings.defaults().withDebounce(Duration.ofMillis(200), Duration.ofMillis(5000)));
        List<Long> committedAt = new CopyOnWriteArrayList<>();
        f.store.addListener(c -> committedAt.add(System.nanoTime()));

        long before = System.nanoTime();
        f.index.upsert(POD, pod("shop", "web-0", "10.1.0.5").build());
        long afterFirst = System.nanoTime();
        Thread.sleep(20);
        f.index.upsert(POD, pod("shop", "web-1", "10.1.0.6").build());
        long lastEvent = System.nanoTime();
        f.settle();

        assertThat(f.commits).hasSize(1);
        Commit c = f.commits.getFirst();
        assertThat(c.updated(ResourceType.ADDRESS)).containsExactlyInAnyOrder(uid("shop", "web-0"), uid("shop", "web-1"));
        assertThat(c.firstEventNanos()).isBetween(before, afterFirst);
        assertThat(committedAt.getFirst() - lastEvent).as("committed a quiet period after the last event")
                .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(200) - TimeUnit.MILLISECONDS.toNanos(5));
        assertThat(f.meters.find("mocket.index.debounce.delay").timer().count()).isEqualTo(1);
        assertThat(f.meters.find("mocket.index.debounce.delay").timer().totalTime(TimeUnit.MILLISECONDS)).isGreaterThanOrEqualTo(215);
        assertThat(f.meters.find("mocket.index.translate").timer().count()).isEqualTo(1);
    }

    @Test
    void maxDelayBoundsABusyStream() throws Exception {
        f.close();
        f = new IndexFixture(MeshSettings.defaults().withDebounce(Duration.ofMillis(40), Duration.ofMillis(150)));
        long start = System.nanoTime();
        int i = 0;
        // Events every 10 ms never leave a 40 ms quiet period; only the max delay lets commits through.
        while (System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(700)) {
            f.index.upsert(POD, pod("shop", "web-0", "10.1.0.5").editMetadata().withResourceVersion(Integer.toString(i))
                    .addToLabels("version", Integer.toString(i++)).endMetadata().build());
            Thread.sleep(10);
        }
        int duringStream = f.commits.size();
        f.settle();
        assertThat(duringStream).as("commits while events never paused").isGreaterThanOrEqualTo(2);
    }

    @Test
    void objectsOfTheWrongClassOrWithoutNameAreIgnored() {
        GenericKubernetesResource notAPod = policy("shop", "p", "rules: [{}]");
        f.index.upsert(POD, notAPod);
        f.index.upsert(POD, new Pod());
        f.settle();
        assertThat(f.commits).isEmpty();
        assertThat(f.index.describe().inputs()).containsEntry(KubeKind.POD, 0);
    }

    @Test
    void describeCountsInputsAndOutputs() {
        baseCluster();
        IndexDescription d = f.index.describe();
        assertThat(d.inputs()).containsEntry(KubeKind.POD, 4).containsEntry(KubeKind.SERVICE, 2)
                .containsEntry(KubeKind.NAMESPACE, 2).containsEntry(KubeKind.NODE, 1).containsEntry(KubeKind.AUTHORIZATION_POLICY, 2)
                .containsEntry(KubeKind.GATEWAY, 0).containsEntry(KubeKind.PEER_AUTHENTICATION, 0);
        assertThat(d.outputs()).containsEntry("workload", 4).containsEntry("service", 2).containsEntry("authorization", 2);
        assertThat(d.pendingOutputs()).isZero();
    }

    @Test
    void closedIndexIgnoresEvents() {
        f.index.close();
        f.index.upsert(POD, pod("shop", "web-0", "10.1.0.5").build());
        assertThat(f.commits).isEmpty();
        assertThat(f.index.describe().inputs()).containsEntry(KubeKind.POD, 0);
    }

    /**
     * 10,000 pods behind 1,000 services: one pod change recomputes one workload. The bound is loose because
     * build machines are shared; the structural assertion (one resource) is the point.
     */
    @Test
    void onePodChangeOnALargeClusterIsOneSmallCommit() {
        f.close();
        f = new IndexFixture(MeshSettings.defaults().withDebounce(Duration.ofMillis(1), Duration.ofMillis(100)));
        List<HasMetadata> services = new ArrayList<>();
        List<HasMetadata> pods = new ArrayList<>();
        for (int s = 0; s < 1000; s++) {
            String ns = "ns" + (s % 20);
            services.add(service(ns, "svc" + s, "10.96." + (s / 250) + "." + (s % 250 + 1)).editSpec()
                    .withSelector(Map.of("app", "app" + s)).endSpec().build());
            for (int p = 0; p < 10; p++) {
                int n = s * 10 + p;
                pods.add(pod(ns, "app" + s + "-" + p, "10." + (1 + n / 62500) + "." + (n / 250 % 250) + "." + (n % 250 + 1))
                        .editMetadata().withLabels(Map.of("app", "app" + s)).endMetadata().build());
            }
        }
        f.index.replaceAll(SERVICE, services);
        f.index.replaceAll(POD, pods);
        f.settle();
        assertThat(f.index.describe().outputs()).containsEntry("workload", 10_000).containsEntry("service", 1000);

        List<Long> committedAt = new CopyOnWriteArrayList<>();
        f.store.addListener(c -> committedAt.add(System.nanoTime()));
        Pod changed = pod("ns7", "app7-3", "10.1.0.74").editMetadata().withLabels(Map.of("app", "app7", "version", "v2")).endMetadata().build();
        long start = System.nanoTime();
        List<Commit> commits = commitsOf(() -> f.index.upsert(POD, changed));
        assertThat(commits).hasSize(1);
        assertThat(commits.getFirst().updated(ResourceType.ADDRESS)).containsExactly(uid("ns7", "app7-3"));
        long millis = TimeUnit.NANOSECONDS.toMillis(committedAt.getFirst() - start);
        assertThat(millis).as("pod change to commit, in ms").isLessThan(1000);
        assertThat(f.workload("ns7", "app7-3").getServicesMap()).containsOnlyKeys("ns7/svc7.ns7.svc.cluster.local");
    }
}
