package io.mocket.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;

/**
 * A program that runs in a pod and is driven line by line: one command on stdin, one answer on stdout
 * ({@code ok ...} or {@code err <errno> ...}). Servers greet each TCP connection with their label (the pod
 * name) so clients learn which backend they reached; clients report what the kernel's socket calls returned.
 * Every socket call is bounded by 3 s timeouts and every loop by a count and a deadline; the process ends
 * when its stdin closes.
 *
 * <p>Commands: {@code serve-tcp PORT LABEL}, {@code serve-dns PORT OWN_IP}, {@code tcp IP PORT BYTES},
 * {@code tcp-many IP PORT COUNT BYTES}, {@code dns IP PORT ID NAME},
 * {@code follow IP PORT reach|only LABELS MAX DEADLINE_MS} (answers {@code started} first, then the result).
 */
public final class PodProbe {

    /** The first line a probe prints once it reads commands. */
    public static final String READY = "ready";

    /** How many consecutive connections must land in the new set before "only" counts it as followed. */
    static final int FOLLOW_STREAK = 50;

    private PodProbe() {
    }

    /** The command line that starts a probe: this JVM's java, this class's own class path. */
    static List<String> command() {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx64m", "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1", "-cp", ownClassPath(), PodProbe.class.getName());
    }

    static String ownClassPath() {
        try {
            return Path.of(PodProbe.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (URISyntaxException e) {
            throw new IllegalStateException("cannot locate the harness classes", e);
        }
    }

    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        answer(READY);
        for (String line; (line = in.readLine()) != null; ) {
            String result;
            try {
                result = execute(line.trim().split(" "));
            } catch (PodSocket.SocketError e) {
                result = "err " + e.errno + " " + e.getMessage();
            } catch (Exception e) {
                result = "exception " + e;
            }
            answer(result);
        }
    }

    private static void answer(String line) {
        System.out.println(line.replace('\n', ' '));
        System.out.flush();
    }

    private static String execute(String[] a) throws Exception {
        return switch (a[0]) {
            case "serve-tcp" -> serveTcp(Integer.parseInt(a[1]), a[2]);
            case "serve-dns" -> serveDns(Integer.parseInt(a[1]), InetAddress.getByName(a[2]));
            case "tcp" -> tcp(address(a[1], a[2]), Integer.parseInt(a[3]));
            case "tcp-many" -> tcpMany(address(a[1], a[2]), Integer.parseInt(a[3]), Integer.parseInt(a[4]));
            case "dns" -> dns(address(a[1], a[2]), Integer.parseInt(a[3]), a[4]);
            case "follow" -> follow(address(a[1], a[2]), a[3].equals("reach"), Set.of(a[4].split(",")),
                    Integer.parseInt(a[5]), Long.parseLong(a[6]));
            default -> "exception unknown command " + Arrays.toString(a);
        };
    }

    private static InetSocketAddress address(String ip, String port) throws IOException {
        return new InetSocketAddress(InetAddress.getByName(ip), Integer.parseInt(port));
    }

    static String text(InetSocketAddress a) {
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }

    /** One connection: connect, getpeername, greeting, echo of {@code bytes} bytes. */
    private static String tcp(InetSocketAddress to, int bytes) throws PodSocket.SocketError {
        try (PodSocket s = new PodSocket(PodSocket.SOCK_STREAM)) {
            s.connect(to);
            InetSocketAddress peer = s.peer();
            InetSocketAddress local = s.local();
            String backend = s.readLine();
            int echoed = exchange(s, bytes);
            return "ok peer=" + text(peer) + " local=" + text(local) + " backend=" + backend + " echoed=" + echoed;
        }
    }

    private static int exchange(PodSocket s, int bytes) throws PodSocket.SocketError {
        if (bytes == 0) {
            return 0;
        }
        byte[] payload = new byte[bytes];
        Arrays.fill(payload, (byte) 'm');
        s.send(payload);
        return s.readFully(bytes).length;
    }

    /** Sequential connections, each with an echo; counts backends reached, bytes echoed and errors. */
    private static String tcpMany(InetSocketAddress to, int count, int bytes) {
        TreeMap<String, Integer> backends = new TreeMap<>();
        TreeMap<String, Integer> errors = new TreeMap<>();
        long echoed = 0;
        long deadline = System.nanoTime() + 60_000_000_000L;
        for (int i = 0; i < count && System.nanoTime() < deadline; i++) {
            try (PodSocket s = new PodSocket(PodSocket.SOCK_STREAM)) {
                s.connect(to);
                backends.merge(s.readLine(), 1, Integer::sum);
                echoed += exchange(s, bytes);
            } catch (PodSocket.SocketError e) {
                errors.merge(e.getMessage().replace(' ', '_'), 1, Integer::sum);
            }
        }
        return "ok backends=" + backends.toString().replace(" ", "") + " echoed=" + echoed
                + " errors=" + errors.toString().replace(" ", "");
    }

    /** A DNS-like query by unconnected UDP: sendto the address, recvfrom shows who answered. */
    private static String dns(InetSocketAddress to, int id, String name) throws PodSocket.SocketError {
        try (PodSocket s = new PodSocket(PodSocket.SOCK_DGRAM)) {
            s.sendTo(DnsMessage.query(id, name).encode(), to);
            PodSocket.Datagram reply = s.recvFrom(512);
            DnsMessage m = DnsMessage.decode(reply.data());
            return "ok from=" + text(reply.from()) + " id=" + m.id() + " name=" + m.name()
                    + " answer=" + (m.answer() == null ? "none" : m.answer().getHostAddress());
        }
    }

    /**
     * Dials continuously until connections follow a change of backends: {@code reach} stops at the first
     * connection to one of {@code labels}; {@code only} at the end of a streak of {@link #FOLLOW_STREAK}
     * connections all to {@code labels}. Answers {@code started} at once, then
     * {@code ok t=<nanoTime of the first following connect> connections=<n> errors=<n> interval=<mean ns per
     * connect>} (the interval is the resolution of the measurement). System.nanoTime is
     * CLOCK_MONOTONIC, so the caller can compare it with its own clock.
     */
    private static String follow(InetSocketAddress to, boolean reach, Set<String> labels, int max, long deadlineMs) {
        answer("started");
        long begin = System.nanoTime();
        long deadline = begin + deadlineMs * 1_000_000L;
        int streak = 0;
        long streakStart = 0;
        int errors = 0;
        for (int i = 0; i < max && System.nanoTime() < deadline; i++) {
            long start = System.nanoTime();
            String backend;
            try (PodSocket s = new PodSocket(PodSocket.SOCK_STREAM)) {
                s.connect(to);
                backend = s.readLine();
            } catch (PodSocket.SocketError e) {
                errors++;
                streak = 0;
                continue;
            }
            if (!labels.contains(backend)) {
                streak = 0;
                continue;
            }
            if (streak++ == 0) {
                streakStart = start;
            }
            if (reach || streak >= FOLLOW_STREAK) {
                long interval = (System.nanoTime() - begin) / (i + 1);
                return "ok t=" + streakStart + " connections=" + (i + 1) + " errors=" + errors
                        + " interval=" + interval;
            }
        }
        return "err ETIMEDOUT connections did not follow within " + max + " connects or " + deadlineMs
                + " ms (errors " + errors + ")";
    }

    /** A TCP server on all addresses: greets each connection with the label, then echoes until the client closes. */
    private static String serveTcp(int port, String label) throws IOException {
        ServerSocket server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(port), 128);
        byte[] greeting = (label + "\n").getBytes(StandardCharsets.UTF_8);
        Thread.ofPlatform().daemon().name("accept-" + port).start(() -> {
            while (true) {
                try {
                    Socket client = server.accept();
                    Thread.ofVirtual().start(() -> echo(client, greeting));
                } catch (IOException e) {
                    return;
                }
            }
        });
        return "ok listening " + port;
    }

    private static void echo(Socket client, byte[] greeting) {
        try (client) {
            client.setSoTimeout(10_000);
            OutputStream out = client.getOutputStream();
            out.write(greeting);
            out.flush();
            InputStream in = client.getInputStream();
            byte[] buf = new byte[65536];
            for (int n; (n = in.read(buf)) > 0; ) {
                out.write(buf, 0, n);
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    /** A UDP server answering DNS-like A queries with its own address. */
    private static String serveDns(int port, InetAddress self) throws IOException {
        DatagramChannel channel = DatagramChannel.open(java.net.StandardProtocolFamily.INET);
        channel.bind(new InetSocketAddress(port));
        Thread.ofPlatform().daemon().name("dns-" + port).start(() -> {
            ByteBuffer buf = ByteBuffer.allocate(512);
            while (true) {
                try {
                    buf.clear();
                    var from = channel.receive(buf);
                    byte[] query = new byte[buf.flip().remaining()];
                    buf.get(query);
                    byte[] reply = DnsMessage.decode(query).answeredWith(self).encode();
                    channel.send(ByteBuffer.wrap(reply), from);
                } catch (IOException e) {
                    return;
                } catch (RuntimeException e) {
                    // a malformed query gets no answer, as from a real server
                }
            }
        });
        return "ok listening " + port + "/udp";
    }
}
