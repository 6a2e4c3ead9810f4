package io.mocket.agent;

import static io.mocket.agent.Mesh.member;
import static io.mocket.agent.Mesh.pod;
import static io.mocket.agent.Mesh.port;
import static io.mocket.agent.Mesh.serviceName;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UInt32Value;
import io.mocket.api.xds.Resource;
import io.mocket.api.istio.workload.Address;
import io.mocket.api.istio.workload.ApplicationTunnel;
import io.mocket.api.istio.workload.Extension;
import io.mocket.api.istio.workload.GatewayAddress;
import io.mocket.api.istio.workload.Locality;
import io.mocket.api.istio.workload.NamespacedHostname;
import io.mocket.api.istio.workload.Port;
import io.mocket.api.istio.workload.PortList;
import io.mocket.api.istio.workload.Workload;
import io.mocket.api.istio.workload.WorkloadStatus;
import java.io.ByteArrayOutputStream;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The direct reader gives what the generated parser and {@link KnownWorkload#of} give, or steps aside. */
class WorkloadReaderTest {

    private static final String NAME = "Kubernetes//Pod/default/web-1";

    private static ByteString address(Workload w) {
        return Address.newBuilder().setWorkload(w).build().toByteString();
    }

    /** What the generated parser makes of the same bytes. */
    private static KnownWorkload reference(ByteString payload) throws InvalidProtocolBufferException {
        return KnownWorkload.of(NAME, "v1", Address.parseFrom(payload).getWorkload(), new Interner());
    }

    private static KnownWorkload read(ByteString payload) throws InvalidResourceException {
        return WorkloadReader.read(NAME, "v1", payload, new Interner(), new java.util.HashMap<>());
    }

    private static Workload full() {
        Workload.Builder w = member(pod("default", "web-1", "node-1", "r1/z1", List.of("10.0.0.1", "fd00::1")),
                serviceName("default", "web"), port(80, 8080), port(443, 0));
        member(w, serviceName("other", "api"));
        return w.setUid(NAME).setHostname("web-1.example").setTunnelProtocol(io.mocket.api.istio.workload
                        .TunnelProtocol.HBONE).setTrustDomain("cluster.local").setServiceAccount("web")
                .setWaypoint(GatewayAddress.newBuilder().setHostname(NamespacedHostname.newBuilder()
                        .setNamespace("default").setHostname("waypoint")).setHboneMtlsPort(15008))
                .setCanonicalName("web").setCanonicalRevision("v1").setWorkloadName("web").setNativeTunnel(true)
                .setApplicationTunnel(ApplicationTunnel.newBuilder().setPort(15088))
                .addAuthorizationPolicies("default/allow").setStatus(WorkloadStatus.UNHEALTHY).setClusterId("c1")
                .setLocality(Locality.newBuilder().setRegion("r1").setZone("z1").setSubzone("s1"))
                .addExtensions(Extension.newBuilder().setName("mocket.io/mtls-lite").setConfig(Any.getDefaultInstance()))
                .setCapacity(UInt32Value.of(3)).setNetwork("net-1").build();
    }

    @Test
    void readsWhatTheGeneratedParserReads() throws Exception {
        for (Workload w : List.of(full(), pod("default", "web-2", "node-2", "r1/z2", List.of("10.0.0.2")).build(),
                Workload.newBuilder().setUid(NAME).build(),
                full().toBuilder().clearLocality().setStatus(WorkloadStatus.HEALTHY).build())) {
            ByteString payload = address(w);
            KnownWorkload direct = read(payload);
            assertNotNull(direct, w.toString());
            assertEquals(reference(payload), direct);
        }
    }

    @Test
    void localitiesSeenBeforeAreTakenFromTheDecodersCache() throws Exception {
        Interner pool = new Interner();
        java.util.Map<ByteString, Locality> localities = new java.util.HashMap<>();
        KnownWorkload z1 = WorkloadReader.read(NAME, "v1", address(pod("default", "a", "n", "r1/z1",
                List.of("10.0.0.1")).build()), pool, localities);
        KnownWorkload z1Again = WorkloadReader.read(NAME, "v1", address(pod("default", "b", "n", "r1/z1",
                List.of("10.0.0.2")).build()), pool, localities);
        KnownWorkload z2 = WorkloadReader.read(NAME, "v1", address(pod("default", "c", "n", "r1/z2",
                List.of("10.0.0.3")).build()), pool, localities);
        assertTrue(z1.locality() == z1Again.locality(), "the same interned message");
        assertEquals("z2", z2.locality().getZone());
        assertEquals(2, localities.size());
    }

    @Test
    void aMapKeySentTwiceKeepsTheLastValueAsTheGeneratedParserDoes() throws Exception {
        // Two encodings of a workload one after the other are one merged workload: "default/web" comes twice.
        Workload first = full();
        Workload second = Workload.newBuilder().putServices(serviceName("default", "web"), PortList.newBuilder()
                .addPorts(Port.newBuilder().setServicePort(80).setTargetPort(9090)).build()).build();
        ByteArrayOutputStream merged = new ByteArrayOutputStream();
        first.writeTo(merged);
        second.writeTo(merged);
        ByteString workload = ByteString.copyFrom(merged.toByteArray());
        ByteString payload = ByteString.copyFrom(new byte[]{(byte) (1 << 3 | 2)})
                .concat(varint(workload.size())).concat(workload);
        KnownWorkload direct = read(payload);
        assertNotNull(direct);
        assertEquals(reference(payload), direct);
        assertEquals(List.of(new KnownWorkload.KnownPort(80, 9090)),
                direct.services().get(serviceName("default", "web")));
    }

    private static ByteString varint(int v) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while ((v & ~0x7f) != 0) {
            out.write((v & 0x7f) | 0x80);
            v >>>= 7;
        }
        out.write(v);
        return ByteString.copyFrom(out.toByteArray());
    }

    @Test
    void stepsAsideForWhatItDoesNotReadExactly() throws Exception {
        ByteString workload = address(full());
        assertNull(read(workload.concat(workload)), "a workload sent twice is merged by the generated code");
        assertNull(read(Address.newBuilder().setService(Mesh.service("default", "web", List.of("10.96.0.1"),
                port(80, 8080))).build().toByteString()), "a service");
        assertNull(read(workload.substring(0, workload.size() - 3)), "truncated");
        assertNull(read(ByteString.EMPTY), "neither workload nor service");
        assertNull(read(badUtf8Uid()), "invalid UTF-8");
    }

    /** The decoder's answers for bad input are the same whichever parser reads it. */
    @Test
    void badWorkloadsAreRefusedWithTheDecodersReasons() {
        ResourceDecoder decoder = new ResourceDecoder(ResourceDecoder.DEFAULT_MAX_RESOURCE_BYTES);
        Workload good = full();
        assertRefused(decoder, good.toBuilder().clearUid().build(), "workload has no uid");
        assertRefused(decoder, good.toBuilder().addAddresses(ByteString.copyFrom(new byte[5])).build(),
                "workload address has 5 bytes; an IPv4 address has 4, an IPv6 address 16");
        assertRefused(decoder, good.toBuilder().putServices("no-slash", PortList.getDefaultInstance()).build(),
                "service key 'no-slash' is not '<namespace>/<hostname>'");
        assertRefused(decoder, good.toBuilder().putServices("default/x", PortList.newBuilder().addPorts(Port
                .newBuilder().setServicePort(80).setTargetPort(70_000)).build()).build(), "80->70000 is out of range");
        InvalidResourceException truncated = assertThrows(InvalidResourceException.class, () -> Mesh.decodeOne(decoder,
                ResourceKind.ADDRESS, resource(address(good).substring(0, 20))));
        assertTrue(truncated.problem().startsWith("payload is not a valid " + ResourceKind.ADDRESS.typeUrl()),
                truncated.problem());
        InvalidResourceException utf8 = assertThrows(InvalidResourceException.class, () -> Mesh.decodeOne(decoder,
                ResourceKind.ADDRESS, resource(badUtf8Uid())));
        assertTrue(utf8.problem().contains("UTF-8"), utf8.problem());
    }

    @Test
    void theDecoderGivesTheCompactRecord() throws Exception {
        ResourceDecoder decoder = new ResourceDecoder(ResourceDecoder.DEFAULT_MAX_RESOURCE_BYTES);
        NodeState.Entry<?> e = Mesh.decodeOne(decoder, ResourceKind.ADDRESS, resource(address(full())));
        KnownWorkload w = assertInstanceOf(KnownWorkload.class, e.value());
        assertEquals(reference(address(full())), w);
    }

    /** An Address whose workload's uid (field 20) is not UTF-8: built by hand, the builders refuse it. */
    private static ByteString badUtf8Uid() {
        byte[] workload = {(byte) 0xa2, 0x01, 2, 'a', (byte) 0xff};
        return ByteString.copyFrom(new byte[]{(byte) (1 << 3 | 2), (byte) workload.length})
                .concat(ByteString.copyFrom(workload));
    }

    private static Resource resource(ByteString payload) {
        return Resource.newBuilder().setName(NAME).setVersion("v1").setResource(Any.newBuilder()
                .setTypeUrl(ResourceKind.ADDRESS.typeUrl()).setValue(payload)).build();
    }

    private static void assertRefused(ResourceDecoder decoder, Workload w, String problem) {
        InvalidResourceException e = assertThrows(InvalidResourceException.class,
                () -> Mesh.decodeOne(decoder, ResourceKind.ADDRESS, resource(address(w))));
        assertEquals(NAME, e.resourceName());
        assertTrue(e.problem().contains(problem), e.problem());
    }
}
