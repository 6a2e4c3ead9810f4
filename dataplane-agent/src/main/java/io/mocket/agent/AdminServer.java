package io.mocket.agent;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * The agent's HTTP admin endpoint (default port 15120): {@code /healthz/ready} (200 once the first full
 * sync is in the kernel, 503 with the reason before), {@code /metrics} (Prometheus text) and
 * {@code /debug/state} (JSON: what the kernel maps hold, read back, and what the node believes).
 * One small thread; every answer is computed at request time.
 */
public final class AdminServer implements AutoCloseable {
    private static final System.Logger log = System.getLogger(AdminServer.class.getName());

    private final HttpServer server;
    private final ExecutorService executor;

    /**
     * @param address   where to listen (port 0 for an ephemeral one)
     * @param notReady  the reason the agent is not ready, empty when it is
     * @param metrics   the Prometheus exposition
     * @param debug     the debug state as maps and lists (written as JSON)
     */
    public AdminServer(InetSocketAddress address, Supplier<Optional<String>> notReady, Supplier<String> metrics,
                       Supplier<Object> debug) {
        try {
            server = HttpServer.create(address, 16);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen for the admin endpoint on " + address
                    + ": is another process using the port? Pass --admin-port with a free port", e);
        }
        executor = Executors.newSingleThreadExecutor(Thread.ofPlatform().name("mocket-admin").daemon().factory());
        server.setExecutor(executor);
        server.createContext("/healthz/ready", ex -> serve(ex, () -> {
            Optional<String> reason = notReady.get();
            return new Reply(reason.isEmpty() ? 200 : 503, "text/plain; charset=utf-8",
                    reason.map(r -> "not ready: " + r + "\n").orElse("ready\n"));
        }));
        server.createContext("/metrics", ex -> serve(ex, () -> new Reply(200, PrometheusText.CONTENT_TYPE, metrics.get())));
        server.createContext("/debug/state", ex -> serve(ex, () -> new Reply(200, "application/json",
                JsonText.write(debug.get()))));
        server.createContext("/", ex -> serve(ex, () -> new Reply(404, "text/plain; charset=utf-8",
                "unknown path " + ex.getRequestURI().getPath() + "; try /healthz/ready, /metrics or /debug/state\n")));
    }

    private record Reply(int status, String contentType, String body) {
    }

    public AdminServer start() {
        server.start();
        log.log(System.Logger.Level.INFO, "admin endpoint on {0}", server.getAddress());
        return this;
    }

    /** The address bound (with the real port when 0 was asked). */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    private static void serve(HttpExchange ex, Supplier<Reply> handler) throws IOException {
        Reply reply;
        try {
            reply = handler.get();
        } catch (RuntimeException e) {
            log.log(System.Logger.Level.WARNING, "admin request " + ex.getRequestURI() + " failed", e);
            reply = new Reply(500, "text/plain; charset=utf-8", "internal error: " + e + "\n");
        }
        byte[] bytes = reply.body().getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", reply.contentType());
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(reply.status(), head ? -1 : bytes.length);
        if (!head) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(bytes);
            }
        }
        ex.close();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
