package io.mocket.agent;

import java.util.Arrays;
import java.util.Optional;

/** The xDS resource types the agent subscribes to, with the type URLs istiod and the control plane serve. */
public enum ResourceKind {
    /** {@code istio.workload.Address}: a Workload or a Service. */
    ADDRESS("type.googleapis.com/istio.workload.Address"),
    /** {@code istio.security.Authorization}. */
    AUTHORIZATION("type.googleapis.com/istio.security.Authorization");

    private final String typeUrl;
    private final com.google.protobuf.ByteString typeUrlBytes;

    ResourceKind(String typeUrl) {
        this.typeUrl = typeUrl;
        this.typeUrlBytes = com.google.protobuf.ByteString.copyFromUtf8(typeUrl);
    }

    public String typeUrl() {
        return typeUrl;
    }

    /** The type URL in UTF-8, to compare with one received without decoding it. */
    com.google.protobuf.ByteString typeUrlBytes() {
        return typeUrlBytes;
    }

    /** The kind served under a type URL, if the agent knows it. */
    public static Optional<ResourceKind> ofTypeUrl(String typeUrl) {
        return Arrays.stream(values()).filter(k -> k.typeUrl.equals(typeUrl)).findFirst();
    }
}
