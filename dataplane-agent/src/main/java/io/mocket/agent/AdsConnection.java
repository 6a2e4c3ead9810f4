package io.mocket.agent;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One gRPC bidirectional-streaming call on its own HTTP/2 cleartext connection (prior knowledge, RFC 9113 3.3):
 * the agent's transport to the control plane's delta ADS method.
 *
 * <p>The agent makes exactly one call at a time to one server, so it does not carry a general gRPC stack (a
 * channel, name resolution and load balancing, a Netty event loop): about 1,400 classes and 10 MiB of the
 * agent's memory. What it does implement is what the call needs, in full: the connection preface and settings,
 * flow control in both directions (the server's windows are honoured for requests, ours are replenished as
 * responses are read), header blocks (see {@link Hpack}), messages split across DATA frames, the response's
 * headers and trailers ({@code grpc-status}, {@code grpc-message}), PING (answered, and sent as keepalive),
 * GOAWAY and RST_STREAM. Messages are not compressed: the request does not offer {@code grpc-accept-encoding}, so
 * the server sends them plain.
 *
 * <p>Threading: a reader thread ({@code mocket-xds-reader}) reads frames and hands each whole message to the
 * {@link Listener}; {@link #send} may be called from any thread; keepalive runs on the given scheduler. The
 * listener hears {@link Listener#onClose} exactly once, after which the socket is closed.
 */
final class AdsConnection implements AutoCloseable {
    private static final System.Logger log = System.getLogger(AdsConnection.class.getName());

    // gRPC status codes (the numbers are gRPC's)
    static final int OK = 0;
    static final int CANCELLED = 1;
    static final int UNKNOWN = 2;
    static final int INVALID_ARGUMENT = 3;
    static final int RESOURCE_EXHAUSTED = 8;
    static final int UNIMPLEMENTED = 12;
    static final int INTERNAL = 13;
    static final int UNAVAILABLE = 14;
    private static final String[] CODE_NAMES = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
            "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
            "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};

    // HTTP/2 frame types, flags, settings and error codes (RFC 9113)
    private static final int DATA = 0x0;
    private static final int HEADERS = 0x1;
    private static final int RST_STREAM = 0x3;
    private static final int SETTINGS = 0x4;
    private static final int PUSH_PROMISE = 0x5;
    private static final int PING = 0x6;
    private static final int GOAWAY = 0x7;
    private static final int WINDOW_UPDATE = 0x8;
    private static final int CONTINUATION = 0x9;
    private static final int END_STREAM = 0x1;
    private static final int ACK = 0x1;
    private static final int END_HEADERS = 0x4;
    private static final int PADDED = 0x8;
    private static final int PRIORITY = 0x20;
    private static final int SETTINGS_HEADER_TABLE_SIZE = 0x1;
    private static final int SETTINGS_ENABLE_PUSH = 0x2;
    private static final int SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
    private static final int SETTINGS_MAX_FRAME_SIZE = 0x5;
    private static final int SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;
    private static final int NO_ERROR = 0x0;
    private static final int PROTOCOL_ERROR = 0x1;
    private static final int FLOW_CONTROL_ERROR = 0x3;
    private static final int FRAME_SIZE_ERROR = 0x6;
    private static final int REFUSED_STREAM = 0x7;
    private static final int CANCEL = 0x8;
    private static final int COMPRESSION_ERROR = 0x9;
    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private static final int STREAM = 1;
    private static final int DEFAULT_WINDOW = 65_535;
    /** Our receive window, per stream and for the connection: a full push streams in without waiting on us. */
    static final int RECEIVE_WINDOW = 1 << 20;
    private static final int MAX_FRAME = 16_384;
    private static final int HEADER_TABLE_SIZE = 4_096;
    private static final int MAX_HEADER_LIST = 64 << 10;
    private static final int MAX_WINDOW = Integer.MAX_VALUE;

    /** What the call delivers. */
    interface Listener {
        /** A whole response message, on the reader thread; {@code receivedNanos} is when its last byte was read. */
        void onMessage(byte[] message, long receivedNanos);

        /** The call ended: {@code null} when the server closed it with OK, otherwise why. Called once. */
        void onClose(CallException failure);
    }

    /** Why a call ended: a gRPC status code (a transport failure is UNAVAILABLE) and a description. */
    static final class CallException extends IOException {
        private final int code;

        CallException(int code, String description, Throwable cause) {
            super(description, cause);
            this.code = code;
        }

        CallException(int code, String description) {
            this(code, description, null);
        }

        int code() {
            return code;
        }

        @Override
        public String toString() {
            return codeName(code) + ": " + getMessage();
        }
    }

    /**
     * Where the control plane listens: {@code host:port}, {@code [v6 address]:port}, or either after
     * {@code dns:///} (the gRPC target form).
     */
    record Target(String host, int port) {
        static Target parse(String target) {
            String t = target.startsWith("dns:///") ? target.substring("dns:///".length()) : target;
            int colon = t.lastIndexOf(':');
            String host = colon < 0 ? "" : t.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            int port = -1;
            try {
                port = colon < 0 ? -1 : Integer.parseInt(t.substring(colon + 1));
            } catch (NumberFormatException e) {
                // reported below
            }
            if (host.isEmpty() || port < 1 || port > 65_535 || (host.contains(":") && !t.startsWith("["))) {
                throw new IllegalArgumentException("control plane address '" + target
                        + "' is not host:port (e.g. mocket-control-plane.istio-system.svc:15110 or [fd00::1]:15110)");
            }
            return new Target(host, port);
        }

        String authority() {
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }
    }

    private final Target target;
    private final String path;
    private final Listener listener;
    private final int maxMessageBytes;
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final Hpack.Decoder headerDecoder = new Hpack.Decoder(HEADER_TABLE_SIZE, MAX_HEADER_LIST);
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Serializes whole messages on the stream (a message's DATA frames must not interleave with another's). */
    private final Object sendLock = new Object();
    /** Guards the windows below; the reader notifies senders when they grow. */
    private final Object flow = new Object();
    private long connectionSendWindow = DEFAULT_WINDOW;
    private long streamSendWindow = DEFAULT_WINDOW;
    private int peerInitialWindow = DEFAULT_WINDOW;
    private int peerMaxFrame = MAX_FRAME;
    private volatile long lastReadNanos = System.nanoTime();
    private volatile long pingSentNanos;
    private ScheduledFuture<?> keepalive;
    // reader state (reader thread only)
    private final byte[] frameHeader = new byte[9];
    private final byte[] prefix = new byte[5];
    private int prefixRead;
    private byte[] message;
    private int messageRead;
    private int unacknowledged;
    private boolean responseHeadersSeen;
    private boolean goingAway;
    private byte[] headerBlock = new byte[0];
    private int headerBlockLength;
    private boolean headerBlockEndsStream;
    private int headerBlockStream;
    private boolean inHeaderBlock;

    private AdsConnection(Target target, String path, Listener listener, int maxMessageBytes, Socket socket)
            throws IOException {
        this.target = target;
        this.path = path;
        this.listener = listener;
        this.maxMessageBytes = maxMessageBytes;
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream(), 64 << 10);
        this.out = new BufferedOutputStream(socket.getOutputStream(), 16 << 10);
    }

    /**
     * Connects, sends the preface, the settings and the call's headers, and starts reading.
     *
     * @param path             the gRPC method, {@code /package.Service/Method}
     * @param maxMessageBytes  largest response message accepted; a larger one ends the call (RESOURCE_EXHAUSTED)
     * @param keepaliveTime    a PING is sent after this long without a frame from the server
     * @param keepaliveTimeout and the connection is dropped when its ACK has not come this long after
     * @throws CallException UNAVAILABLE when no address of the target accepts the connection
     */
    static AdsConnection open(Target target, String path, Listener listener, int maxMessageBytes,
                              Duration connectTimeout, Duration keepaliveTime, Duration keepaliveTimeout,
                              ScheduledExecutorService scheduler) throws CallException {
        Socket socket = connect(target, connectTimeout);
        AdsConnection c;
        try {
            c = new AdsConnection(target, path, listener, maxMessageBytes, socket);
            c.start();
        } catch (IOException e) {
            closeQuietly(socket);
            throw new CallException(UNAVAILABLE, "could not start HTTP/2 with " + target.authority() + ": " + e, e);
        }
        long every = Math.max(1, Math.min(keepaliveTime.toMillis(), keepaliveTimeout.toMillis()) / 2);
        c.keepalive = scheduler.scheduleWithFixedDelay(() -> c.checkAlive(keepaliveTime, keepaliveTimeout),
                every, every, TimeUnit.MILLISECONDS);
        Thread.ofPlatform().name("mocket-xds-reader").daemon().start(c::readLoop);
        return c;
    }

    private static Socket connect(Target target, Duration timeout) throws CallException {
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(target.host());
        } catch (IOException e) {
            throw new CallException(UNAVAILABLE, "cannot resolve the control plane host '" + target.host() + "': " + e, e);
        }
        IOException last = null;
        for (InetAddress address : addresses) {
            Socket s = new Socket();
            try {
                s.setTcpNoDelay(true);
                s.connect(new InetSocketAddress(address, target.port()), (int) timeout.toMillis());
                return s;
            } catch (IOException e) {
                closeQuietly(s);
                last = e;
            }
        }
        throw new CallException(UNAVAILABLE, "cannot connect to the control plane at " + target.authority() + ": " + last,
                last);
    }

    private void start() throws IOException {
        byte[] settings = new byte[4 * 6];
        putSetting(settings, 0, SETTINGS_ENABLE_PUSH, 0);
        putSetting(settings, 6, SETTINGS_INITIAL_WINDOW_SIZE, RECEIVE_WINDOW);
        putSetting(settings, 12, SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST);
        putSetting(settings, 18, SETTINGS_HEADER_TABLE_SIZE, HEADER_TABLE_SIZE);
        byte[] headers = Hpack.encode(":method", "POST", ":scheme", "http", ":path", path,
                ":authority", target.authority(), "content-type", "application/grpc", "te", "trailers",
                "user-agent", "mocket-agent");
        synchronized (out) {
            out.write(PREFACE);
            writeFrame(SETTINGS, 0, 0, settings, 0, settings.length);
            writeFrame(WINDOW_UPDATE, 0, 0, int32(RECEIVE_WINDOW - DEFAULT_WINDOW), 0, 4);
            writeFrame(HEADERS, END_HEADERS, STREAM, headers, 0, headers.length);
            out.flush();
        }
    }

    /**
     * Sends one request message; blocks while the server's flow-control windows are closed.
     *
     * @throws CallException when the call has ended
     */
    void send(byte[] request) throws CallException {
        byte[] framed = new byte[5 + request.length];
        framed[1] = (byte) (request.length >>> 24);
        framed[2] = (byte) (request.length >>> 16);
        framed[3] = (byte) (request.length >>> 8);
        framed[4] = (byte) request.length;
        System.arraycopy(request, 0, framed, 5, request.length);
        synchronized (sendLock) {
            int sent = 0;
            while (sent < framed.length) {
                int chunk;
                synchronized (flow) {
                    while (!closed.get() && (connectionSendWindow <= 0 || streamSendWindow <= 0)) {
                        try {
                            flow.wait();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new CallException(CANCELLED, "interrupted while waiting for the server's window");
                        }
                    }
                    if (closed.get()) {
                        throw new CallException(CANCELLED, "the call to " + target.authority() + " has ended");
                    }
                    chunk = (int) Math.min(Math.min(connectionSendWindow, streamSendWindow),
                            Math.min(peerMaxFrame, framed.length - sent));
                    connectionSendWindow -= chunk;
                    streamSendWindow -= chunk;
                }
                try {
                    synchronized (out) {
                        writeFrame(DATA, 0, STREAM, framed, sent, chunk);
                        out.flush();
                    }
                } catch (IOException e) {
                    fail(new CallException(UNAVAILABLE, "writing to the control plane failed: " + e, e));
                    throw new CallException(UNAVAILABLE, "writing to the control plane failed: " + e, e);
                }
                sent += chunk;
            }
        }
    }

    /** Ends the call from this side (RST_STREAM CANCEL, GOAWAY) and closes the connection; the listener hears CANCELLED. */
    void cancel(String reason) {
        if (closed.get()) {
            return;
        }
        try {
            synchronized (out) {
                writeFrame(RST_STREAM, 0, STREAM, int32(CANCEL), 0, 4);
                writeFrame(GOAWAY, 0, 0, goAway(NO_ERROR), 0, 8);
                out.flush();
            }
        } catch (IOException e) {
            // the connection is going anyway
        }
        fail(new CallException(CANCELLED, reason));
    }

    @Override
    public void close() {
        cancel("closed by the agent");
    }

    // ---- reading ----

    private void readLoop() {
        try {
            while (!closed.get()) {
                readFully(frameHeader, 0, 9);
                lastReadNanos = System.nanoTime();
                int length = ((frameHeader[0] & 0xff) << 16) | ((frameHeader[1] & 0xff) << 8) | (frameHeader[2] & 0xff);
                int type = frameHeader[3] & 0xff;
                int flags = frameHeader[4] & 0xff;
                int stream = int32(frameHeader, 5) & 0x7fff_ffff;
                if (length > MAX_FRAME) {
                    throw connectionError(FRAME_SIZE_ERROR, "frame of " + length + " octets, above the " + MAX_FRAME
                            + " this side allows");
                }
                if (inHeaderBlock && type != CONTINUATION) {
                    throw connectionError(PROTOCOL_ERROR, "frame type " + type + " inside a header block");
                }
                switch (type) {
                    case DATA -> data(stream, flags, length);
                    case HEADERS -> headers(stream, flags, length);
                    case CONTINUATION -> continuation(stream, flags, length);
                    case RST_STREAM -> resetStream(stream, length);
                    case SETTINGS -> settings(stream, flags, length);
                    case PING -> ping(stream, flags, length);
                    case GOAWAY -> goAway(stream, length);
                    case WINDOW_UPDATE -> windowUpdate(stream, length);
                    case PUSH_PROMISE -> throw connectionError(PROTOCOL_ERROR, "PUSH_PROMISE although push is disabled");
                    default -> skip(length); // PRIORITY and unknown types carry nothing for this call
                }
            }
        } catch (CallException e) {
            fail(e);
        } catch (IOException e) {
            fail(new CallException(UNAVAILABLE, closed.get() ? "closed" : "connection to the control plane at "
                    + target.authority() + " lost: " + e, e));
        } catch (RuntimeException e) {
            log.log(System.Logger.Level.ERROR, "xDS connection reader failed", e);
            fail(new CallException(INTERNAL, "the agent's xDS reader failed: " + e, e));
        }
    }

    private void data(int stream, int flags, int length) throws IOException {
        if (stream == 0) {
            throw connectionError(PROTOCOL_ERROR, "DATA on stream 0");
        }
        int padding = 0;
        int payload = length;
        if ((flags & PADDED) != 0) {
            padding = readByte();
            payload -= 1 + padding;
            if (payload < 0) {
                throw connectionError(PROTOCOL_ERROR, "DATA padding longer than the frame");
            }
        }
        if (stream != STREAM) {
            skip(payload + padding);
        } else {
            if (!responseHeadersSeen) {
                throw connectionError(PROTOCOL_ERROR, "DATA before the response headers");
            }
            readMessages(payload);
            skip(padding);
        }
        // Everything received counts against our windows, whatever it was; give it back in batches.
        unacknowledged += length;
        if (unacknowledged >= RECEIVE_WINDOW / 2) {
            byte[] increment = int32(unacknowledged);
            synchronized (out) {
                writeFrame(WINDOW_UPDATE, 0, 0, increment, 0, 4);
                writeFrame(WINDOW_UPDATE, 0, STREAM, increment, 0, 4);
                out.flush();
            }
            unacknowledged = 0;
        }
        if (stream == STREAM && (flags & END_STREAM) != 0) {
            throw new CallException(INTERNAL, "the control plane ended the stream without trailers (no grpc-status)");
        }
    }

    /** Reads {@code length} octets of the stream's DATA into gRPC messages (5-octet prefix, then the message). */
    private void readMessages(int length) throws IOException {
        while (length > 0) {
            if (message == null) {
                int n = Math.min(length, 5 - prefixRead);
                readFully(prefix, prefixRead, n);
                prefixRead += n;
                length -= n;
                if (prefixRead < 5) {
                    continue;
                }
                if (prefix[0] != 0) {
                    throw new CallException(INTERNAL, "the control plane sent a compressed message although none was"
                            + " offered (flag " + prefix[0] + ")");
                }
                int size = int32(prefix, 1);
                if (size < 0 || size > maxMessageBytes) {
                    throw new CallException(RESOURCE_EXHAUSTED, "a response of " + Integer.toUnsignedString(size)
                            + " bytes is above the agent's limit of " + maxMessageBytes + " bytes");
                }
                message = new byte[size];
                messageRead = 0;
                prefixRead = 0;
            }
            int n = Math.min(length, message.length - messageRead);
            readFully(message, messageRead, n);
            messageRead += n;
            length -= n;
            if (messageRead == message.length) {
                byte[] whole = message;
                message = null;
                listener.onMessage(whole, System.nanoTime());
            }
        }
    }

    private void headers(int stream, int flags, int length) throws IOException {
        if (stream == 0) {
            throw connectionError(PROTOCOL_ERROR, "HEADERS on stream 0");
        }
        int padding = 0;
        int fragment = length;
        if ((flags & PADDED) != 0) {
            padding = readByte();
            fragment -= 1;
        }
        if ((flags & PRIORITY) != 0) {
            skip(5);
            fragment -= 5;
        }
        fragment -= padding;
        if (fragment < 0) {
            throw connectionError(PROTOCOL_ERROR, "HEADERS padding and priority longer than the frame");
        }
        headerBlockLength = 0;
        appendHeaderBlock(fragment);
        skip(padding);
        headerBlockEndsStream = (flags & END_STREAM) != 0;
        headerBlockStream = stream;
        inHeaderBlock = (flags & END_HEADERS) == 0;
        if (!inHeaderBlock) {
            headerBlockDone();
        }
    }

    private void continuation(int stream, int flags, int length) throws IOException {
        if (!inHeaderBlock || stream != headerBlockStream) {
            throw connectionError(PROTOCOL_ERROR, "CONTINUATION without a header block in progress");
        }
        appendHeaderBlock(length);
        if ((flags & END_HEADERS) != 0) {
            inHeaderBlock = false;
            headerBlockDone();
        }
    }

    private void appendHeaderBlock(int length) throws IOException {
        if (headerBlockLength + length > MAX_HEADER_LIST) {
            throw connectionError(PROTOCOL_ERROR, "header block larger than " + MAX_HEADER_LIST + " octets");
        }
        if (headerBlock.length < headerBlockLength + length) {
            headerBlock = java.util.Arrays.copyOf(headerBlock, Math.max(headerBlockLength + length, 2 * headerBlock.length));
        }
        readFully(headerBlock, headerBlockLength, length);
        headerBlockLength += length;
    }

    private void headerBlockDone() throws IOException {
        List<String> fields;
        try {
            // Every block is decoded, whatever its stream: the dynamic table follows all of them.
            fields = headerDecoder.decode(headerBlock, 0, headerBlockLength);
        } catch (Hpack.CompressionException e) {
            throw connectionError(COMPRESSION_ERROR, "bad header block from the control plane: " + e.getMessage());
        }
        if (headerBlockStream != STREAM) {
            return;
        }
        if (!responseHeadersSeen) {
            responseHeadersSeen = true;
            String status = field(fields, ":status");
            if (!"200".equals(status)) {
                throw new CallException(httpStatusCode(status), "the control plane answered HTTP status " + status
                        + grpcMessage(fields) + " (is " + target.authority() + " its xDS port?)");
            }
            String contentType = field(fields, "content-type");
            if (contentType == null || !contentType.startsWith("application/grpc")) {
                throw new CallException(UNKNOWN, "the control plane's response is not gRPC (content-type "
                        + contentType + ")");
            }
            if (!headerBlockEndsStream) {
                return;
            }
            // A trailers-only response: the status is in these headers.
        } else if (!headerBlockEndsStream) {
            throw connectionError(PROTOCOL_ERROR, "a second header block that does not end the stream");
        }
        String grpcStatus = field(fields, "grpc-status");
        int code;
        try {
            code = grpcStatus == null ? UNKNOWN : Integer.parseInt(grpcStatus);
        } catch (NumberFormatException e) {
            code = UNKNOWN;
        }
        if (message != null || prefixRead > 0) {
            throw new CallException(INTERNAL, "the stream ended inside a message");
        }
        if (code == OK) {
            finish(null);
        } else {
            String description = grpcStatus == null ? "the control plane ended the stream without grpc-status"
                    : "the control plane ended the stream" + grpcMessage(fields);
            finish(new CallException(code, description));
        }
    }

    private void resetStream(int stream, int length) throws IOException {
        if (length != 4) {
            throw connectionError(FRAME_SIZE_ERROR, "RST_STREAM of " + length + " octets");
        }
        byte[] b = readBytes(4);
        if (stream == STREAM) {
            int error = int32(b, 0);
            throw new CallException(error == REFUSED_STREAM ? UNAVAILABLE : error == CANCEL ? CANCELLED : INTERNAL,
                    "the control plane reset the stream (HTTP/2 error " + error + ")");
        }
    }

    private void settings(int stream, int flags, int length) throws IOException {
        if (stream != 0 || length % 6 != 0 || ((flags & ACK) != 0 && length != 0)) {
            throw connectionError(PROTOCOL_ERROR, "malformed SETTINGS frame");
        }
        if ((flags & ACK) != 0) {
            return;
        }
        byte[] b = readBytes(length);
        for (int i = 0; i < length; i += 6) {
            int id = ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
            int value = int32(b, i + 2);
            switch (id) {
                case SETTINGS_INITIAL_WINDOW_SIZE -> {
                    if (value < 0) {
                        throw connectionError(FLOW_CONTROL_ERROR, "initial window size above 2^31-1");
                    }
                    synchronized (flow) {
                        streamSendWindow += value - peerInitialWindow;
                        peerInitialWindow = value;
                        flow.notifyAll();
                    }
                }
                case SETTINGS_MAX_FRAME_SIZE -> {
                    if (value < MAX_FRAME || value > 0xff_ffff) {
                        throw connectionError(PROTOCOL_ERROR, "max frame size " + value + " out of range");
                    }
                    synchronized (flow) {
                        peerMaxFrame = value;
                    }
                }
                default -> {
                    // The request's header block uses no dynamic table, so the peer's table size does not matter;
                    // the rest (push, concurrency, header list size) do not constrain one small request stream.
                }
            }
        }
        synchronized (out) {
            writeFrame(SETTINGS, ACK, 0, b, 0, 0);
            out.flush();
        }
    }

    private void ping(int stream, int flags, int length) throws IOException {
        if (stream != 0 || length != 8) {
            throw connectionError(PROTOCOL_ERROR, "malformed PING frame");
        }
        byte[] payload = readBytes(8);
        if ((flags & ACK) != 0) {
            pingSentNanos = 0;
            return;
        }
        synchronized (out) {
            writeFrame(PING, ACK, 0, payload, 0, 8);
            out.flush();
        }
    }

    private void goAway(int stream, int length) throws IOException {
        if (stream != 0 || length < 8) {
            throw connectionError(PROTOCOL_ERROR, "malformed GOAWAY frame");
        }
        byte[] b = readBytes(length);
        int lastStream = int32(b, 0) & 0x7fff_ffff;
        int error = int32(b, 4);
        String debug = new String(b, 8, length - 8, StandardCharsets.UTF_8);
        goingAway = true;
        if (lastStream < STREAM || error != NO_ERROR) {
            throw new CallException(UNAVAILABLE, "the control plane closed the connection (GOAWAY, HTTP/2 error "
                    + error + (debug.isEmpty() ? "" : ", " + debug) + ")");
        }
        // A graceful GOAWAY that includes our stream: it may still finish, then the connection goes with it.
    }

    private void windowUpdate(int stream, int length) throws IOException {
        if (length != 4) {
            throw connectionError(FRAME_SIZE_ERROR, "WINDOW_UPDATE of " + length + " octets");
        }
        int increment = int32(readBytes(4), 0) & 0x7fff_ffff;
        if (increment == 0) {
            throw connectionError(PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
        }
        synchronized (flow) {
            if (stream == 0) {
                connectionSendWindow += increment;
                if (connectionSendWindow > MAX_WINDOW) {
                    throw connectionError(FLOW_CONTROL_ERROR, "connection window above 2^31-1");
                }
            } else if (stream == STREAM) {
                streamSendWindow += increment;
                if (streamSendWindow > MAX_WINDOW) {
                    throw new CallException(INTERNAL, "stream window above 2^31-1");
                }
            }
            flow.notifyAll();
        }
    }

    /** A connection error: GOAWAY with the code goes out, then the call fails with INTERNAL. */
    private CallException connectionError(int error, String description) {
        try {
            synchronized (out) {
                byte[] debug = description.getBytes(StandardCharsets.UTF_8);
                byte[] payload = java.util.Arrays.copyOf(goAway(error), 8 + Math.min(debug.length, 256));
                System.arraycopy(debug, 0, payload, 8, payload.length - 8);
                writeFrame(GOAWAY, 0, 0, payload, 0, payload.length);
                out.flush();
            }
        } catch (IOException e) {
            // closing anyway
        }
        return new CallException(INTERNAL, "HTTP/2 protocol error with the control plane: " + description);
    }

    // ---- keepalive and ending ----

    private void checkAlive(Duration time, Duration timeout) {
        if (closed.get()) {
            return;
        }
        long now = System.nanoTime();
        long sent = pingSentNanos;
        if (sent != 0 && lastReadNanos - sent > 0) {
            pingSentNanos = 0; // the server has spoken since: it is alive
            sent = 0;
        }
        if (sent != 0) {
            if (now - sent > timeout.toNanos()) {
                fail(new CallException(UNAVAILABLE, "the control plane at " + target.authority()
                        + " did not answer a keepalive PING within " + timeout.toMillis() + " ms"));
            }
            return;
        }
        if (now - lastReadNanos >= time.toNanos()) {
            // The PING is written on a thread of its own: a write stuck on a full socket buffer holds the output and
            // must not hold the scheduler (which also reconnects) with it; the timeout above still fires.
            pingSentNanos = now;
            Thread.ofPlatform().daemon().name("mocket-xds-ping").start(() -> {
                try {
                    synchronized (out) {
                        writeFrame(PING, 0, 0, new byte[8], 0, 8);
                        out.flush();
                    }
                } catch (IOException e) {
                    fail(new CallException(UNAVAILABLE, "keepalive PING to the control plane failed: " + e, e));
                }
            });
        }
    }

    /** The server ended the call (trailers): the connection has nothing else to carry. */
    private void finish(CallException failure) throws IOException {
        if (failure == null) {
            synchronized (out) {
                writeFrame(GOAWAY, 0, 0, goAway(NO_ERROR), 0, 8);
                out.flush();
            }
        }
        fail(failure); // the read loop stops at its next turn
    }

    private void fail(CallException failure) {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (keepalive != null) {
            keepalive.cancel(false);
        }
        synchronized (flow) {
            flow.notifyAll();
        }
        closeQuietly(socket);
        listener.onClose(failure);
    }

    boolean isClosed() {
        return closed.get();
    }

    // ---- framing helpers ----

    private void writeFrame(int type, int flags, int stream, byte[] payload, int offset, int length) throws IOException {
        out.write(length >>> 16);
        out.write(length >>> 8);
        out.write(length);
        out.write(type);
        out.write(flags);
        out.write(int32(stream), 0, 4);
        out.write(payload, offset, length);
    }

    private void readFully(byte[] b, int offset, int length) throws IOException {
        int n = in.readNBytes(b, offset, length);
        if (n < length) {
            throw new EOFException(goingAway ? "the control plane closed the connection after GOAWAY"
                    : "the control plane closed the connection");
        }
    }

    private byte[] readBytes(int length) throws IOException {
        byte[] b = new byte[length];
        readFully(b, 0, length);
        return b;
    }

    private int readByte() throws IOException {
        int b = in.read();
        if (b < 0) {
            throw new EOFException("the control plane closed the connection");
        }
        return b;
    }

    private void skip(int length) throws IOException {
        in.skipNBytes(length);
    }

    private static void putSetting(byte[] b, int at, int id, int value) {
        b[at] = (byte) (id >>> 8);
        b[at + 1] = (byte) id;
        System.arraycopy(int32(value), 0, b, at + 2, 4);
    }

    private static byte[] goAway(int error) {
        byte[] b = new byte[8];
        // the last stream the server opened that this side processed: none (bytes 0-3 stay 0)
        System.arraycopy(int32(error), 0, b, 4, 4);
        return b;
    }

    private static byte[] int32(int v) {
        return new byte[]{(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    private static int int32(byte[] b, int at) {
        return ((b[at] & 0xff) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8) | (b[at + 3] & 0xff);
    }

    private static String field(List<String> fields, String name) {
        for (int i = 0; i < fields.size(); i += 2) {
            if (fields.get(i).equals(name)) {
                return fields.get(i + 1);
            }
        }
        return null;
    }

    /** ": " and the percent-decoded {@code grpc-message}, or nothing. */
    private static String grpcMessage(List<String> fields) {
        String m = field(fields, "grpc-message");
        if (m == null || m.isEmpty()) {
            return "";
        }
        try {
            return ": " + URLDecoder.decode(m.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return ": " + m;
        }
    }

    /** The gRPC code for an HTTP status without one (gRPC's HTTP-to-gRPC status mapping). */
    private static int httpStatusCode(String status) {
        return switch (status == null ? "" : status) {
            case "400" -> INTERNAL;
            case "401" -> 16; // UNAUTHENTICATED
            case "403" -> 7; // PERMISSION_DENIED
            case "404" -> UNIMPLEMENTED;
            case "429", "502", "503", "504" -> UNAVAILABLE;
            default -> UNKNOWN;
        };
    }

    static String codeName(int code) {
        return code >= 0 && code < CODE_NAMES.length ? CODE_NAMES[code] : "code " + code;
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // nothing to do
        }
    }
}
