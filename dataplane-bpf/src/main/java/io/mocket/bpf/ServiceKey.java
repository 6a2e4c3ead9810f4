package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.U32;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.StructLayout;

/**
 * Key of the service map (a bare {@code __u32}): the id of one service port in one address family.
 * Id 0 is reserved to mean "no service" in the connection metrics.
 */
public record ServiceKey(int serviceId) {

    public static final StructLayout LAYOUT = WireFormat.struct(JAVA_INT.withName("service_id"));

    public static final BpfCodec<ServiceKey> CODEC = new BpfCodec<>(LAYOUT, null,
            (k, s) -> s.set(U32, 0, k.serviceId),
            s -> new ServiceKey(s.get(U32, 0)));

    public ServiceKey {
        requireValidId(serviceId);
    }

    static void requireValidId(int serviceId) {
        if (serviceId == 0) {
            throw new IllegalArgumentException("service id 0 is reserved");
        }
    }
}
