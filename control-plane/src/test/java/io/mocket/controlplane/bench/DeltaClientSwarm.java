package io.mocket.controlplane.bench;

import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.stub.StreamObserver;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A separate process of many ztunnel-like delta clients, so that the control plane's heap can be
 * measured without the clients in it. Each client has its own connection and one ADS stream that
 * subscribes (wildcard) to Address and Authorization and ACKs every response at once.
 *
 * <p>Reports on stdout, one line per event, for {@link XdsScaleBenchmark}:
 * {@code SYNCED <client> <nanos from stream start to full initial state>}, {@code ALL_SYNCED},
 * {@code BYTES <total response bytes> FIRST <nanoTime> LAST <nanoTime>} after each {@code MARK} read on stdin
 * (the bytes of all responses since the previous MARK, and when the first and the last of them arrived, on
 * {@link System#nanoTime()}, which is the machine's monotonic clock and so comparable with the parent's; both
 * 0 when none arrived),
 * and exits on {@code STOP} or when stdin closes. {@code ERROR ...} lines report failures.
 *
 * <p>Usage: {@code DeltaClientSwarm <host> <port> <clients> [<sync timeout seconds, default 600>]}
 */
public final class DeltaClientSwarm {
    static final String ADDRESS = "type.googleapis.com/istio.workload.Address";
    static final String AUTHORIZATION = "type.googleapis.com/istio.security.Authorization";

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        int clients = Integer.parseInt(args[2]);
        long syncTimeoutSeconds = args.length > 3 ? Long.parseLong(args[3]) : 600;
        PrintStream out = System.out;
        EventLoopGroup loop = new NioEventLoopGroup(2);
        Received received = new Received();
        CountDownLatch synced = new CountDownLatch(clients);
        // Stdin is read from the start: if the parent dies (its end of the pipe closes) the swarm stops at once
        // instead of keeping a thousand connections open until a timeout.
        CountDownLatch stop = new CountDownLatch(1);
        Thread commands = Thread.ofPlatform().daemon().name("swarm-commands").start(() -> {
            try (var in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null && !line.equals("STOP"); ) {
                    if (line.equals("MARK")) {
                        synchronized (out) {
                            out.println(received.takeReport());
                            out.flush();
                        }
                    }
                }
            } catch (IOException e) {
                // The pipe broke: the parent is gone, so stop like on STOP.
            } finally {
                stop.countDown();
            }
        });
        List<ManagedChannel> channels = new ArrayList<>();
        try {
            for (int i = 0; i < clients && stop.getCount() > 0; i++) {
                // Callbacks run on the event loop: a client only counts and ACKs, and a thread hop per response
                // would spend the cores the measured server shares with the swarm.
                ManagedChannel ch = NettyChannelBuilder.forAddress(host, port)
                        .eventLoopGroup(loop).channelType(NioSocketChannel.class).directExecutor()
                        .usePlaintext().maxInboundMessageSize(256 << 20).build();
                channels.add(ch);
                startClient(i, ch, received, synced, out);
                if (i % 50 == 49) {
                    Thread.sleep(20); // spread connection setup so the server sees a realistic ramp
                }
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(syncTimeoutSeconds);
            while (!synced.await(100, TimeUnit.MILLISECONDS)) {
                if (stop.getCount() == 0 || System.nanoTime() - deadline > 0) {
                    break;
                }
            }
            synchronized (out) {
                if (synced.getCount() > 0) {
                    out.println("ERROR " + synced.getCount() + " of " + clients + " clients not synced");
                } else {
                    out.println("ALL_SYNCED");
                }
                out.flush();
            }
            stop.await(); // until STOP or the parent's end of stdin closes
        } finally {
            channels.forEach(ManagedChannel::shutdownNow);
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
            commands.interrupt();
        }
    }

    /** What the clients received since the last report. */
    private static final class Received {
        private long bytes;
        private long first;
        private long last;

        synchronized void add(int size, long now) {
            first = first == 0 ? now : Math.min(first, now);
            last = Math.max(last, now);
            bytes += size;
        }

        synchronized String takeReport() {
            String report = "BYTES " + bytes + " FIRST " + first + " LAST " + last;
            bytes = 0;
            first = 0;
            last = 0;
            return report;
        }
    }

    private static void startClient(int id, ManagedChannel ch, Received received, CountDownLatch synced, PrintStream out) {
        Node node = Node.newBuilder().setId("ztunnel~10.0." + (id / 250) + "." + (id % 250) + "~ztunnel-" + id
                + ".istio-system~istio-system.svc.cluster.local").build();
        long start = System.nanoTime();
        var stub = AggregatedDiscoveryServiceGrpc.newStub(ch);
        StreamObserver<DeltaDiscoveryRequest>[] requests = new StreamObserver[1];
        boolean[] got = new boolean[2];
        requests[0] = stub.deltaAggregatedResources(new StreamObserver<>() {
            @Override
            public void onNext(DeltaDiscoveryResponse r) {
                received.add(r.getSerializedSize(), System.nanoTime());
                synchronized (got) {
                    requests[0].onNext(DeltaDiscoveryRequest.newBuilder().setTypeUrl(r.getTypeUrl())
                            .setResponseNonce(r.getNonce()).build());
                    int t = r.getTypeUrl().equals(ADDRESS) ? 0 : 1;
                    if (!got[t]) {
                        got[t] = true;
                        if (got[0] && got[1]) {
                            synchronized (out) {
                                out.println("SYNCED " + id + " " + (System.nanoTime() - start));
                            }
                            synced.countDown();
                        }
                    }
                }
            }

            @Override
            public void onError(Throwable t) {
                synchronized (out) {
                    out.println("ERROR client " + id + ": " + t + (t.getCause() == null ? "" : " caused by " + t.getCause()));
                }
            }

            @Override
            public void onCompleted() {
            }
        });
        synchronized (got) {
            requests[0].onNext(DeltaDiscoveryRequest.newBuilder().setNode(node).setTypeUrl(ADDRESS).build());
            requests[0].onNext(DeltaDiscoveryRequest.newBuilder().setNode(node).setTypeUrl(AUTHORIZATION).build());
        }
    }
}
