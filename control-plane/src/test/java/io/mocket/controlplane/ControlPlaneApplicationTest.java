package io.mocket.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.mocket.controlplane.config.XdsServerLifecycle;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The packaged application as a user runs it: real ports, the admin endpoints, readiness following the
 * source, and start-up errors for bad settings.
 */
class ControlPlaneApplicationTest {
    private static final Path EXAMPLE = Path.of("..", "examples", "cluster").toAbsolutePath().normalize();
    private final HttpClient http = HttpClient.newHttpClient();

    private static ConfigurableApplicationContext start(String... args) {
        String[] common = {"--mocket.xds.port=0", "--mocket.xds.address=127.0.0.1", "--server.port=0",
                "--server.address=127.0.0.1", "--spring.main.banner-mode=off"};
        String[] all = new String[common.length + args.length];
        System.arraycopy(common, 0, all, 0, common.length);
        System.arraycopy(args, 0, all, common.length, args.length);
        return new SpringApplicationBuilder(ControlPlaneApplication.class).run(all);
    }

    private static int adminPort(ConfigurableApplicationContext ctx) {
        return ((WebServerApplicationContext) ctx).getWebServer().getPort();
    }

    private HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesTheExampleOverXdsAndShowsItOnTheAdminPort() throws Exception {
        try (ConfigurableApplicationContext ctx = start("--mocket.source=file:" + EXAMPLE)) {
            int admin = adminPort(ctx);
            int xds = ctx.getBean(XdsServerLifecycle.class).server().port();
            await().atMost(Duration.ofSeconds(30)).until(() -> get(admin, "/health/readiness").statusCode() == 200);
            assertThat(get(admin, "/health/liveness").statusCode()).isEqualTo(200);

            ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", xds).usePlaintext()
                    .maxInboundMessageSize(64 << 20).build();
            BlockingQueue<DeltaDiscoveryResponse> responses = new LinkedBlockingQueue<>();
            try {
                StreamObserver<DeltaDiscoveryRequest> requests = AggregatedDiscoveryServiceGrpc.newStub(channel)
                        .deltaAggregatedResources(new StreamObserver<>() {
                            public void onNext(DeltaDiscoveryResponse r) {
                                responses.add(r);
                            }

                            public void onError(Throwable t) {
                            }

                            public void onCompleted() {
                            }
                        });
                requests.onNext(DeltaDiscoveryRequest.newBuilder()
                        .setNode(Node.newBuilder().setId("ztunnel~10.0.0.9~ztunnel-test.istio-system~istio-system.svc.cluster.local"))
                        .setTypeUrl("type.googleapis.com/istio.workload.Address").build());
                DeltaDiscoveryResponse first = responses.poll(30, TimeUnit.SECONDS);
                assertThat(first).isNotNull();
                assertThat(first.getResourcesCount()).isEqualTo(13);
                requests.onNext(DeltaDiscoveryRequest.newBuilder().setTypeUrl(first.getTypeUrl())
                        .setResponseNonce(first.getNonce()).build());

                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(get(admin, "/debug/clients").body())
                        .contains("ztunnel-test.istio-system").contains(first.getNonce()));
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }

            assertThat(get(admin, "/debug/index").body()).contains("\"type.googleapis.com/istio.workload.Address\":13");
            HttpResponse<String> one = get(admin, "/debug/resources?type=address&name=/10.244.1.10");
            assertThat(one.statusCode()).isEqualTo(200);
            assertThat(one.body()).contains("Kubernetes//Pod/shop/productpage-v1-6b746f74dc-9stvs");
            assertThat(get(admin, "/debug/resources?type=address&name=/10.9.9.9").statusCode()).isEqualTo(404);
            assertThat(get(admin, "/debug/resources?type=listener").statusCode()).isEqualTo(400);
            assertThat(get(admin, "/debug/source").body()).contains("\"problems\":[]");

            String metrics = get(admin, "/metrics").body();
            assertThat(metrics).contains("mocket_xds_resources").contains("mocket_xds_pushes_total")
                    .contains("mocket_index_debounce_delay_seconds").contains("mocket_authorization_l7_failclosed_total");
        }
    }

    @Test
    void aMalformedFileIsReportedWhileTheRestKeepsServing(@TempDir Path dir) throws Exception {
        Files.copy(EXAMPLE.resolve("sample-cluster.yaml"), dir.resolve("sample-cluster.yaml"));
        Files.writeString(dir.resolve("broken.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: [unclosed\n");
        try (ConfigurableApplicationContext ctx = start("--mocket.source=file:" + dir)) {
            int admin = adminPort(ctx);
            await().atMost(Duration.ofSeconds(30)).until(() -> get(admin, "/health/readiness").statusCode() == 200);
            String source = get(admin, "/debug/source").body();
            assertThat(source).contains("broken.yaml").containsPattern("line \\d+|:\\d+");
            assertThat(get(admin, "/debug/index").body()).contains("\"type.googleapis.com/istio.workload.Address\":13");
            assertThat(get(admin, "/metrics").body()).containsPattern("mocket_source_errors_total\\{[^}]*source=\"file\"[^}]*} [1-9]");
        }
    }

    @Test
    void anUnreachableApiServerKeepsTheProcessUpButNotReady() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }
        String url = "http://127.0.0.1:" + closed + "/";
        System.setProperty("kubernetes.master", url);
        System.setProperty("kubernetes.auth.tryKubeConfig", "false");
        System.setProperty("kubernetes.auth.tryServiceAccount", "false");
        try (ConfigurableApplicationContext ctx = start("--mocket.source=kubernetes", "--mocket.leader-election.enabled=false")) {
            int admin = adminPort(ctx);
            assertThat(get(admin, "/health/liveness").statusCode()).isEqualTo(200);
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                HttpResponse<String> ready = get(admin, "/health/readiness");
                assertThat(ready.statusCode()).isEqualTo(503);
                assertThat(ready.body()).contains("OUT_OF_SERVICE").contains("127.0.0.1:" + closed);
            });
        } finally {
            System.clearProperty("kubernetes.master");
            System.clearProperty("kubernetes.auth.tryKubeConfig");
            System.clearProperty("kubernetes.auth.tryServiceAccount");
        }
    }

    @Test
    void badSettingsStopTheStartWithTheFix() {
        assertThatThrownBy(() -> start("--mocket.source=etcd").close())
                .hasStackTraceContaining("mocket.source='etcd' is not valid")
                .hasStackTraceContaining("file:<directory of Kubernetes YAML>");
        assertThatThrownBy(() -> start("--mocket.source=file:/nonexistent-mocket-dir").close())
                .hasStackTraceContaining("/nonexistent-mocket-dir");
    }
}
