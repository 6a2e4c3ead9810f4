package io.mocket.controlplane.xds;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The plaintext gRPC server of the control plane: ADS, the index lookups and server reflection (v1 and
 * v1alpha, so grpcurl and buf curl of any age can decode the Istio messages). Start once, close once.
 */
public final class XdsServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(XdsServer.class);

    /**
     * How the server listens. Keepalive and connection age follow istiod's defaults, so clients tuned
     * for istiod are not sent away for pinging too often.
     *
     * @param bindAddress            address to bind, "0.0.0.0" for all IPv4 interfaces
     * @param port                   TCP port, 0 for an ephemeral one (tests)
     * @param shutdownGrace          how long {@link #close} waits for streams to end before cutting them
     * @param maxInboundMessageBytes largest request accepted; a reconnect's initial_resource_versions
     *                               lists every name the client holds
     * @param keepAliveTime          idle time before the server pings a client; clients may ping every half of it
     * @param keepAliveTimeout       how long an unanswered ping waits before the connection is dropped
     * @param maxConnectionAge       age at which a connection is asked to go away, so clients spread over
     *                               replicas; they reconnect cheaply with initial_resource_versions
     * @param maxConnectionAgeGrace  how long open streams may continue after that request
     */
    public record Settings(String bindAddress, int port, Duration shutdownGrace, int maxInboundMessageBytes,
                           Duration keepAliveTime, Duration keepAliveTimeout, Duration maxConnectionAge,
                           Duration maxConnectionAgeGrace) {
        public static final int DEFAULT_PORT = 15110;

        public Settings {
            Objects.requireNonNull(bindAddress, "bindAddress");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("xDS port " + port + " is out of range: use 0..65535 (0 = ephemeral)");
            }
            if (maxInboundMessageBytes <= 0) {
                throw new IllegalArgumentException("maxInboundMessageBytes must be positive, got " + maxInboundMessageBytes);
            }
            positive("shutdownGrace", shutdownGrace);
            positive("keepAliveTime", keepAliveTime);
            positive("keepAliveTimeout", keepAliveTimeout);
            positive("maxConnectionAge", maxConnectionAge);
            positive("maxConnectionAgeGrace", maxConnectionAgeGrace);
        }

        private static void positive(String name, Duration d) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("xDS server setting " + name + " must be a positive duration, got " + d);
            }
        }

        /** 0.0.0.0:15110, 10 s shutdown grace, 64 MiB requests, keepalive 30 s / 10 s, connection age 30 min + 10 s. */
        public static Settings defaults() {
            return new Settings("0.0.0.0", DEFAULT_PORT, Duration.ofSeconds(10), 64 << 20, Duration.ofSeconds(30),
                    Duration.ofSeconds(10), Duration.ofMinutes(30), Duration.ofSeconds(10));
        }

        public Settings withBindAddress(String address) {
            return new Settings(address, port, shutdownGrace, maxInboundMessageBytes, keepAliveTime, keepAliveTimeout,
                    maxConnectionAge, maxConnectionAgeGrace);
        }

        public Settings withPort(int p) {
            return new Settings(bindAddress, p, shutdownGrace, maxInboundMessageBytes, keepAliveTime, keepAliveTimeout,
                    maxConnectionAge, maxConnectionAgeGrace);
        }
    }

    private final Settings settings;
    private final AdsService ads;
    private final Server server;
    private boolean started;

    // v1alpha reflection is deprecated in grpc-java but still the only one older grpcurl releases speak.
    @SuppressWarnings("deprecation")
    public XdsServer(Settings settings, AdsService ads, IndexService index) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.ads = Objects.requireNonNull(ads, "ads");
        this.server = NettyServerBuilder.forAddress(new InetSocketAddress(settings.bindAddress(), settings.port()))
                // Callbacks run on the connection's event loop. Every handler here is short and never waits:
                // ADS requests take a stream's lock only when it is free (else they are queued for the
                // stream's drain) and all response computing runs on the push executor. This saves two
                // thread hops per ACK and releases each request buffer on the loop that allocated it.
                .directExecutor()
                .maxInboundMessageSize(settings.maxInboundMessageBytes())
                .keepAliveTime(settings.keepAliveTime().toNanos(), TimeUnit.NANOSECONDS)
                .keepAliveTimeout(settings.keepAliveTimeout().toNanos(), TimeUnit.NANOSECONDS)
                .permitKeepAliveTime(settings.keepAliveTime().toNanos() / 2, TimeUnit.NANOSECONDS)
                .maxConnectionAge(settings.maxConnectionAge().toNanos(), TimeUnit.NANOSECONDS)
                .maxConnectionAgeGrace(settings.maxConnectionAgeGrace().toNanos(), TimeUnit.NANOSECONDS)
                .addService(ads)
                .addService(Objects.requireNonNull(index, "index"))
                .addService(ProtoReflectionServiceV1.newInstance())
                .addService(ProtoReflectionService.newInstance())
                .build();
    }

    /** Binds and starts serving; fails with the address when the port is taken. */
    public synchronized XdsServer start() {
        if (started) {
            throw new IllegalStateException("xDS server already started on port " + port());
        }
        try {
            server.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen for xDS on " + settings.bindAddress() + ":" + settings.port()
                    + ": is another process using the port? Set another port or stop that process", e);
        }
        started = true;
        log.info("xDS server listening on {}:{}", settings.bindAddress(), port());
        return this;
    }

    /** The port actually bound (useful with port 0). */
    public int port() {
        return server.getPort();
    }

    /**
     * Stops accepting streams, asks every client to reconnect elsewhere, waits up to the grace period for
     * calls to end, then cuts what is left.
     */
    @Override
    public synchronized void close() {
        if (!started) {
            server.shutdownNow();
            return;
        }
        server.shutdown();
        ads.closeAllStreams();
        try {
            if (!server.awaitTermination(settings.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)) {
                log.warn("xDS server: calls still open after {}, cutting them", settings.shutdownGrace());
                server.shutdownNow();
                server.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
