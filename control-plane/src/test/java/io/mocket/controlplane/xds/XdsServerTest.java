package io.mocket.controlplane.xds;

import static io.mocket.controlplane.resources.ResourceType.ADDRESS;
import static io.mocket.controlplane.xds.Fixtures.names;
import static io.mocket.controlplane.xds.Fixtures.podName;
import static io.mocket.controlplane.xds.Fixtures.service;
import static io.mocket.controlplane.xds.Fixtures.serviceName;
import static io.mocket.controlplane.xds.Fixtures.workload;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mocket.api.istio.workload.Address;
import io.mocket.api.v1.GetRequest;
import io.mocket.api.v1.IndexGrpc;
import io.mocket.controlplane.resources.ResourceStore;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The real server over Netty on an ephemeral loopback port. */
class XdsServerTest {
    private static final String WEB = serviceName("default", "web");

    private final ResourceStore store = new ResourceStore();
    private final ExecutorService executor = Executors.newFixedThreadPool(2);
    private final AdsService ads = new AdsService(store, new SimpleMeterRegistry(), executor);
    private XdsServer server;
    private ManagedChannel channel;

    @BeforeEach
    void start() {
        store.commit(List.of(service("default", "web", "10.96.0.10"), workload("default", "web-0", "10.0.0.1", "n1", WEB)),
                Map.of(), System.nanoTime());
        server = new XdsServer(XdsServer.Settings.defaults().withBindAddress("127.0.0.1").withPort(0), ads,
                new IndexService(store)).start();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    }

    @AfterEach
    void stop() throws InterruptedException {
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
        server.close();
        executor.shutdownNow();
    }

    @Test
    void deltaWildcardOverNetty() {
        try (DeltaClient c = new DeltaClient(channel, "ztunnel~127.0.0.2~z.istio-system~istio-system.svc.cluster.local",
                false)) {
            assertThat(names(c.wildcard(ADDRESS).nextAcked())).containsExactlyInAnyOrder(WEB, podName("default", "web-0"));
            AdsHarness.await("the client is listed", () -> ads.clients().size() == 1);
            assertThat(ads.clients().getFirst().peer()).startsWith("127.0.0.1:");

            store.commit(List.of(workload("default", "web-1", "10.0.0.2", "n1", WEB)), Map.of(), System.nanoTime());
            assertThat(names(c.nextAcked())).containsExactly(podName("default", "web-1"));
        }
    }

    @Test
    void closeAsksClientsToReconnect() {
        DeltaClient c = new DeltaClient(channel, "agent", false);
        c.wildcard(ADDRESS).nextAcked();
        server.close();
        Status status = c.awaitClosed();
        assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    }

    @Test
    void indexFindsByNameAndAliasAndExplainsMisses() {
        IndexGrpc.IndexBlockingStub index = IndexGrpc.newBlockingStub(channel);
        Address byAlias = index.getAddress(GetRequest.newBuilder().setName("/10.0.0.1").build());
        assertThat(byAlias.getWorkload().getUid()).isEqualTo(podName("default", "web-0"));
        assertThat(index.getAddress(GetRequest.newBuilder().setName(WEB).build()).getService().getName()).isEqualTo("web");

        assertThatThrownBy(() -> index.getAddress(GetRequest.newBuilder().setName("/10.9.9.9").build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
                    assertThat(e.getStatus().getDescription()).contains("'/10.9.9.9'").contains("Kubernetes//Pod/");
                });
        assertThatThrownBy(() -> index.getAuthorization(GetRequest.newBuilder().setName("default/nope").build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
                    assertThat(e.getStatus().getDescription()).contains("'default/nope'").contains("<namespace>/<policy name>");
                });
    }

    @Test
    void reflectionV1ListsAdsAndResolvesTheIstioMessages() throws Exception {
        List<ServerReflectionResponse> list = reflect(ServerReflectionRequest.newBuilder().setListServices("*").build());
        assertThat(list.getFirst().getListServicesResponse().getServiceList()).extracting(ServiceResponse::getName)
                .contains("envoy.service.discovery.v3.AggregatedDiscoveryService", "mocket.v1.Index",
                        "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection");

        for (String symbol : List.of("istio.workload.Address", "istio.security.Authorization")) {
            ServerReflectionResponse r = reflect(ServerReflectionRequest.newBuilder()
                    .setFileContainingSymbol(symbol).build()).getFirst();
            assertThat(r.hasErrorResponse()).as("reflection error for %s: %s", symbol, r.getErrorResponse()).isFalse();
            List<FileDescriptorProto> files = parse(r.getFileDescriptorResponse().getFileDescriptorProtoList());
            String simple = symbol.substring(symbol.lastIndexOf('.') + 1);
            assertThat(files.getFirst().getMessageTypeList()).extracting(DescriptorProto::getName).contains(simple);
        }
    }

    @Test
    void reflectionV1alphaListsAds() throws Exception {
        BlockingQueue<io.grpc.reflection.v1alpha.ServerReflectionResponse> out = new LinkedBlockingQueue<>();
        StreamObserver<io.grpc.reflection.v1alpha.ServerReflectionRequest> req =
                io.grpc.reflection.v1alpha.ServerReflectionGrpc.newStub(channel).serverReflectionInfo(collect(out));
        req.onNext(io.grpc.reflection.v1alpha.ServerReflectionRequest.newBuilder().setListServices("*").build());
        req.onCompleted();
        io.grpc.reflection.v1alpha.ServerReflectionResponse r = out.poll(10, TimeUnit.SECONDS);
        assertThat(r).as("v1alpha reflection answered").isNotNull();
        assertThat(r.getListServicesResponse().getServiceList())
                .extracting(io.grpc.reflection.v1alpha.ServiceResponse::getName)
                .contains("envoy.service.discovery.v3.AggregatedDiscoveryService");
    }

    private List<ServerReflectionResponse> reflect(ServerReflectionRequest request) throws InterruptedException {
        BlockingQueue<ServerReflectionResponse> out = new LinkedBlockingQueue<>();
        StreamObserver<ServerReflectionRequest> req = ServerReflectionGrpc.newStub(channel).serverReflectionInfo(collect(out));
        req.onNext(request);
        req.onCompleted();
        ServerReflectionResponse r = out.poll(10, TimeUnit.SECONDS);
        assertThat(r).as("reflection answered %s", request).isNotNull();
        return List.of(r);
    }

    private static List<FileDescriptorProto> parse(List<ByteString> files) throws InvalidProtocolBufferException {
        List<FileDescriptorProto> out = new java.util.ArrayList<>();
        for (ByteString b : files) {
            out.add(FileDescriptorProto.parseFrom(b));
        }
        return out;
    }

    private static <T> StreamObserver<T> collect(BlockingQueue<T> out) {
        return new StreamObserver<>() {
            @Override
            public void onNext(T value) {
                out.add(value);
            }

            @Override
            public void onError(Throwable t) {
            }

            @Override
            public void onCompleted() {
            }
        };
    }
}
