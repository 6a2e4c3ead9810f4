package io.mocket.bpf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The byte form of every key and value, independent of the kernel. */
class CodecTest {

    @Test
    void ipv4FrontendKeyIsMappedAndPortIsNetworkOrder() throws Exception {
        byte[] bytes = FrontendKey.CODEC.toBytes(
                new FrontendKey(InetAddress.getByName("198.51.100.10"), 80, L4Protocol.TCP));
        assertEquals("00000000000000000000ffffc633640a" + "0050" + "06" + "00", HexFormat.of().formatHex(bytes));
    }

    @Test
    void ipv6AddressesAreStoredAsIs() throws Exception {
        byte[] bytes = BackendValue.CODEC.toBytes(new BackendValue(InetAddress.getByName("2001:db8::1"), true));
        assertEquals("20010db8000000000000000000000001" + "01000000", HexFormat.of().formatHex(bytes));
    }

    @Test
    void everyRecordSurvivesARoundTrip() throws Exception {
        InetAddress v4 = InetAddress.getByName("192.0.2.7");
        InetAddress v6 = InetAddress.getByName("2001:db8::7");
        roundTrip(FrontendKey.CODEC, new FrontendKey(v6, 53, L4Protocol.UDP));
        roundTrip(FrontendValue.CODEC, new FrontendValue(42));
        roundTrip(ServiceKey.CODEC, new ServiceKey(-7)); // ids are unsigned 32-bit in C
        roundTrip(ServiceValue.CODEC, new ServiceValue(3, List.of(2, 0, 1, 0, 0, 0, 9), LbMode.FAILOVER,
                HealthPolicy.ALLOW_ALL));
        roundTrip(EndpointKey.CODEC, new EndpointKey(42, 3, 6, 8));
        roundTrip(EndpointValue.CODEC, new EndpointValue(5, 65535));
        roundTrip(EndpointValue.CODEC, new EndpointValue(5, 0));
        roundTrip(BackendKey.CODEC, new BackendKey(5));
        roundTrip(BackendValue.CODEC, new BackendValue(v4, false));
        roundTrip(ReverseNatKey.CODEC, new ReverseNatKey(-1L, v4, 8080));
        roundTrip(ReverseNatValue.CODEC, new ReverseNatValue(v6, 80));
        roundTrip(ConnectionKey.CODEC, new ConnectionKey(ConnectionKey.Direction.PASSIVE, 0, v4, v4));
        roundTrip(ConnectionKey.CODEC, new ConnectionKey(ConnectionKey.Direction.ACTIVE, -3, v6, v4));
        roundTrip(ConnectionTotals.CODEC, new ConnectionTotals(1, 2, 3, -4));
        roundTrip(SocketKey.CODEC, new SocketKey(17));
        roundTrip(SocketState.CODEC, new SocketState(new InetSocketAddress(v4, 80), new InetSocketAddress(v4, 8080),
                42, 1));
    }

    @Test
    void perCpuValuesAreReadAsTheSumOfEveryCpusCopy() {
        BpfCodec<ConnectionTotals> threeCpus = PerCpu.summing(ConnectionTotals.CODEC, 3, ConnectionTotals::plus);
        assertEquals(3 * 32, threeCpus.byteSize());
        byte[] bytes = new byte[3 * 32];
        for (int cpu = 0; cpu < 3; cpu++) {
            byte[] one = ConnectionTotals.CODEC.toBytes(new ConnectionTotals(cpu + 1, cpu, 10L * cpu, 100));
            System.arraycopy(one, 0, bytes, cpu * 32, 32);
        }
        assertEquals(new ConnectionTotals(6, 3, 30, 300), threeCpus.fromBytes(bytes));
        // Written values go to CPU 0's copy, the others are zero, so reading back gives the value.
        ConnectionTotals v = new ConnectionTotals(5, 4, 3, 2);
        assertEquals(v, threeCpus.fromBytes(threeCpus.toBytes(v)));

        // A 4-byte value takes 8 per CPU: the kernel rounds each copy up to 8 bytes.
        assertEquals(16, PerCpu.summing(SocketKey.CODEC, 2, (a, b) -> a).byteSize());
        assertEquals(4, PerCpu.parseCpuList("0-3"));
        assertEquals(6, PerCpu.parseCpuList("0,2-5"));
        assertEquals(1, PerCpu.parseCpuList("0"));
        assertThrows(IllegalArgumentException.class, () -> PerCpu.parseCpuList("x"));
    }

    @Test
    void mappedAddressesDecodeAsIpv4() throws Exception {
        BackendValue decoded = BackendValue.CODEC.fromBytes(
                BackendValue.CODEC.toBytes(new BackendValue(InetAddress.getByName("192.0.2.7"), true)));
        assertInstanceOf(Inet4Address.class, decoded.address());
    }

    @Test
    void invalidValuesAreRejectedBeforeTheyReachTheKernel() {
        assertThrows(IllegalArgumentException.class, () -> new ServiceKey(0));
        assertThrows(IllegalArgumentException.class,
                () -> new ServiceValue(1, List.of(1, 2), LbMode.STRICT, HealthPolicy.ONLY_HEALTHY));
        assertThrows(IllegalArgumentException.class, () -> new EndpointKey(1, 1, 7, 0));
        assertThrows(IllegalArgumentException.class, () -> new EndpointValue(1, 70000));
        assertThrows(IllegalArgumentException.class,
                () -> new FrontendKey(InetAddress.getLoopbackAddress(), 0, L4Protocol.TCP));
    }

    private static <T> void roundTrip(BpfCodec<T> codec, T value) {
        byte[] bytes = codec.toBytes(value);
        assertEquals(codec.byteSize(), bytes.length);
        assertEquals(value, codec.fromBytes(bytes));
        assertArrayEquals(bytes, codec.toBytes(codec.fromBytes(bytes)));
    }
}
