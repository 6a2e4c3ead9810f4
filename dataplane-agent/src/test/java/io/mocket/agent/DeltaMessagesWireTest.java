package io.mocket.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.mocket.api.xds.DeltaDiscoveryRequest;
import io.mocket.api.xds.DeltaDiscoveryResponse;
import io.mocket.api.xds.Node;
import io.mocket.api.xds.Status;
import org.junit.jupiter.api.Test;

/**
 * The agent's own delta xDS messages ({@code mocket/xds/v1/delta.proto}) against Envoy's generated ones (test
 * scope only): every field the agent uses has Envoy's number and type, and the method is Envoy's.
 */
class DeltaMessagesWireTest {

    @Test
    void requestReadsAsEnvoysWithEveryField() throws Exception {
        DeltaDiscoveryRequest ours = DeltaDiscoveryRequest.newBuilder()
                .setNode(Node.newBuilder().setId("ztunnel~10.0.0.1~a.ns~ns.svc.cluster.local").setCluster("c")
                        .setMetadata(Struct.newBuilder().putFields("NODE_NAME",
                                Value.newBuilder().setStringValue("node-1").build())))
                .setTypeUrl("type.googleapis.com/istio.workload.Address")
                .addResourceNamesSubscribe("*").addResourceNamesUnsubscribe("gone")
                .putInitialResourceVersions("a", "v1")
                .setResponseNonce("7.42")
                .setErrorDetail(Status.newBuilder().setCode(3).setMessage("workload w: bad address")
                        .addDetails(Any.newBuilder().setTypeUrl("x/y").setValue(ByteString.copyFromUtf8("z"))))
                .build();

        var envoy = io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest.parseFrom(ours.toByteString());

        assertTrue(envoy.getUnknownFields().asMap().isEmpty(), "no field lands in Envoy's unknown fields");
        assertEquals("ztunnel~10.0.0.1~a.ns~ns.svc.cluster.local", envoy.getNode().getId());
        assertEquals("c", envoy.getNode().getCluster());
        assertEquals("node-1", envoy.getNode().getMetadata().getFieldsOrThrow("NODE_NAME").getStringValue());
        assertEquals("type.googleapis.com/istio.workload.Address", envoy.getTypeUrl());
        assertEquals("*", envoy.getResourceNamesSubscribe(0));
        assertEquals("gone", envoy.getResourceNamesUnsubscribe(0));
        assertEquals("v1", envoy.getInitialResourceVersionsOrThrow("a"));
        assertEquals("7.42", envoy.getResponseNonce());
        assertEquals(3, envoy.getErrorDetail().getCode());
        assertEquals("workload w: bad address", envoy.getErrorDetail().getMessage());
        assertEquals("x/y", envoy.getErrorDetail().getDetails(0).getTypeUrl());
        assertEquals(ours.toByteString(), envoy.toByteString(), "and back to the same bytes");
    }

    @Test
    void responseFromEnvoysReadsWithEveryFieldTheAgentUses() throws Exception {
        var envoy = io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse.newBuilder()
                .setSystemVersionInfo("sys")
                .addResources(io.envoyproxy.envoy.service.discovery.v3.Resource.newBuilder().setName("ns/pod")
                        .setVersion("v3").addAliases("alias")
                        .setResource(Any.newBuilder().setTypeUrl("type.googleapis.com/istio.workload.Address")
                                .setValue(ByteString.copyFromUtf8("payload"))))
                .setTypeUrl("type.googleapis.com/istio.workload.Address")
                .setNonce("7.43")
                .addRemovedResources("ns/old")
                .build();

        DeltaDiscoveryResponse ours = DeltaDiscoveryResponse.parseFrom(envoy.toByteString());

        assertEquals("sys", ours.getSystemVersionInfo());
        assertEquals("ns/pod", ours.getResources(0).getName());
        assertEquals("v3", ours.getResources(0).getVersion());
        assertEquals("alias", ours.getResources(0).getAliases(0));
        assertEquals("type.googleapis.com/istio.workload.Address", ours.getResources(0).getResource().getTypeUrl());
        assertEquals(ByteString.copyFromUtf8("payload"), ours.getResources(0).getResource().getValue());
        assertEquals("type.googleapis.com/istio.workload.Address", ours.getTypeUrl());
        assertEquals("7.43", ours.getNonce());
        assertEquals("ns/old", ours.getRemovedResources(0));
    }

    @Test
    void theMethodIsEnvoysDeltaAds() {
        assertEquals("/" + AggregatedDiscoveryServiceGrpc.getDeltaAggregatedResourcesMethod().getFullMethodName(),
                XdsClient.DELTA_ADS_PATH);
        assertEquals(io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING,
                AggregatedDiscoveryServiceGrpc.getDeltaAggregatedResourcesMethod().getType());
    }
}
