package io.mocket.bpf;

import static io.mocket.bpf.WireFormat.U32;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.StructLayout;

/** Value of the frontend map ({@code struct mk_frontend_value}): the service a VIP names. */
public record FrontendValue(int serviceId) {

    public static final StructLayout LAYOUT = WireFormat.struct(JAVA_INT.withName("service_id"));

    public static final BpfCodec<FrontendValue> CODEC = new BpfCodec<>(LAYOUT, "mk_frontend_value",
            (v, s) -> s.set(U32, 0, v.serviceId),
            s -> new FrontendValue(s.get(U32, 0)));

    public FrontendValue {
        ServiceKey.requireValidId(serviceId);
    }
}
