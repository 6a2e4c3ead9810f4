package io.mocket.controlplane.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodListBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.WatchEvent;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.Gateway;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mocket.controlplane.kube.RecordingSink.Delete;
import io.mocket.controlplane.kube.RecordingSink.ReplaceAll;
import io.mocket.controlplane.kube.RecordingSink.Upsert;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * KubernetesSource against real fabric8 informers. The API server is fabric8's KubernetesMockServer in CRUD
 * mode on loopback (see {@link MockApiServer}): no kube-apiserver can run on the build machines, and it is
 * the only mock these tests use.
 */
class KubernetesSourceTest {

    /** Every wait in this class is bounded by this. */
    private static final Duration WAIT = Duration.ofSeconds(30);

    private static final KubernetesSource.Settings FAST =
            new KubernetesSource.Settings(Duration.ZERO, Duration.ofMillis(300), Duration.ofMillis(200));

    private static final Map<KubeKind, Class<?>> INFORMER_CLASSES = Map.of(
            KubeKind.NAMESPACE, Namespace.class,
            KubeKind.NODE, Node.class,
            KubeKind.POD, Pod.class,
            KubeKind.SERVICE, Service.class,
            KubeKind.AUTHORIZATION_POLICY, GenericKubernetesResource.class,
            KubeKind.PEER_AUTHENTICATION, GenericKubernetesResource.class,
            KubeKind.GATEWAY, Gateway.class);

    private final List<AutoCloseable> toClose = new ArrayList<>();
    private final RecordingSink sink = new RecordingSink();
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

    @AfterEach
    void cleanUp() throws Exception {
        Exception first = null;
        for (AutoCloseable c : toClose.reversed()) {
            try {
                c.close();
            } catch (Exception e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private <T extends AutoCloseable> T closeLater(T closeable) {
        toClose.add(closeable);
        return closeable;
    }

    private KubernetesSource startSource(int port, KubernetesSource.Settings settings) {
        KubernetesClient client = closeLater(MockApiServer.client(port));
        KubernetesSource source = closeLater(new KubernetesSource(client, sink, settings, meters));
        source.start();
        return source;
    }

    private static String key(KubeKind kind, String name) {
        return kind.namespaced() ? MockApiServer.NS + "/" + name : name;
    }

    @Test
    void everyKindIsDeliveredOnListAddUpdateAndDeleteThroughRealInformers() {
        MockApiServer api = closeLater(MockApiServer.start());
        for (KubeKind kind : KubeKind.values()) {
            api.create(MockApiServer.object(kind, "seed"));
        }

        KubernetesSource source = startSource(api.port(), FAST);

        await().atMost(WAIT).until(() -> source.health().synced());
        for (KubeKind kind : KubeKind.values()) {
            // The initial list arrives as exactly one replaceAll per kind, nothing else.
            assertThat(sink.calls(ReplaceAll.class, kind)).as("%s", kind).singleElement()
                    .satisfies(r -> assertThat(r.objects()).singleElement()
                            .isExactlyInstanceOf(INFORMER_CLASSES.get(kind))
                            .satisfies(o -> assertThat(RecordingSink.key(o)).isEqualTo(key(kind, "seed"))));
        }
        assertThat(sink.calls()).hasSize(KubeKind.values().length);

        for (KubeKind kind : KubeKind.values()) {
            api.create(MockApiServer.object(kind, "extra"));
            api.label(kind, "seed", "revision", "2");
        }
        await().atMost(WAIT).untilAsserted(() -> {
            for (KubeKind kind : KubeKind.values()) {
                assertThat(sink.objects(kind)).as("%s", kind).containsKeys(key(kind, "seed"), key(kind, "extra"));
                assertThat(sink.objects(kind).get(key(kind, "seed")).getMetadata().getLabels())
                        .as("%s", kind).containsEntry("revision", "2");
            }
        });
        for (KubeKind kind : KubeKind.values()) {
            assertThat(sink.calls(Upsert.class, kind)).as("%s", kind).hasSize(2)
                    .allSatisfy(u -> assertThat(u.object()).isExactlyInstanceOf(INFORMER_CLASSES.get(kind)));
            api.delete(kind, "extra");
        }
        await().atMost(WAIT).untilAsserted(() -> {
            for (KubeKind kind : KubeKind.values()) {
                assertThat(sink.objects(kind)).as("%s", kind).containsOnlyKeys(key(kind, "seed"));
            }
        });
        for (KubeKind kind : KubeKind.values()) {
            assertThat(sink.calls(Delete.class, kind)).as("%s", kind).singleElement()
                    .satisfies(d -> assertThat(RecordingSink.key(d.object())).isEqualTo(key(kind, "extra")));
        }
        assertThat(source.health()).isEqualTo(SourceHealth.ok());
        assertThat(source.missingCrds()).isEmpty();
    }

    @Test
    void aResyncRedeliversUnchangedObjects() {
        MockApiServer api = closeLater(MockApiServer.start());
        api.create(MockApiServer.object(KubeKind.POD, "steady"));

        KubernetesSource source = startSource(api.port(),
                new KubernetesSource.Settings(Duration.ofSeconds(1), Duration.ofSeconds(30), Duration.ofMillis(200)));

        await().atMost(WAIT).until(() -> source.health().synced());
        await().atMost(WAIT).untilAsserted(() -> assertThat(sink.calls(Upsert.class, KubeKind.POD)).hasSizeGreaterThan(1)
                .allSatisfy(u -> assertThat(RecordingSink.key(u.object())).isEqualTo("demo/steady")));
        assertThat(sink.calls(Delete.class, KubeKind.POD)).isEmpty();
    }

    @Test
    void aRelistAfterGoneEndsInReplaceAllSoADeleteMissedMeanwhileIsApplied() {
        MockApiServer api = closeLater(MockApiServer.start());
        api.create(MockApiServer.object(KubeKind.POD, "stays"));
        // The API's first answer still has "gone"; its watch then fails with 410 Gone, as a real API server's
        // does when the resourceVersion was compacted. The relist that follows reaches the CRUD store, where
        // "gone" was deleted while the informer was not watching.
        Pod gone = new PodBuilder((Pod) MockApiServer.object(KubeKind.POD, "gone"))
                .editMetadata().withResourceVersion("5").endMetadata().build();
        Pod stays = api.admin().pods().inNamespace(MockApiServer.NS).withName("stays").get();
        api.expectGet("/api/v1/pods?resourceVersion=0", 200, new PodListBuilder().withNewMetadata()
                .withResourceVersion("7").endMetadata().withItems(stays, gone).build(), 1);
        String goneEvent = new KubernetesSerialization().asJson(new WatchEvent(new StatusBuilder().withCode(410)
                .withStatus("Failure").withReason("Expired").withMessage("too old resource version: 7 (42)").build(),
                "ERROR"));
        api.server().expect().get()
                .withPath("/api/v1/pods?allowWatchBookmarks=true&resourceVersion=7&timeoutSeconds=600&watch=true")
                .andUpgradeToWebSocket().open().immediately().andEmit(goneEvent).done().once();

        KubernetesSource source = startSource(api.port(), FAST);

        await().atMost(WAIT).untilAsserted(() -> assertThat(sink.calls(ReplaceAll.class, KubeKind.POD)).hasSize(2));
        List<ReplaceAll> lists = sink.calls(ReplaceAll.class, KubeKind.POD);
        assertThat(lists.get(0).objects()).extracting(RecordingSink::key).containsExactlyInAnyOrder("demo/stays", "demo/gone");
        assertThat(lists.get(1).objects()).extracting(RecordingSink::key).containsExactly("demo/stays");
        assertThat(sink.objects(KubeKind.POD)).containsOnlyKeys("demo/stays");
        // The relist's own add/delete notifications are covered by its replaceAll and not sent twice.
        assertThat(sink.calls(Delete.class, KubeKind.POD)).isEmpty();
        await().atMost(WAIT).until(() -> source.health().synced());
    }

    @Test
    void anApiUnreachableAtStartIsReportedWithoutThrowingAndTheSourceSyncsWhenItAppears() {
        int port = MockApiServer.closedPort();

        KubernetesSource source = startSource(port, FAST);

        await().atMost(WAIT).untilAsserted(() -> assertThat(source.health().reason())
                .startsWith("Kubernetes API unreachable at " + MockApiServer.url(port) + ": ")
                .endsWith("no complete state received yet"));
        assertThat(source.health().synced()).isFalse();
        assertThat(sink.calls()).isEmpty();
        assertThat(meters.get("mocket.source.errors").tag("source", "kubernetes").counter().count()).isPositive();

        MockApiServer api = closeLater(MockApiServer.startOn(port));
        api.create(MockApiServer.object(KubeKind.NAMESPACE, "demo"));
        api.create(MockApiServer.object(KubeKind.POD, "web-0"));

        await().atMost(WAIT).until(() -> source.health().synced());
        await().atMost(WAIT).untilAsserted(() -> {
            assertThat(sink.objects(KubeKind.POD)).containsOnlyKeys("demo/web-0");
            assertThat(sink.objects(KubeKind.NAMESPACE)).containsOnlyKeys("demo");
        });
        for (KubeKind kind : KubeKind.values()) {
            assertThat(sink.hasListed(kind)).as("%s", kind).isTrue();
        }
    }

    @Test
    void whenTheApiGoesAwayHealthSaysSoTheSinkKeepsItsObjectsAndTheSourceRecovers() {
        MockApiServer api = MockApiServer.start();
        int port = api.port();
        try {
            api.create(MockApiServer.object(KubeKind.POD, "before"));
            KubernetesSource source = startSource(port, FAST);
            await().atMost(WAIT).until(() -> source.health().synced());
            assertThat(sink.objects(KubeKind.POD)).containsOnlyKeys("demo/before");

            api.close();

            await().atMost(WAIT).untilAsserted(() -> assertThat(source.health().reason())
                    .startsWith("Kubernetes API unreachable at " + MockApiServer.url(port) + ": ")
                    .contains("; serving the last state from "));
            assertThat(sink.objects(KubeKind.POD)).containsOnlyKeys("demo/before");
            assertThat(sink.calls(Delete.class, KubeKind.POD)).isEmpty();

            api = MockApiServer.startOn(port);
            api.create(MockApiServer.object(KubeKind.POD, "before"));
            api.create(MockApiServer.object(KubeKind.POD, "after"));

            await().atMost(WAIT).until(() -> source.health().synced());
            await().atMost(WAIT).untilAsserted(() -> assertThat(sink.objects(KubeKind.POD))
                    .containsOnlyKeys("demo/before", "demo/after"));
        } finally {
            api.close();
        }
    }

    @Test
    void aMissingCrdIsServedAsAnEmptySetWithoutBlockingReadinessAndIsReadOnceInstalled() {
        MockApiServer api = closeLater(MockApiServer.start());
        api.create(MockApiServer.object(KubeKind.POD, "web-0"));
        String notFound = new KubernetesSerialization().asJson(new StatusBuilder().withCode(404).withStatus("Failure")
                .withReason("NotFound").withMessage("the server could not find the requested resource").build());
        // A real API server answers 404 for the resources of a CRD that is not installed; the CRUD store
        // cannot, so the list and the source's later probes get that answer until the test "installs" it.
        String gatewaysList = "/apis/gateway.networking.k8s.io/v1/gateways?resourceVersion=0";
        String gatewaysProbe = "/apis/gateway.networking.k8s.io/v1/gateways?limit=1";
        api.expectGet(gatewaysList, 404, notFound, 1);
        api.expectGet(gatewaysProbe, 404, notFound, 1_000);
        api.expectGet("/apis/security.istio.io/v1/peerauthentications?resourceVersion=0", 404, notFound, 1);
        api.expectGet("/apis/security.istio.io/v1/peerauthentications?limit=1", 404, notFound, 1_000);

        KubernetesSource source = startSource(api.port(), FAST);

        await().atMost(WAIT).untilAsserted(() -> {
            assertThat(source.missingCrds()).containsExactlyInAnyOrder(KubeKind.GATEWAY, KubeKind.PEER_AUTHENTICATION);
            assertThat(source.health()).isEqualTo(SourceHealth.ok());
        });
        // Served as an empty set: a retry probe of a slow machine may repeat the delivery, never with objects.
        assertThat(sink.calls(ReplaceAll.class, KubeKind.GATEWAY)).isNotEmpty()
                .allSatisfy(r -> assertThat(r.objects()).isEmpty());
        assertThat(sink.hasListed(KubeKind.PEER_AUTHENTICATION)).isTrue();
        assertThat(sink.objects(KubeKind.POD)).containsOnlyKeys("demo/web-0");

        // "Install" the Gateway API: its probe now reaches the CRUD store, where a Gateway already exists.
        api.create(MockApiServer.object(KubeKind.GATEWAY, "waypoint"));
        api.forget(gatewaysProbe);

        await().atMost(WAIT).untilAsserted(() -> {
            assertThat(sink.objects(KubeKind.GATEWAY)).containsOnlyKeys("demo/waypoint");
            assertThat(source.missingCrds()).containsExactly(KubeKind.PEER_AUTHENTICATION);
        });
        await().atMost(WAIT).until(() -> source.health().synced());
        HasMetadata gateway = sink.objects(KubeKind.GATEWAY).get("demo/waypoint");
        assertThat(gateway).isExactlyInstanceOf(Gateway.class);
    }

    @Test
    void aForbiddenListNamesTheKindAndTheRbacFixWhileTheOtherKindsAreServed() {
        MockApiServer api = closeLater(MockApiServer.start());
        api.create(MockApiServer.object(KubeKind.SERVICE, "web"));
        api.create(MockApiServer.object(KubeKind.POD, "web-0"));
        String forbidden = new KubernetesSerialization().asJson(new StatusBuilder().withCode(403).withStatus("Failure")
                .withReason("Forbidden").withMessage("pods is forbidden: User \"system:serviceaccount:istio-system:"
                        + "mocket\" cannot list resource \"pods\" in API group \"\" at the cluster scope").build());
        String podsList = "/api/v1/pods?resourceVersion=0";
        api.expectGet(podsList, 403, forbidden, 1_000);

        KubernetesSource source = startSource(api.port(), FAST);

        await().atMost(WAIT).untilAsserted(() -> assertThat(source.health().reason())
                .startsWith("Kubernetes API at " + MockApiServer.url(api.port()) + " refused to list or watch Pod: "
                        + "HTTP 403 pods is forbidden")
                .contains("grant get, list and watch on pods to the control plane's ServiceAccount")
                .endsWith("no complete state received yet"));
        await().atMost(WAIT).untilAsserted(() -> assertThat(sink.objects(KubeKind.SERVICE)).containsKey("demo/web"));
        assertThat(sink.hasListed(KubeKind.POD)).isFalse();

        api.forget(podsList); // RBAC fixed

        await().atMost(WAIT).until(() -> source.health().synced());
        assertThat(sink.objects(KubeKind.POD)).containsOnlyKeys("demo/web-0");
    }

    @Test
    void anObjectThatDoesNotFitItsModelIsNamedInHealthUntilItIsFixed() throws Exception {
        MockApiServer api = closeLater(MockApiServer.start());
        api.create(MockApiServer.object(KubeKind.POD, "web-0"));
        // A Gateway whose listeners is a string: the API server's CRD schema would refuse it; the CRUD store does
        // not, which lets this test show what happens when the model and the served objects disagree.
        GenericKubernetesResource broken = new io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder()
                .withApiVersion(KubeKind.GATEWAY.apiVersion()).withKind("Gateway")
                .withNewMetadata().withName("broken").withNamespace(MockApiServer.NS).endMetadata()
                .addToAdditionalProperties("spec", Map.of("gatewayClassName", "x", "listeners", "oops")).build();
        api.admin().genericKubernetesResources(KindModel.context(KubeKind.GATEWAY)).inNamespace(MockApiServer.NS)
                .resource(broken).create();

        KubernetesSource source = startSource(api.port(), FAST);

        await().atMost(WAIT).untilAsserted(() -> assertThat(source.health().reason())
                .startsWith("cannot decode Gateway read from " + MockApiServer.url(api.port()))
                .contains("fix or delete it"));
        await().atMost(WAIT).untilAsserted(() -> assertThat(sink.objects(KubeKind.POD)).containsKey("demo/web-0"));

        // Deleted over plain HTTP: fabric8 would decode the deleted object from the answer, and it cannot.
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create(MockApiServer.url(api.port())
                    + "apis/gateway.networking.k8s.io/v1/namespaces/demo/gateways/broken")).DELETE()
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(answer.statusCode()).isEqualTo(200);
        }

        await().atMost(WAIT).until(() -> source.health().synced());
        assertThat(sink.objects(KubeKind.GATEWAY)).isEmpty();
    }

    @Test
    void managedFieldsAreDroppedBeforeObjectsReachTheSink() {
        MockApiServer api = closeLater(MockApiServer.start());
        Pod pod = new PodBuilder((Pod) MockApiServer.object(KubeKind.POD, "applied")).editMetadata()
                .addNewManagedField().withManager("kubectl").withOperation("Apply").withApiVersion("v1")
                .endManagedField().endMetadata().build();
        api.create(pod);
        assertThat(api.admin().pods().inNamespace(MockApiServer.NS).withName("applied").get()
                .getMetadata().getManagedFields()).isNotEmpty();

        KubernetesSource source = startSource(api.port(), FAST);

        await().atMost(WAIT).until(() -> source.health().synced());
        assertThat(sink.objects(KubeKind.POD).get("demo/applied").getMetadata().getManagedFields()).isNullOrEmpty();
        api.label(KubeKind.POD, "applied", "revision", "2");
        await().atMost(WAIT).untilAsserted(() -> assertThat(sink.calls(Upsert.class, KubeKind.POD)).singleElement()
                .satisfies(u -> assertThat(u.object().getMetadata().getManagedFields()).isNullOrEmpty()));
    }
}
