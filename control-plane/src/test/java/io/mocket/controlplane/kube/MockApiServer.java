package io.mocket.controlplane.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GatewayBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.internal.SimpleRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * fabric8's KubernetesMockServer in CRUD mode, on loopback, plain HTTP. No kube-apiserver can be installed on
 * the build machines, so this is the only API server stand-in the tests use (no other mock of any kind).
 * It keeps objects, lists and watches them like the API. Where the CRUD store cannot produce a real API
 * server's answer (404 for a CRD that is not installed, 410 Gone on a watch) a test layers a one-off
 * expectation on the same server; everything else goes to the CRUD store.
 */
final class MockApiServer implements AutoCloseable {

    static final String NS = "demo";

    private final Map<ServerRequest, Queue<ServerResponse>> responses = new ConcurrentHashMap<>();
    private final KubernetesMockServer server;
    private final int port;
    private KubernetesClient client;

    private MockApiServer(int port) {
        this.server = new KubernetesMockServer(new Context(), new MockWebServer(), responses,
                new KubernetesMixedDispatcher(responses), false);
        server.start(InetAddress.getLoopbackAddress(), port);
        this.port = server.getPort();
    }

    /** A server on a free loopback port. */
    static MockApiServer start() {
        return new MockApiServer(0);
    }

    /** A server on {@code port}, e.g. one a client was already pointed at while nothing listened. */
    static MockApiServer startOn(int port) {
        return new MockApiServer(port);
    }

    /** A loopback port with nothing listening on it (bound and released at once). */
    static int closedPort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String url(int port) {
        return "http://127.0.0.1:" + port + "/";
    }

    /**
     * A client for the API at {@code port} that fails fast: no request retries, watch reconnects from 100 ms,
     * so tests of outages finish in seconds.
     */
    static KubernetesClient client(int port) {
        Config config = new ConfigBuilder(Config.empty())
                .withMasterUrl(url(port))
                .withNamespace(NS)
                .withRequestRetryBackoffLimit(0)
                .withWatchReconnectInterval(100)
                .withConnectionTimeout(2_000)
                .withRequestTimeout(5_000)
                .build();
        return new KubernetesClientBuilder().withConfig(config).build();
    }

    int port() {
        return port;
    }

    /** The client the test itself uses to change the cluster (the source under test gets its own). */
    synchronized KubernetesClient admin() {
        if (client == null) {
            client = client(port);
        }
        return client;
    }

    KubernetesMockServer server() {
        return server;
    }

    /** Answers the next {@code times} GETs of exactly {@code path} with {@code code} and {@code body}. */
    void expectGet(String path, int code, Object body, int times) {
        String json = body instanceof String s ? s : new KubernetesSerialization().asJson(body);
        server.expect().get().withPath(path).andReturn(code, json).times(times);
    }

    /** Drops an expectation before it is used up, so that path goes to the CRUD store again. */
    void forget(String path) {
        responses.remove(new SimpleRequest(HttpMethod.GET, path));
    }

    void create(HasMetadata object) {
        KubeKind kind = kindOf(object);
        if (object instanceof GenericKubernetesResource generic) {
            admin().genericKubernetesResources(KindModel.context(kind)).inNamespace(NS).resource(generic).create();
        } else {
            admin().resource(object).create();
        }
    }

    void label(KubeKind kind, String name, String key, String value) {
        edit(resource(kind, name), key, value);
    }

    void delete(KubeKind kind, String name) {
        resource(kind, name).delete();
    }

    private static <T extends HasMetadata> void edit(Resource<T> resource, String key, String value) {
        resource.edit(object -> {
            Map<String, String> labels = object.getMetadata().getLabels() == null
                    ? new LinkedHashMap<>() : new LinkedHashMap<>(object.getMetadata().getLabels());
            labels.put(key, value);
            object.getMetadata().setLabels(labels);
            return object;
        });
    }

    private Resource<? extends HasMetadata> resource(KubeKind kind, String name) {
        if (kind.modelClass() == GenericKubernetesResource.class) {
            return admin().genericKubernetesResources(KindModel.context(kind)).inNamespace(NS).withName(name);
        }
        var op = admin().resources(kind.modelClass());
        return kind.namespaced() ? op.inNamespace(NS).withName(name) : op.withName(name);
    }

    private static KubeKind kindOf(HasMetadata object) {
        return KubeKind.of(object.getApiVersion(), object.getKind())
                .orElseThrow(() -> new IllegalArgumentException("not a kind the sources read: " + object.getKind()));
    }

    /** A small valid object of {@code kind} named {@code name} (in namespace {@value #NS} when namespaced). */
    static HasMetadata object(KubeKind kind, String name) {
        return switch (kind) {
            case NAMESPACE -> new NamespaceBuilder().withNewMetadata().withName(name)
                    .addToLabels("istio.io/dataplane-mode", "ambient").endMetadata().build();
            case NODE -> new NodeBuilder().withNewMetadata().withName(name)
                    .addToLabels("topology.kubernetes.io/zone", "zone-a").endMetadata()
                    .withNewStatus().addNewAddress().withType("InternalIP").withAddress("192.168.0.10").endAddress()
                    .endStatus().build();
            case POD -> new PodBuilder().withNewMetadata().withName(name).withNamespace(NS)
                    .addToLabels("app", "web").endMetadata()
                    .withNewSpec().withNodeName("node-a").withServiceAccountName("web")
                    .addNewContainer().withName("web").withImage("nginx").endContainer().endSpec()
                    .withNewStatus().withPodIP("10.1.0.5").withPhase("Running").endStatus().build();
            case SERVICE -> new ServiceBuilder().withNewMetadata().withName(name).withNamespace(NS).endMetadata()
                    .withNewSpec().withClusterIP("10.96.0.20").addToSelector("app", "web")
                    .addNewPort().withName("http").withPort(80).endPort().endSpec().build();
            case AUTHORIZATION_POLICY -> new GenericKubernetesResourceBuilder()
                    .withApiVersion(kind.apiVersion()).withKind(kind.kind())
                    .withNewMetadata().withName(name).withNamespace(NS).endMetadata()
                    .addToAdditionalProperties("spec", Map.of("action", "ALLOW", "rules", List.of(Map.of("from",
                            List.of(Map.of("source", Map.of("principals",
                                    List.of("cluster.local/ns/demo/sa/frontend"))))))))
                    .build();
            case PEER_AUTHENTICATION -> new GenericKubernetesResourceBuilder()
                    .withApiVersion(kind.apiVersion()).withKind(kind.kind())
                    .withNewMetadata().withName(name).withNamespace(NS).endMetadata()
                    .addToAdditionalProperties("spec", Map.of("mtls", Map.of("mode", "STRICT")))
                    .build();
            case GATEWAY -> new GatewayBuilder().withNewMetadata().withName(name).withNamespace(NS)
                    .addToAnnotations("istio.io/for-service-account", "web").endMetadata()
                    .withNewSpec().withGatewayClassName("mocket-waypoint")
                    .addNewListener().withName("mesh").withPort(15008).withProtocol("mTLS-lite").endListener()
                    .endSpec().build();
        };
    }

    @Override
    public synchronized void close() {
        try {
            if (client != null) {
                client.close();
            }
        } finally {
            server.shutdown();
        }
    }

}
