package io.mocket.agent;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import io.mocket.api.xds.Resource;
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
 * Stateless and thread-safe.
 */
final class ResourceDecoder {

    /** The default limit on one resource's payload: far above any real workload or service. */
    static final int DEFAULT_MAX_RESOURCE_BYTES = 1 << 20;

    private final int maxResourceBytes;

    ResourceDecoder(int maxResourceBytes) {
        if (maxResourceBytes <= 0) {
            throw new IllegalArgumentException("maxResourceBytes must be positive, got " + maxResourceBytes);
        }
        this.maxResourceBytes = maxResourceBytes;
    }

    /** Decodes and checks one resource of {@code kind}. */
    NodeState.Entry<?> decode(ResourceKind kind, Resource resource) throws InvalidResourceException {
        String name = resource.getName();
        if (name.isEmpty()) {
            throw new InvalidResourceException("(unnamed " + kind.typeUrl() + ")", "resource has no name");
        }
        if (!resource.hasResource()) {
            throw new InvalidResourceException(name, "resource has no payload");
        }
        String typeUrl = resource.getResource().getTypeUrl();
        if (!typeUrl.isEmpty() && !typeUrl.equals(kind.typeUrl())) {
            throw new InvalidResourceException(name, "payload is " + typeUrl + " in a " + kind.typeUrl() + " response");
        }
        ByteString bytes = resource.getResource().getValue();
        if (bytes.size() > maxResourceBytes) {
            throw new InvalidResourceException(name, "payload of " + bytes.size() + " bytes exceeds the agent's limit of "
                    + maxResourceBytes + " bytes (raise --max-resource-bytes if this is intended)");
        }
        Message message = switch (kind) {
            case ADDRESS -> address(name, parse(name, kind, () -> Address.parseFrom(bytes)));
            case AUTHORIZATION -> authorization(name, parse(name, kind, () -> Authorization.parseFrom(bytes)));
        };
        return new NodeState.Entry<>(name, resource.getVersion(), message);
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

    private static Message address(String name, Address address) throws InvalidResourceException {
        return switch (address.getTypeCase()) {
            case WORKLOAD -> workload(name, address.getWorkload());
            case SERVICE -> service(name, address.getService());
            case TYPE_NOT_SET -> throw new InvalidResourceException(name, "Address sets neither workload nor service");
        };
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
        if (address.size() != 4 && address.size() != 16) {
            throw new InvalidResourceException(name, what + " has " + address.size()
                    + " bytes; an IPv4 address has 4, an IPv6 address 16");
        }
    }

    private static void checkPort(String name, String where, Port p) throws InvalidResourceException {
        if (p.getServicePort() > 0xffff || p.getTargetPort() > 0xffff) {
            throw new InvalidResourceException(name, where + " port " + p.getServicePort() + "->" + p.getTargetPort()
                    + " is out of range 0..65535");
        }
    }
}
