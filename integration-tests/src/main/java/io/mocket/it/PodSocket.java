package io.mocket.it;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;
import java.util.Map;

/**
 * An IPv4 BSD socket called through FFM. The probes need it because {@code java.net} answers
 * {@code getRemoteAddress()} from what it connected to, never from the kernel: only a real
 * {@code getpeername(2)} shows whether the data plane reports the VIP. Every blocking call is bounded by
 * a 3 s socket timeout.
 */
final class PodSocket implements AutoCloseable {

    static final int SOCK_STREAM = 1;
    static final int SOCK_DGRAM = 2;
    private static final int AF_INET = 2;
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVTIMEO = 20;
    private static final int SO_SNDTIMEO = 21;
    private static final int SOCKADDR_IN = 16;

    private static final Map<Integer, String> ERRNO_NAMES = Map.of(1, "EPERM", 11, "EAGAIN", 101, "ENETUNREACH",
            104, "ECONNRESET", 110, "ETIMEDOUT", 111, "ECONNREFUSED", 113, "EHOSTUNREACH", 22, "EINVAL");

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ValueLayout.OfShort BE16 = JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);

    private static final MethodHandle SOCKET = call("socket", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
    private static final MethodHandle CONNECT = call("connect", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle GETPEERNAME = call("getpeername", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
    private static final MethodHandle GETSOCKNAME = call("getsockname", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
    private static final MethodHandle SEND = call("send", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
    private static final MethodHandle RECV = call("recv", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
    private static final MethodHandle SENDTO =
            call("sendto", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle RECVFROM =
            call("recvfrom", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS);
    private static final MethodHandle SETSOCKOPT =
            call("setsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle CLOSE = call("close", JAVA_INT, JAVA_INT);

    /** A failed socket call, named by step and errno (ECONNREFUSED, ENETUNREACH...). */
    static final class SocketError extends Exception {
        final String errno;

        SocketError(String step, int errno) {
            super(step + " " + ERRNO_NAMES.getOrDefault(errno, "errno" + errno));
            this.errno = ERRNO_NAMES.getOrDefault(errno, "errno" + errno);
        }
    }

    /** A datagram and the address the kernel says it came from. */
    record Datagram(byte[] data, InetSocketAddress from) {
    }

    private final Arena arena = Arena.ofConfined();
    private final int fd;

    PodSocket(int type) throws SocketError {
        this.fd = (int) check("socket", invoke(SOCKET, AF_INET, type, 0));
        MemorySegment timeout = arena.allocate(16);
        timeout.set(JAVA_LONG, 0, 3); // struct timeval: 3 s, 0 us
        check("setsockopt", invoke(SETSOCKOPT, fd, SOL_SOCKET, SO_RCVTIMEO, timeout, 16));
        check("setsockopt", invoke(SETSOCKOPT, fd, SOL_SOCKET, SO_SNDTIMEO, timeout, 16));
    }

    void connect(InetSocketAddress to) throws SocketError {
        check("connect", invoke(CONNECT, fd, sockaddr(to), SOCKADDR_IN));
    }

    /** The kernel's getpeername: what the application believes it is connected to. */
    InetSocketAddress peer() throws SocketError {
        return name(GETPEERNAME, "getpeername");
    }

    InetSocketAddress local() throws SocketError {
        return name(GETSOCKNAME, "getsockname");
    }

    private InetSocketAddress name(MethodHandle call, String step) throws SocketError {
        MemorySegment sa = arena.allocate(SOCKADDR_IN);
        MemorySegment len = arena.allocate(JAVA_INT);
        len.set(JAVA_INT, 0, SOCKADDR_IN);
        check(step, invoke(call, fd, sa, len));
        return parse(sa);
    }

    void send(byte[] data) throws SocketError {
        MemorySegment buf = arena.allocateFrom(JAVA_BYTE, data);
        for (long off = 0; off < data.length; ) {
            off += check("send", invoke(SEND, fd, buf.asSlice(off), data.length - off, 0));
        }
    }

    /** Up to {@code max} bytes; empty at end of stream. */
    byte[] recv(int max) throws SocketError {
        MemorySegment buf = arena.allocate(max);
        long n = check("recv", invoke(RECV, fd, buf, (long) max, 0));
        return buf.asSlice(0, n).toArray(JAVA_BYTE);
    }

    /** One line ending in a newline (not included), at most 256 bytes. */
    String readLine() throws SocketError {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < 256; i++) {
            byte[] b = recv(1);
            if (b.length == 0 || b[0] == '\n') {
                break;
            }
            line.append((char) b[0]);
        }
        return line.toString();
    }

    /** Exactly {@code n} bytes, or fewer if the stream ends first. */
    byte[] readFully(int n) throws SocketError {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (out.size() < n) {
            byte[] b = recv(Math.min(65536, n - out.size()));
            if (b.length == 0) {
                break;
            }
            out.writeBytes(b);
        }
        return out.toByteArray();
    }

    void sendTo(byte[] data, InetSocketAddress to) throws SocketError {
        check("sendto", invoke(SENDTO, fd, arena.allocateFrom(JAVA_BYTE, data), (long) data.length, 0,
                sockaddr(to), SOCKADDR_IN));
    }

    Datagram recvFrom(int max) throws SocketError {
        MemorySegment buf = arena.allocate(max);
        MemorySegment sa = arena.allocate(SOCKADDR_IN);
        MemorySegment len = arena.allocate(JAVA_INT);
        len.set(JAVA_INT, 0, SOCKADDR_IN);
        long n = check("recvfrom", invoke(RECVFROM, fd, buf, (long) max, 0, sa, len));
        return new Datagram(buf.asSlice(0, n).toArray(JAVA_BYTE), parse(sa));
    }

    @Override
    public void close() {
        invoke(CLOSE, fd);
        arena.close();
    }

    private MemorySegment sockaddr(InetSocketAddress to) {
        if (!(to.getAddress() instanceof Inet4Address)) {
            throw new IllegalArgumentException("the test cluster is IPv4: " + to);
        }
        MemorySegment sa = arena.allocate(SOCKADDR_IN);
        sa.set(JAVA_SHORT, 0, (short) AF_INET);
        sa.set(BE16, 2, (short) to.getPort());
        MemorySegment.copy(to.getAddress().getAddress(), 0, sa, JAVA_BYTE, 4, 4);
        return sa;
    }

    private static InetSocketAddress parse(MemorySegment sa) {
        try {
            return new InetSocketAddress(InetAddress.getByAddress(sa.asSlice(4, 4).toArray(JAVA_BYTE)),
                    Short.toUnsignedInt(sa.get(BE16, 2)));
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long check(String step, long rc) throws SocketError {
        if (rc < 0) {
            throw new SocketError(step, (int) -rc);
        }
        return rc;
    }

    /** Calls with errno captured: the result, or minus errno on failure. */
    private static long invoke(MethodHandle handle, Object... args) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment state = call.allocate(STATE);
            Object[] full = new Object[args.length + 1];
            full[0] = state;
            System.arraycopy(args, 0, full, 1, args.length);
            Object r = handle.invokeWithArguments(full);
            long rc = r instanceof Integer i ? i : (Long) r;
            return rc < 0 ? -(int) ERRNO.get(state, 0L) : rc;
        } catch (Throwable t) {
            throw new IllegalStateException("socket call failed in the JVM", t);
        }
    }

    private static MethodHandle call(String name, MemoryLayout ret, MemoryLayout... args) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(),
                FunctionDescriptor.of(ret, args), Linker.Option.captureCallState("errno"));
    }
}
