package io.mocket.controlplane.resources;

import java.util.Arrays;
import java.util.Optional;

/** The resource types the control plane serves, each with the type URL clients subscribe to. */
public enum ResourceType {
    ADDRESS("type.googleapis.com/istio.workload.Address"),
    AUTHORIZATION("type.googleapis.com/istio.security.Authorization");

    private final String typeUrl;

    ResourceType(String typeUrl) {
        this.typeUrl = typeUrl;
    }

    public String typeUrl() {
        return typeUrl;
    }

    /** The type served under {@code typeUrl}, or empty when the control plane does not serve it. */
    public static Optional<ResourceType> ofTypeUrl(String typeUrl) {
        return Arrays.stream(values()).filter(t -> t.typeUrl.equals(typeUrl)).findFirst();
    }
}
