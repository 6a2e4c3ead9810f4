package io.mocket.controlplane.resources;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * One resource as it goes on the wire: serialized once when the index builds it and shared by every
 * stream that sends it. Immutable.
 *
 * <p>The version is derived from the serialized content, so two replicas, or one replica before and
 * after a restart, give the same resource the same version; that is what lets a reconnecting client's
 * {@code initial_resource_versions} skip everything it already has.
 *
 * @param type    the resource type
 * @param name    the canonical resource name ("Kubernetes//Pod/ns/name", "ns/hostname", "ns/policy")
 * @param aliases other names an on-demand client may ask for ("network/IP"), possibly empty
 * @param message the decoded resource (for debug output and lookups)
 * @param wire    the envoy {@code Resource} with name, version, aliases and the Any payload
 */
public record XdsResource(ResourceType type, String name, List<String> aliases, Message message, Resource wire) {

    public XdsResource {
        aliases = List.copyOf(aliases);
    }

    /** Builds and serializes a resource, deriving its version from its bytes. */
    public static XdsResource of(ResourceType type, String name, List<String> aliases, Message message) {
        ByteString bytes = message.toByteString();
        Resource wire = Resource.newBuilder()
                .setName(name)
                .setVersion(contentVersion(bytes))
                .addAllAliases(aliases)
                .setResource(Any.newBuilder().setTypeUrl(type.typeUrl()).setValue(bytes))
                .build();
        return new XdsResource(type, name, aliases, message, wire);
    }

    public String version() {
        return wire.getVersion();
    }

    /** Serialized size of the resource as sent, in bytes. */
    public int wireSize() {
        return wire.getSerializedSize();
    }

    /** First 64 bits of SHA-256 of the payload, as 16 hex digits: stable across processes and restarts. */
    static String contentVersion(ByteString bytes) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(bytes.asReadOnlyByteBuffer());
            return HexFormat.of().formatHex(sha.digest(), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java platform", e);
        }
    }
}
