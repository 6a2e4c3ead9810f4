package io.mocket.controlplane.xds;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Objects;

/**
 * The response marshaller of the delta ADS method as this server registers it: a message is serialized
 * as usual, a {@link SharedDeltaResponses.Encoded} is written from its bytes without serializing again.
 * The bytes are shared by many calls, so each call gets its own stream over them and nothing writes to them.
 */
final class EncodedResponseMarshaller implements MethodDescriptor.Marshaller<Object> {
    private final MethodDescriptor.Marshaller<DeltaDiscoveryResponse> messages;

    EncodedResponseMarshaller(MethodDescriptor.Marshaller<DeltaDiscoveryResponse> messages) {
        this.messages = Objects.requireNonNull(messages, "messages");
    }

    @Override
    public InputStream stream(Object value) {
        return switch (value) {
            case SharedDeltaResponses.Encoded e -> new BytesStream(e.bytes());
            case DeltaDiscoveryResponse m -> messages.stream(m);
            default -> throw new IllegalArgumentException("delta ADS response must be a DeltaDiscoveryResponse or "
                    + "pre-encoded bytes, got " + (value == null ? "null" : value.getClass().getName()));
        };
    }

    @Override
    public Object parse(InputStream stream) {
        return messages.parse(stream);
    }

    /** Reads a shared array; gRPC asks its length first and then drains it into its buffer in one copy. */
    static final class BytesStream extends InputStream implements KnownLength, Drainable {
        private final byte[] bytes;
        private int pos;

        BytesStream(byte[] bytes) {
            this.bytes = bytes;
        }

        @Override
        public int drainTo(OutputStream target) throws IOException {
            int n = bytes.length - pos;
            target.write(bytes, pos, n);
            pos = bytes.length;
            return n;
        }

        @Override
        public int read() {
            return pos < bytes.length ? bytes[pos++] & 0xff : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            Objects.checkFromIndexSize(off, len, b.length);
            if (len == 0) {
                return 0;
            }
            if (pos >= bytes.length) {
                return -1;
            }
            int n = Math.min(len, bytes.length - pos);
            System.arraycopy(bytes, pos, b, off, n);
            pos += n;
            return n;
        }

        @Override
        public int available() {
            return bytes.length - pos;
        }
    }
}
