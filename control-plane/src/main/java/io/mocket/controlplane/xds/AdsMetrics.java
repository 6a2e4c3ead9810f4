package io.mocket.controlplane.xds;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.resources.ResourceType;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The meters of the xDS server, registered once per {@link AdsService}. Every meter of a name carries
 * the same tag keys, as Prometheus requires.
 */
final class AdsMetrics {
    static final String TYPE_URL = "type_url";
    static final String PROTOCOL = "protocol";

    private final Map<XdsProtocol, Map<ResourceType, AtomicInteger>> clients = new EnumMap<>(XdsProtocol.class);
    private final Map<XdsProtocol, AtomicInteger> streams = new EnumMap<>(XdsProtocol.class);
    private final Map<ResourceType, Counter> pushes = new EnumMap<>(ResourceType.class);
    private final Map<ResourceType, DistributionSummary> pushSize = new EnumMap<>(ResourceType.class);
    private final Map<ResourceType, Counter> nacks = new EnumMap<>(ResourceType.class);
    private final Map<ResourceType, Convergence> convergence = new EnumMap<>(ResourceType.class);

    AdsMetrics(MeterRegistry registry, ResourceStore store) {
        for (XdsProtocol protocol : XdsProtocol.values()) {
            AtomicInteger open = new AtomicInteger();
            streams.put(protocol, open);
            Gauge.builder("mocket.xds.streams", open, AtomicInteger::get)
                    .description("Open xDS streams")
                    .tag(PROTOCOL, protocol.tag())
                    .register(registry);
            Map<ResourceType, AtomicInteger> byType = new EnumMap<>(ResourceType.class);
            for (ResourceType type : ResourceType.values()) {
                AtomicInteger n = new AtomicInteger();
                byType.put(type, n);
                Gauge.builder("mocket.xds.clients", n, AtomicInteger::get)
                        .description("Connected xDS clients subscribed to a type")
                        .tag(PROTOCOL, protocol.tag())
                        .tag(TYPE_URL, type.typeUrl())
                        .register(registry);
            }
            clients.put(protocol, byType);
        }
        for (ResourceType type : ResourceType.values()) {
            pushes.put(type, Counter.builder("mocket.xds.pushes")
                    .description("xDS responses sent")
                    .tag(TYPE_URL, type.typeUrl())
                    .register(registry));
            pushSize.put(type, DistributionSummary.builder("mocket.xds.push.size")
                    .description("Serialized size of xDS responses")
                    .baseUnit("bytes")
                    .tag(TYPE_URL, type.typeUrl())
                    .register(registry));
            nacks.put(type, Counter.builder("mocket.xds.nacks")
                    .description("xDS responses rejected by clients")
                    .tag(TYPE_URL, type.typeUrl())
                    .register(registry));
            Gauge.builder("mocket.xds.resources", store, s -> s.current().size(type))
                    .description("Resources served, in the current snapshot")
                    .tag(TYPE_URL, type.typeUrl())
                    .register(registry);
            Timer timer = Timer.builder("mocket.xds.convergence")
                    .description("From the first source event of a commit to the ACK of the last client that received it")
                    .tag(TYPE_URL, type.typeUrl())
                    .register(registry);
            convergence.put(type, new Convergence(timer, System::nanoTime));
        }
    }

    void streamOpened(XdsProtocol protocol) {
        streams.get(protocol).incrementAndGet();
    }

    void streamClosed(XdsProtocol protocol) {
        streams.get(protocol).decrementAndGet();
    }

    void subscribed(XdsProtocol protocol, ResourceType type) {
        clients.get(protocol).get(type).incrementAndGet();
    }

    void unsubscribed(XdsProtocol protocol, ResourceType type) {
        clients.get(protocol).get(type).decrementAndGet();
    }

    void pushed(ResourceType type, int bytes) {
        pushes.get(type).increment();
        pushSize.get(type).record(bytes);
    }

    void nacked(ResourceType type) {
        nacks.get(type).increment();
    }

    Convergence convergence(ResourceType type) {
        return convergence.get(type);
    }
}
