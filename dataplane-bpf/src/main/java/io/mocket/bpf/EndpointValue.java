package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.PORT;
import static io.mocket.bpf.WireFormat.U32;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.StructLayout;

/**
 * Value of the endpoint map ({@code struct mk_endpoint_value}): the backend of a slot and the target port
 * this backend listens on for the service port (Istio lets it differ per workload).
 *
 * @param port the target port, or 0 to keep the port the application dialled
 */
public record EndpointValue(int backendId, int port) {

    public static final StructLayout LAYOUT = WireFormat.struct(
            JAVA_INT.withName("backend_id"),
            PORT.withName("port"),
            JAVA_SHORT.withName("pad"));

    public static final BpfCodec<EndpointValue> CODEC = new BpfCodec<>(LAYOUT, "mk_endpoint_value",
            (v, s) -> {
                s.set(U32, 0, v.backendId);
                WireFormat.putPort(s, 4, v.port);
            },
            s -> new EndpointValue(s.get(U32, 0), WireFormat.getPort(s, 4)));

    public EndpointValue {
        if (port < 0 || port > 0xffff) {
            throw new IllegalArgumentException("target port out of range: " + port);
        }
    }

    // Written out: the generated record methods go through method handles, which the agent's C1-only JIT does
    // not inline, and a reconcile pass hashes and compares tens of thousands of these.
    @Override
    public boolean equals(Object o) {
        return o instanceof EndpointValue v && backendId == v.backendId && port == v.port;
    }

    @Override
    public int hashCode() {
        return backendId * 31 + port;
    }
}
