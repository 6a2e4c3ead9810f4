package io.mocket.bpf;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.TreeMap;

/**
 * A test host process: started inside a test network namespace (and, for clients, the test cgroup), it
 * reads one command per line on stdin and answers one line on stdout. Servers greet each TCP connection
 * with their local address so the client learns which backend it reached; clients report what the socket
 * calls returned. Every socket call is bounded by 3 s timeouts; the process ends when stdin closes.
 */
public final class SocketProbe {

    private SocketProbe() {
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("ready");
        System.out.flush();
        for (String line; (line = in.readLine()) != null; ) {
            String result;
            try {
                result = execute(line.trim().split(" "));
            } catch (PosixSocket.SocketError e) {
                result = "err " + e.errno + " " + e.getMessage();
            } catch (Exception e) {
                result = "exception " + e;
            }
            System.out.println(result.replace('\n', ' '));
            System.out.flush();
        }
    }

    private static String execute(String[] a) throws Exception {
        return switch (a[0]) {
            case "serve-tcp" -> serveTcp(InetAddress.getByName(a[1]), Integer.parseInt(a[2]));
            case "serve-udp" -> serveUdp(InetAddress.getByName(a[1]), Integer.parseInt(a[2]));
            case "tcp" -> tcp(family(a[1]), InetAddress.getByName(a[2]), Integer.parseInt(a[3]), Integer.parseInt(a[4]));
            case "tcp-loop" -> tcpLoop(family(a[1]), InetAddress.getByName(a[2]), Integer.parseInt(a[3]),
                    Integer.parseInt(a[4]));
            case "udp" -> udp(family(a[1]), InetAddress.getByName(a[2]), Integer.parseInt(a[3]), a[4]);
            case "udp-connected" -> udpConnected(family(a[1]), InetAddress.getByName(a[2]), Integer.parseInt(a[3]),
                    a[4]);
            case "java-tcp" -> javaTcp(a[1], Integer.parseInt(a[2]));
            default -> "exception unknown command " + Arrays.toString(a);
        };
    }

    private static int family(String s) {
        return s.equals("4") ? PosixSocket.AF_INET : PosixSocket.AF_INET6;
    }

    /** TCP: connect, getpeername, greeting (backend), echo of n bytes, cookie. */
    private static String tcp(int family, InetAddress address, int port, int bytes) throws Exception {
        try (PosixSocket s = new PosixSocket(family, PosixSocket.SOCK_STREAM)) {
            s.connect(address, port);
            PosixSocket.SockAddr peer = s.peer();
            String backend = s.readLine();
            long cookie = s.cookie();
            byte[] payload = new byte[bytes];
            Arrays.fill(payload, (byte) 'x');
            s.send(payload);
            byte[] echoed = s.readFully(bytes);
            return "ok peer=" + peer + " backend=" + backend + " echoed=" + echoed.length
                    + " cookie=" + Long.toUnsignedString(cookie);
        }
    }

    /** Sequential connections; counts backends reached and errors. */
    private static String tcpLoop(int family, InetAddress address, int port, int count) throws Exception {
        TreeMap<String, Integer> backends = new TreeMap<>();
        TreeMap<String, Integer> errors = new TreeMap<>();
        long deadline = System.nanoTime() + 60_000_000_000L;
        for (int i = 0; i < count && System.nanoTime() < deadline; i++) {
            try (PosixSocket s = new PosixSocket(family, PosixSocket.SOCK_STREAM)) {
                s.connect(address, port);
                backends.merge(s.readLine(), 1, Integer::sum);
            } catch (PosixSocket.SocketError e) {
                errors.merge(e.getMessage().replace(' ', '_'), 1, Integer::sum);
            }
        }
        return "ok backends=" + backends + " errors=" + errors;
    }

    /** Unconnected UDP: sendto the address, recvfrom shows where the reply came from. */
    private static String udp(int family, InetAddress address, int port, String message) throws Exception {
        try (PosixSocket s = new PosixSocket(family, PosixSocket.SOCK_DGRAM)) {
            s.sendTo(message.getBytes(StandardCharsets.UTF_8), address, port);
            PosixSocket.Datagram reply = s.recvFrom(1500);
            return "ok from=" + reply.from() + " reply=" + new String(reply.data(), StandardCharsets.UTF_8);
        }
    }

    /** Connected UDP: connect, send, recv, getpeername. */
    private static String udpConnected(int family, InetAddress address, int port, String message) throws Exception {
        try (PosixSocket s = new PosixSocket(family, PosixSocket.SOCK_DGRAM)) {
            s.connect(address, port);
            s.send(message.getBytes(StandardCharsets.UTF_8));
            byte[] reply = s.recv(1500);
            return "ok peer=" + s.peer() + " reply=" + new String(reply, StandardCharsets.UTF_8);
        }
    }

    /** java.net.Socket: a dual-stack AF_INET6 socket even for an IPv4 address, the way Java applications dial. */
    private static String javaTcp(String host, int port) throws Exception {
        try (Socket socket = new Socket()) {
            socket.setSoTimeout(3000);
            socket.connect(new InetSocketAddress(host, port), 3000);
            InputStream in = socket.getInputStream();
            StringBuilder line = new StringBuilder();
            for (int c; (c = in.read()) > 0 && c != '\n'; ) {
                line.append((char) c);
            }
            return "ok backend=" + line;
        } catch (java.io.IOException e) {
            return "err " + e.getClass().getSimpleName() + " " + e.getMessage();
        }
    }

    /** A TCP server: greets with "<local address>:<port>\n", then echoes until the client closes. */
    private static String serveTcp(InetAddress bind, int port) throws Exception {
        ServerSocket server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(bind, port), 64);
        Thread.ofPlatform().daemon().start(() -> {
            while (true) {
                try {
                    Socket client = server.accept();
                    Thread.ofPlatform().daemon().start(() -> echo(client));
                } catch (java.io.IOException e) {
                    return;
                }
            }
        });
        return "ok listening " + server.getLocalSocketAddress();
    }

    private static void echo(Socket client) {
        try (client) {
            client.setSoTimeout(10_000);
            OutputStream out = client.getOutputStream();
            out.write((client.getLocalAddress().getHostAddress() + ":" + client.getLocalPort() + "\n")
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = client.getInputStream();
            byte[] buf = new byte[65536];
            for (int n; (n = in.read(buf)) > 0; ) {
                out.write(buf, 0, n);
            }
        } catch (java.io.IOException e) {
            // the client went away: nothing to report
        }
    }

    /** A UDP server on one address: replies "<local address>:<port>|<payload>" to the sender. */
    private static String serveUdp(InetAddress bind, int port) throws Exception {
        DatagramChannel channel = DatagramChannel.open(bind instanceof java.net.Inet4Address
                ? StandardProtocolFamily.INET : StandardProtocolFamily.INET6);
        channel.bind(new InetSocketAddress(bind, port));
        String self = bind.getHostAddress() + ":" + port;
        Thread.ofPlatform().daemon().start(() -> {
            ByteBuffer buf = ByteBuffer.allocate(1500);
            while (true) {
                try {
                    buf.clear();
                    var from = channel.receive(buf);
                    buf.flip();
                    String payload = StandardCharsets.UTF_8.decode(buf).toString();
                    channel.send(ByteBuffer.wrap((self + "|" + payload).getBytes(StandardCharsets.UTF_8)), from);
                } catch (java.io.IOException e) {
                    return;
                }
            }
        });
        return "ok listening " + self;
    }

}
