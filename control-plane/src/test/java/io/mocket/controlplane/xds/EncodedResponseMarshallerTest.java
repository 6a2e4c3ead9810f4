package io.mocket.controlplane.xds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

class EncodedResponseMarshallerTest {
    private final EncodedResponseMarshaller marshaller = new EncodedResponseMarshaller(
            AggregatedDiscoveryServiceGrpc.getDeltaAggregatedResourcesMethod().getResponseMarshaller());
    private final DeltaDiscoveryResponse message = DeltaDiscoveryResponse.newBuilder()
            .setTypeUrl("type.googleapis.com/istio.workload.Address").setNonce("0.7").setSystemVersionInfo("7")
            .addRemovedResources("Kubernetes//Pod/default/web-0").build();
    private final SharedDeltaResponses.Encoded encoded =
            new SharedDeltaResponses.Encoded(message.toByteArray(), Nonce.parse("0.7"), "0.7");

    @Test
    void preEncodedBytesAreDrainedAsTheyAre_andEveryCallReadsItsOwnStream() throws Exception {
        InputStream one = marshaller.stream(encoded);
        InputStream two = marshaller.stream(encoded);
        assertThat(one).isInstanceOf(KnownLength.class).isInstanceOf(Drainable.class);
        assertThat(one.available()).isEqualTo(encoded.bytes().length);

        ByteArrayOutputStream drained = new ByteArrayOutputStream();
        assertThat(((Drainable) one).drainTo(drained)).isEqualTo(encoded.bytes().length);
        assertThat(drained.toByteArray()).isEqualTo(encoded.bytes());
        assertThat(one.available()).isZero();
        assertThat(one.read()).isEqualTo(-1);

        // Read in small pieces, as a transport without Drainable support would.
        ByteArrayOutputStream read = new ByteArrayOutputStream();
        byte[] buf = new byte[3];
        for (int n; (n = two.read(buf, 0, buf.length)) > 0; ) {
            read.write(buf, 0, n);
        }
        assertThat(read.toByteArray()).isEqualTo(encoded.bytes());
        assertThat(DeltaDiscoveryResponse.parseFrom(read.toByteArray())).isEqualTo(message);
    }

    @Test
    void messagesAreSerializedAsUsual() throws Exception {
        assertThat(marshaller.parse(marshaller.stream(message))).isEqualTo(message);
        assertThat(marshaller.stream(message).readAllBytes()).isEqualTo(message.toByteArray());
    }

    @Test
    void anythingElseIsRefusedByName() {
        assertThatThrownBy(() -> marshaller.stream("text"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("java.lang.String");
    }
}
