package io.mocket.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The backend of the data-path benchmark: answers every HTTP/1.1 request with a fixed 2-byte body and
 * closes the connection, so each request is one short connection. A few platform threads block in
 * {@code accept} on one listening socket and serve each connection inline, with nothing allocated per
 * request beyond the socket: the server is cheap, so the cost of the path shows.
 *
 * <p>Several listeners in one process, so all paths of the benchmark meet the same server: the
 * {@code --port} list is opened first, in whatever cgroup the process starts in (one port per path, so that
 * no path's TIME_WAIT sockets meet another path's connections); then, if {@code --join-cgroup} is given, the
 * process writes itself into that cgroup (a node's, where Mocket's programs are attached) and opens
 * {@code --meshed-port}. A socket belongs to the cgroup its creator was in when it was created, and
 * accepted sockets inherit the listener's, so connections to the first ports see no Mocket program on the
 * server node and connections to the second see them all, as an enrolled pod's would.
 *
 * <p>Usage: {@code ShortHttpServer --port 8080[,8082...] [--meshed-port 8081 --join-cgroup <cgroup.procs>] [--threads 2]}.
 * Prints {@code ready} when every listener is open; runs until killed.
 */
public final class ShortHttpServer {

    private static final byte[] RESPONSE = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
            + "Connection: close\r\n\r\nok").getBytes(StandardCharsets.US_ASCII);

    private ShortHttpServer() {
    }

    public static void main(String[] args) throws IOException {
        List<Integer> ports = List.of();
        int meshedPort = 0;
        Path cgroupProcs = null;
        int threads = 2;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--port" -> ports = java.util.Arrays.stream(args[i + 1].split(",")).map(Integer::valueOf).toList();
                case "--meshed-port" -> meshedPort = Integer.parseInt(args[i + 1]);
                case "--join-cgroup" -> cgroupProcs = Path.of(args[i + 1]);
                case "--threads" -> threads = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (ports.isEmpty() || (meshedPort != 0) != (cgroupProcs != null)) {
            throw new IllegalArgumentException(
                    "usage: --port P[,P2...] [--meshed-port Q --join-cgroup <cgroup.procs>] [--threads N]");
        }
        List<Thread> workers = new ArrayList<>();
        for (int port : ports) {
            workers.addAll(serve(port, threads));
        }
        if (meshedPort != 0) {
            Files.writeString(cgroupProcs, Long.toString(ProcessHandle.current().pid()));
            workers.addAll(serve(meshedPort, threads));
        }
        System.out.println("ready");
        System.out.flush();
        for (Thread worker : workers) {
            try {
                worker.join();
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static List<Thread> serve(int port, int threads) throws IOException {
        ServerSocket server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(port), 4096);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            workers.add(Thread.ofPlatform().name("http-" + port + "-" + t).start(() -> acceptLoop(server)));
        }
        return workers;
    }

    private static void acceptLoop(ServerSocket server) {
        byte[] buf = new byte[4096];
        while (!server.isClosed()) {
            try (Socket s = server.accept()) {
                s.setSoTimeout(5_000);
                if (readRequestHead(s.getInputStream(), buf)) {
                    OutputStream out = s.getOutputStream();
                    out.write(RESPONSE);
                    out.flush();
                }
            } catch (IOException e) {
                // one failed connection (reset, timeout) does not stop the server
            }
        }
    }

    /** Reads until the blank line that ends the request head; false if the client went away first. */
    private static boolean readRequestHead(InputStream in, byte[] buf) throws IOException {
        int filled = 0;
        while (filled < buf.length) {
            int n = in.read(buf, filled, buf.length - filled);
            if (n < 0) {
                return false;
            }
            int from = Math.max(0, filled - 3);
            filled += n;
            for (int i = from; i + 3 < filled; i++) {
                if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
                    return true;
                }
            }
        }
        return false;
    }
}
