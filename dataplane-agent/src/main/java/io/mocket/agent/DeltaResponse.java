package io.mocket.agent;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnsafeByteOperations;
import com.google.protobuf.WireFormat;
import io.mocket.api.xds.DeltaDiscoveryResponse;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A delta xDS response ({@code DeltaDiscoveryResponse}) as the agent reads it: the message's bytes, held once,
 * and for each resource its name, version, and where its payload lies in those bytes. No {@code Resource} or
 * {@code Any} objects are built and no payload is copied: a full push of 10,000 workloads is one array, and what
 * outlives the decode is only what the store keeps (names and versions).
 *
 * <p>The result is the generated parser's, field for field: a singular field sent twice keeps its last value, a
 * {@code resource} sent twice is merged (its type URL and value are each the last one sent), unknown fields and
 * known fields with another wire type are skipped, a string that is not UTF-8 or bytes that do not parse fail the
 * whole response ({@link InvalidProtocolBufferException}), as they fail the generated parser.
 */
final class DeltaResponse {
    // DeltaDiscoveryResponse (field numbers are Envoy's, see mocket/xds/v1/delta.proto)
    private static final int RESOURCES = 2;
    private static final int TYPE_URL = 4;
    private static final int NONCE = 5;
    private static final int REMOVED_RESOURCES = 6;
    // Resource
    private static final int VERSION = 1;
    private static final int RESOURCE = 2;
    private static final int NAME = 3;
    // google.protobuf.Any
    private static final int ANY_TYPE_URL = 1;
    private static final int ANY_VALUE = 2;
    private static final int DELIMITED = WireFormat.WIRETYPE_LENGTH_DELIMITED;

    private final byte[] bytes;
    private final String typeUrl;
    private final String nonce;
    private final List<String> removed;
    private final String[] names;
    private final String[] versions;
    /** Per resource: payload present (0/1), type URL offset and length, payload offset and length. */
    private final int[] layout;

    private DeltaResponse(byte[] bytes, String typeUrl, String nonce, List<String> removed, String[] names,
                          String[] versions, int[] layout) {
        this.bytes = bytes;
        this.typeUrl = typeUrl;
        this.nonce = nonce;
        this.removed = removed;
        this.names = names;
        this.versions = versions;
        this.layout = layout;
    }

    /** The response a generated message encodes (tests; and what the control plane sent, in its encoding). */
    static DeltaResponse of(DeltaDiscoveryResponse message) {
        try {
            return parse(message.toByteArray());
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("a generated message's own encoding did not parse", e);
        }
    }

    /** Reads a response from its encoding; {@code bytes} is held, not copied: the caller must not change it. */
    static DeltaResponse parse(byte[] bytes) throws InvalidProtocolBufferException {
        try {
            CodedInputStream in = CodedInputStream.newInstance(bytes);
            String typeUrl = "";
            String nonce = "";
            List<String> removed = new ArrayList<>();
            int count = 0;
            String[] names = new String[16];
            String[] versions = new String[16];
            int[] layout = new int[16 * 5];
            for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
                if (tag == tag(RESOURCES)) {
                    if (count == names.length) {
                        names = Arrays.copyOf(names, count * 2);
                        versions = Arrays.copyOf(versions, count * 2);
                        layout = Arrays.copyOf(layout, count * 2 * 5);
                    }
                    int limit = in.pushLimit(in.readRawVarint32());
                    resource(bytes, in, count, names, versions, layout);
                    in.checkLastTagWas(0);
                    in.popLimit(limit);
                    count++;
                } else if (tag == tag(TYPE_URL)) {
                    typeUrl = in.readStringRequireUtf8();
                } else if (tag == tag(NONCE)) {
                    nonce = in.readStringRequireUtf8();
                } else if (tag == tag(REMOVED_RESOURCES)) {
                    removed.add(in.readStringRequireUtf8());
                } else if (!in.skipField(tag)) {
                    break; // an end-group tag: the generated parser stops there too, and fails below
                }
            }
            in.checkLastTagWas(0);
            return new DeltaResponse(bytes, typeUrl, nonce, List.copyOf(removed), Arrays.copyOf(names, count),
                    Arrays.copyOf(versions, count), Arrays.copyOf(layout, count * 5));
        } catch (InvalidProtocolBufferException e) {
            throw e;
        } catch (IOException e) {
            throw new InvalidProtocolBufferException(e);
        }
    }

    /** One Resource message, up to the current limit, into slot {@code i}. */
    private static void resource(byte[] bytes, CodedInputStream in, int i, String[] names, String[] versions, int[] layout)
            throws IOException {
        String name = "";
        String version = "";
        int at = i * 5;
        layout[at] = 0;
        layout[at + 1] = 0;
        layout[at + 2] = 0;
        layout[at + 3] = 0;
        layout[at + 4] = 0;
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            if (tag == tag(NAME)) {
                name = in.readStringRequireUtf8();
            } else if (tag == tag(VERSION)) {
                version = in.readStringRequireUtf8();
            } else if (tag == tag(RESOURCE)) {
                // Sent twice, the Any is merged: each of its fields keeps the last value sent.
                layout[at] = 1;
                int limit = in.pushLimit(in.readRawVarint32());
                for (int t = in.readTag(); t != 0; t = in.readTag()) {
                    if (t == tag(ANY_TYPE_URL)) {
                        int length = in.readRawVarint32();
                        int offset = in.getTotalBytesRead();
                        in.skipRawBytes(length);
                        if (!UnsafeByteOperations.unsafeWrap(bytes, offset, length).isValidUtf8()) {
                            throw new InvalidProtocolBufferException("Protocol message had invalid UTF-8.");
                        }
                        layout[at + 1] = offset;
                        layout[at + 2] = length;
                    } else if (t == tag(ANY_VALUE)) {
                        int length = in.readRawVarint32();
                        layout[at + 3] = in.getTotalBytesRead();
                        layout[at + 4] = length;
                        in.skipRawBytes(length);
                    } else if (!in.skipField(t)) {
                        break;
                    }
                }
                in.checkLastTagWas(0);
                in.popLimit(limit);
            } else if (!in.skipField(tag)) {
                break;
            }
        }
        names[i] = name;
        versions[i] = version;
    }

    private static int tag(int field) {
        return field << 3 | DELIMITED;
    }

    String typeUrl() {
        return typeUrl;
    }

    String nonce() {
        return nonce;
    }

    List<String> removedResources() {
        return removed;
    }

    int resourceCount() {
        return names.length;
    }

    /** The names of the resources, in order (a list over this response's own array). */
    List<String> names() {
        return List.of(names);
    }

    String name(int i) {
        return names[i];
    }

    String version(int i) {
        return versions[i];
    }

    /** Whether resource {@code i} carries a payload ({@code resource} was sent). */
    boolean hasPayload(int i) {
        return layout[i * 5] != 0;
    }

    /** The payload's type URL as sent (empty if none was). */
    ByteString payloadTypeUrl(int i) {
        return UnsafeByteOperations.unsafeWrap(bytes, layout[i * 5 + 1], layout[i * 5 + 2]);
    }

    /** The payload's bytes, a view of this response's bytes (empty if none was sent). */
    ByteString payload(int i) {
        return UnsafeByteOperations.unsafeWrap(bytes, layout[i * 5 + 3], layout[i * 5 + 4]);
    }
}
