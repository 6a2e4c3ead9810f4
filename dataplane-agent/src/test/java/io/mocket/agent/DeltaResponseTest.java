package io.mocket.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.mocket.api.xds.DeltaDiscoveryResponse;
import io.mocket.api.xds.Resource;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The agent's own reading of a delta response gives what the generated parser gives, on odd encodings too. */
class DeltaResponseTest {

    private static final String ADDRESS = ResourceKind.ADDRESS.typeUrl();

    private static Resource resource(String name, String version, String typeUrl, String payload) {
        return Resource.newBuilder().setName(name).setVersion(version)
                .setResource(Any.newBuilder().setTypeUrl(typeUrl).setValue(ByteString.copyFromUtf8(payload))).build();
    }

    /** Every field the agent reads, as the generated parser reads the same bytes. */
    private static void assertSame(byte[] bytes) throws InvalidProtocolBufferException {
        DeltaDiscoveryResponse reference = DeltaDiscoveryResponse.parseFrom(bytes);
        DeltaResponse read = DeltaResponse.parse(bytes);
        assertEquals(reference.getTypeUrl(), read.typeUrl());
        assertEquals(reference.getNonce(), read.nonce());
        assertEquals(reference.getRemovedResourcesList(), read.removedResources());
        assertEquals(reference.getResourcesCount(), read.resourceCount());
        List<String> names = new ArrayList<>();
        for (int i = 0; i < read.resourceCount(); i++) {
            Resource r = reference.getResources(i);
            names.add(r.getName());
            assertEquals(r.getName(), read.name(i), "name of " + i);
            assertEquals(r.getVersion(), read.version(i), "version of " + i);
            assertEquals(r.hasResource(), read.hasPayload(i), "payload present in " + i);
            assertEquals(r.getResource().getTypeUrlBytes(), read.payloadTypeUrl(i), "type URL of " + i);
            assertEquals(r.getResource().getValue(), read.payload(i), "payload of " + i);
        }
        assertEquals(names, read.names());
    }

    @Test
    void readsAResponseAsTheGeneratedParserDoes() throws Exception {
        DeltaDiscoveryResponse m = DeltaDiscoveryResponse.newBuilder()
                .setSystemVersionInfo("sv").setTypeUrl(ADDRESS).setNonce("n-7")
                .addResources(resource("Kubernetes//Pod/default/web-0", "v1", ADDRESS, "payload-0"))
                .addResources(resource("default/web.default.svc.cluster.local", "v2", "", "payload-1"))
                .addResources(Resource.newBuilder().setName("no-payload").setVersion("v3"))
                .addResources(Resource.newBuilder().setName("empty-payload").setResource(Any.getDefaultInstance()))
                .addRemovedResources("gone-1").addRemovedResources("gone-2")
                .build();
        assertSame(m.toByteArray());
        DeltaResponse read = DeltaResponse.of(m);
        assertEquals(ByteString.copyFromUtf8("payload-0"), read.payload(0));
        assertEquals(ResourceKind.ADDRESS.typeUrlBytes(), read.payloadTypeUrl(0));
        assertEquals(List.of("Kubernetes//Pod/default/web-0", "default/web.default.svc.cluster.local", "no-payload",
                "empty-payload"), read.names());
        assertSame(DeltaDiscoveryResponse.getDefaultInstance().toByteArray());
    }

    @Test
    void mergesAndSkipsAsTheGeneratedParserDoes() throws Exception {
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        CodedOutputStream out = CodedOutputStream.newInstance(raw);
        out.writeString(5, "first-nonce");
        // A resource whose singular fields are sent twice, whose Any is sent twice (merged field by field), with
        // an unknown field and a known field number of another wire type.
        ByteArrayOutputStream res = new ByteArrayOutputStream();
        CodedOutputStream r = CodedOutputStream.newInstance(res);
        r.writeString(3, "old-name");
        r.writeString(1, "v-old");
        r.writeBytes(2, Any.newBuilder().setTypeUrl("t/old").setValue(ByteString.copyFromUtf8("first")).build()
                .toByteString());
        r.writeUInt64(3, 42); // name with a varint wire type: an unknown field to the generated parser
        r.writeString(99, "unknown");
        r.writeBytes(2, Any.newBuilder().setValue(ByteString.copyFromUtf8("second")).build().toByteString());
        r.writeString(3, "new-name");
        r.flush();
        out.writeBytes(2, ByteString.copyFrom(res.toByteArray()));
        out.writeString(6, "removed-a");
        out.writeFixed32(7, 7); // unknown
        out.writeString(4, ADDRESS);
        out.writeString(5, "last-nonce");
        out.writeString(6, "removed-b");
        out.flush();
        byte[] bytes = raw.toByteArray();
        assertSame(bytes);
        DeltaResponse read = DeltaResponse.parse(bytes);
        assertEquals("new-name", read.name(0));
        assertEquals("t/old", read.payloadTypeUrl(0).toStringUtf8());
        assertEquals("second", read.payload(0).toStringUtf8());
        assertEquals("last-nonce", read.nonce());
    }

    @Test
    void refusesWhatTheGeneratedParserRefuses() throws IOException {
        byte[] good = DeltaDiscoveryResponse.newBuilder().setTypeUrl(ADDRESS).setNonce("n")
                .addResources(resource("a", "v1", ADDRESS, "payload")).build().toByteArray();
        List<byte[]> bad = new ArrayList<>();
        for (int cut = 1; cut < good.length; cut++) {
            bad.add(java.util.Arrays.copyOf(good, cut)); // truncated everywhere
        }
        bad.add(encoded(o -> o.writeByteArray(2, Resource.newBuilder().setName("a").build().toByteArray()),
                o -> o.writeTag(0, 0))); // tag 0
        bad.add(encoded(o -> o.writeTag(2, 3))); // a start-group with no end
        bad.add(encoded(o -> o.writeTag(9, 4))); // an end-group that matches nothing
        bad.add(encoded(o -> o.writeByteArray(5, new byte[] {(byte) 0xc3, 0x28}))); // nonce not UTF-8
        bad.add(encoded(o -> o.writeByteArray(2, encoded(r -> r.writeByteArray(3, new byte[] {(byte) 0xff})))));
        bad.add(encoded(o -> o.writeByteArray(2, encoded(r -> r.writeByteArray(2,
                encoded(a -> a.writeByteArray(1, new byte[] {(byte) 0xe2, (byte) 0x82}))))))); // type URL not UTF-8
        bad.add(encoded(o -> o.writeByteArray(2, encoded(r -> r.writeTag(2, 2), r -> r.writeUInt32NoTag(50)))));
        for (byte[] b : bad) {
            boolean generatedFails;
            try {
                DeltaDiscoveryResponse.parseFrom(b);
                generatedFails = false;
            } catch (InvalidProtocolBufferException e) {
                generatedFails = true;
            }
            if (generatedFails) {
                assertThrows(InvalidProtocolBufferException.class, () -> DeltaResponse.parse(b),
                        () -> "accepted " + java.util.HexFormat.of().formatHex(b));
            } else {
                assertSame(b);
            }
        }
    }

    private interface Writer {
        void write(CodedOutputStream out) throws IOException;
    }

    private static byte[] encoded(Writer... writers) throws IOException {
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        CodedOutputStream out = CodedOutputStream.newInstance(raw);
        for (Writer w : writers) {
            w.write(out);
        }
        out.flush();
        return raw.toByteArray();
    }
}
