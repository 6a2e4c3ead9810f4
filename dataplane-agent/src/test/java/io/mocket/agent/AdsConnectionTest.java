package io.mocket.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The agent's HTTP/2 transport ({@link AdsConnection}) and header compression ({@link Hpack}).
 *
 * <p>Header blocks are checked against the JDK's own HPACK implementation (the one behind
 * {@code java.net.http.HttpClient}, reached through {@code --add-opens} in the test JVM only): an independent
 * encoder and decoder, with Huffman coding and a dynamic table. The connection is checked against a peer in this
 * test that speaks HTTP/2 frame by frame on loopback, so that every frame the agent must cope with (split and padded
 * DATA, CONTINUATION, PING, GOAWAY, RST_STREAM, small flow-control windows, error trailers) is sent exactly; the
 * exchange with a real gRPC server (grpc-java, the control plane's) is {@link XdsClientTest}.
 */
class AdsConnectionTest {
    private static final String PATH = XdsClient.DELTA_ADS_PATH;

    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closeables) {
            c.close();
        }
        timer.shutdownNow();
    }

    // ---- HPACK ----

    @Test
    void huffmanCodedStringsOfTheJdkEncoderDecodeForEverySymbol() throws Exception {
        JdkHpack jdk = new JdkHpack(0);
        for (int symbol = 0; symbol < 256; symbol++) {
            String s = String.valueOf((char) symbol).repeat(1 + symbol % 5) + "x";
            assertEquals(List.of("n", s), decode(new Hpack.Decoder(4096, 1 << 16), jdk.literalHuffman("n", s)),
                    "symbol " + symbol);
        }
        Random random = new Random(7);
        for (int i = 0; i < 500; i++) {
            byte[] b = new byte[random.nextInt(40)];
            random.nextBytes(b);
            String s = new String(b, StandardCharsets.ISO_8859_1);
            assertEquals(List.of("grpc-message", s), decode(new Hpack.Decoder(4096, 1 << 16),
                    jdk.literalHuffman("grpc-message", s)));
        }
    }

    @Test
    void theDynamicTableIndexesNewestFirstAndEvictsTheOldest() throws Exception {
        // (The JDK's encoder keeps its table at 0 octets, so these blocks are written out by hand.)
        Hpack.Decoder decoder = new Hpack.Decoder(4096, 1 << 16);
        // A size update to 100 octets, then two literals with indexing of 34 octets each (name + value + 32).
        byte[] first = concat(new byte[]{0x3f, 0x45}, concat(withIndexing("a", "1"), withIndexing("b", "2")));
        assertEquals(List.of("a", "1", "b", "2"), decode(decoder, first));
        assertEquals(2, decoder.tableEntries());
        assertEquals(List.of("b", "2", "a", "1", ":status", "200"),
                decode(decoder, new byte[]{(byte) 0xbe, (byte) 0xbf, (byte) 0x88}));
        // A third entry makes 102 octets: the oldest ("a") goes.
        assertEquals(List.of("c", "3", "b", "2"), decode(decoder, concat(withIndexing("c", "3"), new byte[]{(byte) 0xbf})));
        assertEquals(2, decoder.tableEntries());
        Hpack.CompressionException e = assertThrows(Hpack.CompressionException.class,
                () -> decode(decoder, new byte[]{(byte) 0xc0}));
        assertTrue(e.getMessage().contains("index 64 beyond the 2 entries"), e.getMessage());
        // An entry larger than the whole table empties it and is not added, but is still a field.
        assertEquals(List.of("x", "y".repeat(100)), decode(decoder, withIndexing("x", "y".repeat(100))));
        assertEquals(0, decoder.tableEntries());
        // A literal with indexing whose name is a static entry's (content-type, 31).
        assertEquals(List.of("content-type", "application/grpc"),
                decode(decoder, concat(new byte[]{0x5f}, string("application/grpc"))));
        assertEquals(1, decoder.tableEntries());
    }

    private static byte[] withIndexing(String name, String value) {
        return concat(new byte[]{0x40}, concat(string(name), string(value)));
    }

    private static byte[] string(String s) {
        return concat(new byte[]{(byte) s.length()}, s.getBytes(StandardCharsets.ISO_8859_1));
    }

    @Test
    void theRequestHeaderBlockDecodesWithTheJdkDecoder() throws Exception {
        List<String> fields = List.of(":method", "POST", ":scheme", "http", ":path", PATH, ":authority", "cp:15110",
                "content-type", "application/grpc", "te", "trailers", "user-agent", "mocket-agent");
        byte[] block = Hpack.encode(fields.toArray(String[]::new));
        assertEquals(fields, JdkHpack.decode(block));
        assertEquals(fields, decode(new Hpack.Decoder(4096, 1 << 16), block));
        // Integers above a prefix take continuation octets: a 300-octet value.
        assertEquals(List.of("x-big", "a".repeat(300)), JdkHpack.decode(Hpack.encode("x-big", "a".repeat(300))));
    }

    @Test
    void malformedHeaderBlocksAreRefusedWithWhatIsWrong() throws Exception {
        JdkHpack jdk = new JdkHpack(0);
        byte[] huffman = jdk.literalHuffman("n", "abc");
        byte[][] bad = {
                {(byte) 0x80}, // indexed field 0
                {(byte) 0xbe}, // index 62: the dynamic table is empty
                {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0x7f}, // integer > 2^28
                {(byte) 0xff}, // integer cut off
                {0x00, 0x05, 'a', 'b'}, // string past the end
                {0x00, 0x01, 'n', (byte) 0x84, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff}, // Huffman EOS
                {0x00, 0x01, 'n', (byte) 0x81, 0x00}, // '0' (00000) then 000 padding: not all ones
                {0x3f, (byte) 0xe2, 0x1f}, // table size update to 4,096 + 30 + ... above the 4,096 allowed
                {(byte) 0x88, 0x20}, // size update after a field
                java.util.Arrays.copyOf(huffman, huffman.length - 1), // cut inside a string
        };
        for (byte[] b : bad) {
            Hpack.CompressionException e = assertThrows(Hpack.CompressionException.class,
                    () -> new Hpack.Decoder(4096, 1 << 16).decode(b, 0, b.length), java.util.HexFormat.of().formatHex(b));
            assertTrue(e.getMessage().length() > 10, e.getMessage());
        }
        byte[] big = Hpack.encode("x-a", "a".repeat(600), "x-b", "b".repeat(600));
        assertTrue(assertThrows(Hpack.CompressionException.class,
                () -> new Hpack.Decoder(4096, 1_000).decode(big, 0, big.length)).getMessage().contains("1000 octets"));
    }

    // ---- the connection ----

    @Test
    void messagesSplitPaddedAndBatchedAcrossFramesArriveWholeAndOkTrailersEndTheCall() throws Exception {
        Peer peer = peer();
        Events events = new Events();
        AdsConnection c = open(peer, events, 1 << 20);
        Peer.Conn s = peer.accept();
        s.handshake(16); // a 16-octet window for the request's DATA: it must wait for WINDOW_UPDATEs
        List<String> request = s.requestHeaders();
        assertEquals(List.of(":method", "POST", ":scheme", "http", ":path", PATH, ":authority",
                "127.0.0.1:" + peer.port(), "content-type", "application/grpc", "te", "trailers", "user-agent",
                "mocket-agent"), request);

        byte[] hello = "hello control plane, this is a request".getBytes(StandardCharsets.UTF_8);
        CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
            try {
                c.send(hello);
            } catch (AdsConnection.CallException e) {
                throw new RuntimeException(e);
            }
        });
        byte[] received = s.readRequestMessage(hello.length, 16);
        sent.get(5, TimeUnit.SECONDS);
        assertArrayEquals(hello, received);

        // Response headers in HEADERS + CONTINUATION, Huffman coded; a PING in between frames.
        s.headersInTwoFrames(List.of(":status", "200", "content-type", "application/grpc"), false);
        s.ping(new byte[]{1, 2, 3, 4, 5, 6, 7, 8});
        byte[] first = bytes(70_000, 1);
        byte[] second = bytes(3, 2);
        byte[] stream = concat(grpcFrame(first), grpcFrame(second));
        // Unequal DATA frames, some padded, the two messages' boundary inside one of them.
        int at = 0;
        int[] sizes = {1, 4, 2, 9_000, 16_000, 16_384, 16_000, 12_000}; // padded ones stay within 16,384
        for (int i = 0; at < stream.length; i++) {
            int n = Math.min(i < sizes.length ? sizes[i] : 16_000, stream.length - at);
            s.data(stream, at, n, i % 3 == 0 ? 7 : -1, false);
            at += n;
        }
        assertArrayEquals(new byte[]{1, 2, 3, 4, 5, 6, 7, 8}, s.awaitPingAck());
        s.trailers(List.of("grpc-status", "0"));
        events.awaitClosed();
        assertNull(events.failure);
        assertEquals(2, events.messages.size());
        assertArrayEquals(first, events.messages.get(0));
        assertArrayEquals(second, events.messages.get(1));
        assertTrue(c.isClosed());
    }

    @Test
    void aPushLargerThanTheReceiveWindowGetsWindowUpdates() throws Exception {
        Peer peer = peer();
        Events events = new Events();
        open(peer, events, 16 << 20);
        Peer.Conn s = peer.accept();
        s.handshake(65_535);
        s.requestHeaders();
        s.headers(List.of(":status", "200", "content-type", "application/grpc"), false);
        byte[] push = bytes(3 * AdsConnection.RECEIVE_WINDOW, 5);
        s.dataWithinWindows(grpcFrame(push), AdsConnection.RECEIVE_WINDOW);
        s.trailers(List.of("grpc-status", "0"));
        events.awaitClosed();
        assertNull(events.failure);
        assertArrayEquals(push, events.messages.getFirst());
    }

    @Test
    void errorTrailersAndHttpErrorsEndTheCallWithTheirStatus() throws Exception {
        AdsConnection.CallException e = endWith(s -> {
            s.headers(List.of(":status", "200", "content-type", "application/grpc"), false);
            s.trailers(List.of("grpc-status", "14", "grpc-message", "draining%3A bye %E2%9C%93"));
        });
        assertEquals(AdsConnection.UNAVAILABLE, e.code());
        assertTrue(e.getMessage().endsWith("draining: bye \u2713"), e.getMessage());

        e = endWith(s -> s.headers(List.of(":status", "200", "content-type", "application/grpc", "grpc-status", "12",
                "grpc-message", "unknown service"), true)); // trailers-only
        assertEquals(AdsConnection.UNIMPLEMENTED, e.code());
        assertTrue(e.getMessage().contains("unknown service"), e.getMessage());

        e = endWith(s -> s.headers(List.of(":status", "404", "content-type", "text/plain"), true));
        assertEquals(AdsConnection.UNIMPLEMENTED, e.code());
        assertTrue(e.getMessage().contains("HTTP status 404") && e.getMessage().contains("xDS port"), e.getMessage());

        e = endWith(s -> s.headers(List.of(":status", "200", "content-type", "text/html"), false));
        assertTrue(e.getMessage().contains("not gRPC"), e.getMessage());
    }

    @Test
    void goAwayResetOversizedAndCompressedMessagesEndTheCall() throws Exception {
        AdsConnection.CallException e = endWith(s -> s.frame(7, 0, 0, concat(new byte[8], "maintenance".getBytes())));
        assertEquals(AdsConnection.UNAVAILABLE, e.code());
        assertTrue(e.getMessage().contains("GOAWAY") && e.getMessage().contains("maintenance"), e.getMessage());

        e = endWith(s -> s.frame(3, 0, 1, new byte[]{0, 0, 0, 2}));
        assertTrue(e.getMessage().contains("reset the stream (HTTP/2 error 2)"), e.getMessage());

        e = endWith(s -> {
            s.headers(List.of(":status", "200", "content-type", "application/grpc"), false);
            s.frame(0, 0, 1, new byte[]{0, 0x7f, 0, 0, 0}); // a message of 2 GiB announced
        });
        assertEquals(AdsConnection.RESOURCE_EXHAUSTED, e.code());
        assertTrue(e.getMessage().contains("above the agent's limit of 1048576 bytes"), e.getMessage());

        e = endWith(s -> {
            s.headers(List.of(":status", "200", "content-type", "application/grpc"), false);
            s.frame(0, 0, 1, new byte[]{1, 0, 0, 0, 1, 9});
        });
        assertTrue(e.getMessage().contains("compressed"), e.getMessage());

        e = endWith(s -> s.frame(1, 0x4, 1, new byte[]{(byte) 0xbe})); // a header index the table does not have
        assertEquals(AdsConnection.INTERNAL, e.code());
        assertTrue(e.getMessage().contains("bad header block"), e.getMessage());
    }

    @Test
    void aServerThatIsNotHttp2IsAProtocolError() throws Exception {
        Peer peer = peer();
        Events events = new Events();
        open(peer, events, 1 << 20);
        Peer.Conn s = peer.accept();
        s.out.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        s.out.flush();
        events.awaitClosed();
        assertTrue(events.failure.getMessage().contains("protocol error")
                || events.failure.getMessage().contains("closed the connection"), events.failure.getMessage());
    }

    @Test
    void anUnansweredKeepalivePingDropsTheConnection() throws Exception {
        Peer peer = peer();
        Events events = new Events();
        AdsConnection c = AdsConnection.open(new AdsConnection.Target("127.0.0.1", peer.port()), PATH, events,
                1 << 20, Duration.ofSeconds(2), Duration.ofMillis(200), Duration.ofMillis(300), timer);
        closeables.add(c);
        Peer.Conn s = peer.accept();
        s.handshake(65_535);
        s.requestHeaders();
        assertEquals(6, s.nextFrameOfType(6).type()); // the keepalive PING after 200 ms of silence
        events.awaitClosed();
        assertEquals(AdsConnection.UNAVAILABLE, events.failure.code());
        assertTrue(events.failure.getMessage().contains("keepalive PING"), events.failure.getMessage());
    }

    @Test
    void theClientDropsAStreamWhoseResponseIsNotADeltaResponseAndReconnects() throws Exception {
        Peer peer = peer();
        NodeState state = new NodeState();
        XdsClient client = new XdsClient(new XdsClient.Settings("127.0.0.1:" + peer.port(),
                XdsClient.ztunnelNode("10.0.0.9", "mocket-agent-x1", "istio-system", "node-1", "Kubernetes", ""),
                Duration.ofMillis(20), Duration.ofMillis(50), ResourceDecoder.DEFAULT_MAX_RESOURCE_BYTES),
                state, XdsClient.DataPath.NONE, new AgentMetrics()).start();
        closeables.add(client);
        Peer.Conn s = peer.accept();
        s.handshake(65_535);
        s.requestHeaders();
        s.headers(List.of(":status", "200", "content-type", "application/grpc"), false);
        byte[] truncated = grpcFrame(new byte[]{0x12, 0x05, 0x1a}); // a resource field cut short
        s.data(truncated, 0, truncated.length, -1, false);
        Peer.Frame reset = s.nextFrameOfType(3);
        assertEquals(1, reset.stream());
        assertEquals(8, ByteBuffer.wrap(reset.payload()).getInt()); // CANCEL
        Peer.Conn again = peer.accept(); // the next stream, after the backoff
        again.handshake(65_535);
        assertEquals(PATH, again.requestHeaders().get(5));
        assertEquals(2, client.streamsOpened());
        assertEquals(0, state.snapshot().versions(ResourceKind.ADDRESS).size());
    }

    @Test
    void aRefusedConnectionAndBadTargetsSayWhatIsWrong() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        AdsConnection.CallException e = assertThrows(AdsConnection.CallException.class, () -> AdsConnection.open(
                new AdsConnection.Target("127.0.0.1", closedPort), PATH, new Events(), 1 << 20, Duration.ofSeconds(2),
                Duration.ofSeconds(30), Duration.ofSeconds(10), timer));
        assertEquals(AdsConnection.UNAVAILABLE, e.code());
        assertTrue(e.getMessage().contains("cannot connect to the control plane at 127.0.0.1:" + closedPort),
                e.getMessage());

        assertEquals(new AdsConnection.Target("cp.istio-system.svc", 15110),
                AdsConnection.Target.parse("dns:///cp.istio-system.svc:15110"));
        assertEquals(new AdsConnection.Target("fd00::1", 15110), AdsConnection.Target.parse("[fd00::1]:15110"));
        assertEquals("[fd00::1]:15110", AdsConnection.Target.parse("[fd00::1]:15110").authority());
        for (String bad : List.of("localhost", "localhost:", "localhost:0", "localhost:70000", ":15110", "fd00::1:15110",
                "host:port")) {
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
                    () -> AdsConnection.Target.parse(bad), bad);
            assertTrue(x.getMessage().contains("'" + bad + "' is not host:port"), x.getMessage());
        }
    }

    // ---- helpers ----

    private interface Script {
        void run(Peer.Conn s) throws Exception;
    }

    private AdsConnection.CallException endWith(Script script) throws Exception {
        Peer peer = peer();
        Events events = new Events();
        open(peer, events, 1 << 20);
        Peer.Conn s = peer.accept();
        s.handshake(65_535);
        s.requestHeaders();
        script.run(s);
        events.awaitClosed();
        assertTrue(events.failure != null, "the call should have failed");
        return events.failure;
    }

    private Peer peer() throws IOException {
        Peer p = new Peer();
        closeables.add(p);
        return p;
    }

    private AdsConnection open(Peer peer, Events events, int maxMessage) throws Exception {
        AdsConnection c = AdsConnection.open(new AdsConnection.Target("127.0.0.1", peer.port()), PATH, events,
                maxMessage, Duration.ofSeconds(2), Duration.ofSeconds(30), Duration.ofSeconds(10), timer);
        closeables.add(c);
        return c;
    }

    private static List<String> decode(Hpack.Decoder decoder, byte[] block) throws Hpack.CompressionException {
        return decoder.decode(block, 0, block.length);
    }

    private static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] grpcFrame(byte[] message) {
        byte[] b = new byte[5 + message.length];
        ByteBuffer.wrap(b).put((byte) 0).putInt(message.length).put(message);
        return b;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** What the connection told its listener. */
    private static final class Events implements AdsConnection.Listener {
        final List<byte[]> messages = new CopyOnWriteArrayList<>();
        final CompletableFuture<Void> closed = new CompletableFuture<>();
        volatile AdsConnection.CallException failure;
        int closes;

        @Override
        public void onMessage(byte[] message, long receivedNanos) {
            messages.add(message);
        }

        @Override
        public synchronized void onClose(AdsConnection.CallException failure) {
            closes++;
            this.failure = failure;
            closed.complete(null);
        }

        void awaitClosed() throws Exception {
            closed.get(10, TimeUnit.SECONDS);
            Thread.sleep(50);
            synchronized (this) {
                assertEquals(1, closes, "onClose once");
            }
        }
    }

    /** An HTTP/2 server on loopback, written frame by frame by each test. */
    private static final class Peer implements AutoCloseable {
        private final ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
        private final List<Socket> sockets = new CopyOnWriteArrayList<>();

        Peer() throws IOException {
            server.setSoTimeout(10_000);
        }

        int port() {
            return server.getLocalPort();
        }

        Conn accept() throws IOException {
            Socket s = server.accept();
            s.setSoTimeout(10_000);
            sockets.add(s);
            return new Conn(s);
        }

        @Override
        public void close() throws IOException {
            for (Socket s : sockets) {
                s.close();
            }
            server.close();
        }

        record Frame(int type, int flags, int stream, byte[] payload) {
        }

        static final class Conn {
            final DataInputStream in;
            final OutputStream out;
            private final JdkHpack encoder;
            private long sendWindow;
            private final List<Frame> held = new ArrayList<>();

            Conn(Socket s) throws IOException {
                try {
                    encoder = new JdkHpack(4096);
                } catch (Exception e) {
                    throw new IOException(e);
                }
                in = new DataInputStream(s.getInputStream());
                out = s.getOutputStream();
            }

            /** Reads the client preface and settings, sends ours (with this initial window) and ACKs theirs. */
            void handshake(int initialWindow) throws Exception {
                byte[] preface = new byte[24];
                in.readFully(preface);
                assertEquals("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", new String(preface, StandardCharsets.US_ASCII));
                Frame settings = read();
                assertEquals(4, settings.type());
                ByteBuffer ours = ByteBuffer.allocate(6).putShort((short) 4).putInt(initialWindow);
                frame(4, 0, 0, ours.array());
                frame(4, 1, 0, new byte[0]);
                sendWindow = initialWindow;
                // Once the client has ACKed our settings it sends within our window.
                while (true) {
                    Frame f = nextFrameOfType(4);
                    if ((f.flags() & 1) != 0) {
                        break;
                    }
                }
            }

            /** The request's HEADERS, decoded by the JDK; the connection WINDOW_UPDATE may come first. */
            List<String> requestHeaders() throws Exception {
                Frame f = nextFrameOfType(1);
                assertEquals(1, f.stream());
                assertEquals(0x4, f.flags() & 0x4);
                return JdkHpack.decode(f.payload());
            }

            /** Reads DATA of stream 1 until {@code length} octets of message arrived, opening the window by steps. */
            byte[] readRequestMessage(int length, int step) throws Exception {
                ByteArrayOutputStream got = new ByteArrayOutputStream();
                while (got.size() < 5 + length) {
                    Frame f = nextFrameOfType(0);
                    assertTrue(f.payload().length <= sendWindow, "DATA of " + f.payload().length
                            + " octets exceeds the window of " + sendWindow);
                    sendWindow -= f.payload().length;
                    got.writeBytes(f.payload());
                    if (sendWindow == 0) {
                        frame(8, 0, 1, ByteBuffer.allocate(4).putInt(step).array());
                        frame(8, 0, 0, ByteBuffer.allocate(4).putInt(step).array());
                        sendWindow += step;
                    }
                }
                byte[] all = got.toByteArray();
                assertEquals(length, ByteBuffer.wrap(all, 1, 4).getInt());
                return java.util.Arrays.copyOfRange(all, 5, all.length);
            }

            void headers(List<String> fields, boolean endStream) throws Exception {
                frame(1, 0x4 | (endStream ? 1 : 0), 1, encoder.blockHuffman(fields));
            }

            void headersInTwoFrames(List<String> fields, boolean endStream) throws Exception {
                byte[] block = encoder.blockHuffman(fields);
                int half = block.length / 2;
                // HEADERS with padding and priority, then CONTINUATION with END_HEADERS
                byte[] first = new byte[1 + 5 + half + 3];
                first[0] = 3;
                System.arraycopy(block, 0, first, 6, half);
                frame(1, 0x8 | 0x20 | (endStream ? 1 : 0), 1, first);
                frame(9, 0x4, 1, java.util.Arrays.copyOfRange(block, half, block.length));
            }

            void trailers(List<String> fields) throws Exception {
                headers(fields, true);
            }

            void ping(byte[] payload) throws IOException {
                frame(6, 0, 0, payload);
            }

            byte[] awaitPingAck() throws IOException {
                while (true) {
                    Frame f = nextFrameOfType(6);
                    if ((f.flags() & 1) != 0) {
                        return f.payload();
                    }
                }
            }

            /** DATA of stream 1 with {@code pad} octets of padding (-1: not padded). */
            void data(byte[] b, int from, int n, int pad, boolean endStream) throws IOException {
                if (pad < 0) {
                    frame(0, endStream ? 1 : 0, 1, java.util.Arrays.copyOfRange(b, from, from + n));
                    return;
                }
                byte[] p = new byte[1 + n + pad];
                p[0] = (byte) pad;
                System.arraycopy(b, from, p, 1, n);
                frame(0, 0x8 | (endStream ? 1 : 0), 1, p);
            }

            /** Sends {@code b} as DATA, never beyond the client's windows (its settings and WINDOW_UPDATEs). */
            void dataWithinWindows(byte[] b, int initialWindow) throws IOException {
                long[] windows = {65_535, initialWindow}; // connection, stream
                for (Frame f : held) {
                    credit(f, windows); // the client's connection WINDOW_UPDATE right after its preface
                }
                held.clear();
                int at = 0;
                while (at < b.length) {
                    while (Math.min(windows[0], windows[1]) <= 0 || in.available() > 0) {
                        credit(read(), windows);
                    }
                    int n = (int) Math.min(Math.min(windows[0], windows[1]), Math.min(16_384, b.length - at));
                    data(b, at, n, -1, false);
                    windows[0] -= n;
                    windows[1] -= n;
                    at += n;
                }
            }

            private static void credit(Frame f, long[] windows) {
                if (f.type() == 8) {
                    windows[f.stream() == 0 ? 0 : 1] += ByteBuffer.wrap(f.payload()).getInt();
                }
            }

            Frame nextFrameOfType(int type) throws IOException {
                for (int i = 0; i < held.size(); i++) {
                    if (held.get(i).type() == type) {
                        return held.remove(i);
                    }
                }
                while (true) {
                    Frame f = read();
                    if (f.type() == type) {
                        return f;
                    }
                    held.add(f);
                }
            }

            Frame read() throws IOException {
                byte[] h = new byte[9];
                in.readFully(h);
                int length = ((h[0] & 0xff) << 16) | ((h[1] & 0xff) << 8) | (h[2] & 0xff);
                byte[] p = new byte[length];
                in.readFully(p);
                return new Frame(h[3] & 0xff, h[4] & 0xff, ByteBuffer.wrap(h, 5, 4).getInt() & 0x7fffffff, p);
            }

            void frame(int type, int flags, int stream, byte[] payload) throws IOException {
                ByteBuffer h = ByteBuffer.allocate(9);
                h.put((byte) (payload.length >>> 16)).put((byte) (payload.length >>> 8)).put((byte) payload.length)
                        .put((byte) type).put((byte) flags).putInt(stream);
                out.write(h.array());
                out.write(payload);
                out.flush();
            }
        }
    }

    /** The JDK's HPACK encoder and decoder ({@code jdk.internal.net.http.hpack}), by reflection. */
    private static final class JdkHpack {
        private static final String PACKAGE = "jdk.internal.net.http.hpack.";
        private final Object encoder;

        JdkHpack(int tableSize) throws Exception {
            Constructor<?> c = Class.forName(PACKAGE + "Encoder").getConstructor(int.class);
            encoder = c.newInstance(tableSize);
        }

        /** One field as a literal without indexing, name plain, value Huffman coded. */
        byte[] literalHuffman(String name, String value) throws Exception {
            Method literal = encoder.getClass().getDeclaredMethod("literal", CharSequence.class, boolean.class,
                    CharSequence.class, boolean.class);
            literal.setAccessible(true);
            literal.invoke(encoder, name, false, value, true);
            return drain();
        }

        /** A block of literals with indexing, names and values Huffman coded. */
        byte[] blockHuffman(List<String> fields) throws Exception {
            Method literal = encoder.getClass().getDeclaredMethod("literalWithIndexing", CharSequence.class,
                    boolean.class, CharSequence.class, boolean.class);
            literal.setAccessible(true);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (int i = 0; i < fields.size(); i += 2) {
                literal.invoke(encoder, fields.get(i), true, fields.get(i + 1), true);
                out.writeBytes(drain());
            }
            return out.toByteArray();
        }

        private byte[] drain() throws Exception {
            Method encode = encoder.getClass().getMethod("encode", ByteBuffer.class);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            boolean done;
            do {
                ByteBuffer b = ByteBuffer.allocate(256);
                done = (boolean) encode.invoke(encoder, b);
                out.write(b.array(), 0, b.position());
            } while (!done);
            return out.toByteArray();
        }

        static List<String> decode(byte[] block) throws Exception {
            Class<?> callback = Class.forName(PACKAGE + "DecodingCallback");
            Object decoder = Class.forName(PACKAGE + "Decoder").getConstructor(int.class).newInstance(4096);
            List<String> fields = new ArrayList<>();
            Object cb = java.lang.reflect.Proxy.newProxyInstance(callback.getClassLoader(), new Class<?>[]{callback},
                    (proxy, m, args) -> {
                        if (m.getName().equals("onDecoded") && args.length == 2) {
                            fields.add(args[0].toString());
                            fields.add(args[1].toString());
                            return null;
                        }
                        return java.lang.reflect.InvocationHandler.invokeDefault(proxy, m, args);
                    });
            decoder.getClass().getMethod("decode", ByteBuffer.class, boolean.class, callback)
                    .invoke(decoder, ByteBuffer.wrap(block), true, cb);
            return fields;
        }
    }
}
