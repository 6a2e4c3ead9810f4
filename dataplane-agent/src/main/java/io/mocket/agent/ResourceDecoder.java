package io.mocket.agent;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.workload.Address;
import io.mocket.api.istio.workload.NetworkAddress;
import io.mocket.api.istio.workload.Port;
import io.mocket.api.istio.workload.PortList;
import io.mocket.api.istio.workload.Service;
import io.mocket.api.istio.workload.Workload;
import java.util.Map;

/**
 * Turns an xDS {@code Resource} into a {@link NodeState.Entry}, refusing what the agent could not apply:
 * a payload of another type, bytes that do not parse, a resource larger than the limit, addresses that
 * are neither 4 nor 16 bytes, ports out of range, a workload without uid, a service without hostname.
 * Workloads and services come out as the store's compact records ({@link KnownWorkload}, {@link KnownService}):
 * the decoded message is garbage as soon as the next resource is decoded, instead of living, with all the
 * others of a large push, until the whole response is in the store (a push of 10,000 workloads then filled the
 * young generation many times over with messages that all survived). Thread-safe: the xDS client decodes the
 * two halves of a large response on two threads with one decoder.
 */
final class ResourceDecoder {

    /** The default limit on one resource's payload: far above any real workload or service. */
    static final int DEFAULT_MAX_RESOURCE_BYTES = 1 << 20;

    private final int maxResourceBytes;
    /** Shares the repeated strings and lists of the records this decoder makes. */
    private final Interner pool = new Interner();
    /** Locality encodings already decoded, to their interned message. */
    private final Map<ByteString, io.mocket.api.istio.workload.Locality> localities =
            new java.util.concurrent.ConcurrentHashMap<>();

    ResourceDecoder(int maxResourceBytes) {
        if (maxResourceBytes <= 0) {
            throw new IllegalArgumentException("maxResourceBytes must be positive, got " + maxResourceBytes);
        }
        this.maxResourceBytes = maxResourceBytes;
    }

    /** Decodes and checks resource {@code i} of a response of {@code kind}. */
    NodeState.Entry<?> decode(ResourceKind kind, DeltaResponse response, int i) throws InvalidResourceException {
        return decode(kind, response.name(i), response.version(i), response.hasPayload(i), response.payloadTypeUrl(i),
                response.payload(i));
    }

    /**
     * Decodes and checks one resource of {@code kind}: its name and version, whether it has a payload, and the
     * payload's type URL (UTF-8) and bytes.
     */
    private NodeState.Entry<?> decode(ResourceKind kind, String name, String version, boolean hasPayload,
                                      ByteString typeUrl, ByteString bytes) throws InvalidResourceException {
        if (name.isEmpty()) {
            throw new InvalidResourceException("(unnamed " + kind.typeUrl() + ")", "resource has no name");
        }
        if (!hasPayload) {
            throw new InvalidResourceException(name, "resource has no payload");
        }
        if (!typeUrl.isEmpty() && !typeUrl.equals(kind.typeUrlBytes())) {
            throw new InvalidResourceException(name, "payload is " + typeUrl.toStringUtf8() + " in a " + kind.typeUrl()
                    + " response");
        }
        if (bytes.size() > maxResourceBytes) {
            throw new InvalidResourceException(name, "payload of " + bytes.size() + " bytes exceeds the agent's limit of "
                    + maxResourceBytes + " bytes (raise --max-resource-bytes if this is intended)");
        }
        return switch (kind) {
            case ADDRESS -> {
                KnownWorkload read = WorkloadReader.read(name, version, bytes, pool, localities);
                if (read != null) {
                    yield new NodeState.Entry<>(name, version, read);
                }
                Address address = parse(name, kind, () -> Address.parseFrom(bytes));
                yield switch (address.getTypeCase()) {
                    case WORKLOAD -> new NodeState.Entry<>(name, version,
                            KnownWorkload.of(name, version, workload(name, address.getWorkload()), pool));
                    case SERVICE -> new NodeState.Entry<>(name, version,
                            KnownService.of(name, version, service(name, address.getService()), pool));
                    case TYPE_NOT_SET -> throw new InvalidResourceException(name,
                            "Address sets neither workload nor service");
                };
            }
            case AUTHORIZATION -> new NodeState.Entry<>(name, version,
                    authorization(name, parse(name, kind, () -> Authorization.parseFrom(bytes))));
        };
    }

    private interface Parser<T> {
        T parse() throws InvalidProtocolBufferException;
    }

    private static <T> T parse(String name, ResourceKind kind, Parser<T> parser) throws InvalidResourceException {
        try {
            return parser.parse();
        } catch (InvalidProtocolBufferException e) {
            throw new InvalidResourceException(name, "payload is not a valid " + kind.typeUrl() + ": " + e.getMessage());
        }
    }

    private static Workload workload(String name, Workload w) throws InvalidResourceException {
        if (w.getUid().isEmpty()) {
            throw new InvalidResourceException(name, "workload has no uid");
        }
        for (ByteString a : w.getAddressesList()) {
            checkAddress(name, "workload address", a);
        }
        for (Map.Entry<String, PortList> e : w.getServicesMap().entrySet()) {
            if (e.getKey().indexOf('/') <= 0) {
                throw new InvalidResourceException(name, "service key '" + e.getKey()
                        + "' is not '<namespace>/<hostname>'");
            }
            for (Port p : e.getValue().getPortsList()) {
                checkPort(name, "service " + e.getKey(), p);
            }
        }
        return w;
    }

    private static Service service(String name, Service s) throws InvalidResourceException {
        if (s.getHostname().isEmpty()) {
            throw new InvalidResourceException(name, "service has no hostname");
        }
        if (s.getNamespace().isEmpty()) {
            throw new InvalidResourceException(name, "service has no namespace");
        }
        for (NetworkAddress a : s.getAddressesList()) {
            checkAddress(name, "service address", a.getAddress());
        }
        for (Port p : s.getPortsList()) {
            checkPort(name, "service", p);
            if (p.getServicePort() == 0) {
                throw new InvalidResourceException(name, "service port 0 is not a port");
            }
        }
        return s;
    }

    private static Authorization authorization(String name, Authorization a) throws InvalidResourceException {
        if (a.getName().isEmpty()) {
            throw new InvalidResourceException(name, "authorization has no name");
        }
        return a;
    }

    private static void checkAddress(String name, String what, ByteString address) throws InvalidResourceException {
        checkAddress(name, what, address.size());
    }

    static void checkAddress(String name, String what, int size) throws InvalidResourceException {
        if (size != 4 && size != 16) {
            throw new InvalidResourceException(name, what + " has " + size
                    + " bytes; an IPv4 address has 4, an IPv6 address 16");
        }
    }

    private static void checkPort(String name, String where, Port p) throws InvalidResourceException {
        checkPort(name, where, p.getServicePort(), p.getTargetPort());
    }

    static void checkPort(String name, String where, int servicePort, int targetPort) throws InvalidResourceException {
        if (servicePort > 0xffff || targetPort > 0xffff) {
            throw new InvalidResourceException(name, where + " port " + servicePort + "->" + targetPort
                    + " is out of range 0..65535");
        }
    }
}
