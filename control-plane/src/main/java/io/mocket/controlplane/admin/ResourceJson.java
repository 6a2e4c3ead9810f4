package io.mocket.controlplane.admin;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.workload.Address;
import io.mocket.controlplane.resources.XdsResource;

/** Renders served resources as protobuf JSON (the same field names grpcurl shows). */
final class ResourceJson {
    private final JsonFormat.Printer printer = JsonFormat.printer()
            .usingTypeRegistry(JsonFormat.TypeRegistry.newBuilder()
                    .add(Address.getDescriptor())
                    .add(Authorization.getDescriptor())
                    .build())
            .omittingInsignificantWhitespace();

    String render(XdsResource r) {
        try {
            return printer.print(r.message());
        } catch (InvalidProtocolBufferException e) {
            // An extension whose Any type this build does not know: show the raw wire form instead.
            return "{\"unprintable\":\"" + e.getMessage().replace("\"", "'") + "\"}";
        }
    }
}
