package io.mocket.bpf;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

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
import java.nio.ByteOrder;

/**
 * Plain BSD socket calls through FFM, so test clients choose AF_INET or AF_INET6 exactly, call the real
 * getpeername (Java caches the address it connected to) and read SO_COOKIE.
 */
final class PosixSocket implements AutoCloseable {

    static final int AF_INET = 2;
    static final int AF_INET6 = 10;
    static final int SOCK_STREAM = 1;
    static final int SOCK_DGRAM = 2;
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVTIMEO = 20;
    private static final int SO_SNDTIMEO = 21;
    private static final int SO_COOKIE = 57;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ValueLayout.OfShort BE16 = JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);

    private static final MethodHandle SOCKET = call("socket", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
    private static final MethodHandle CONNECT = call("connect", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle GETPEERNAME = call("getpeername", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
    private static final MethodHandle SEND = call("send", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
    private static final MethodHandle RECV = call("recv", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
    private static final MethodHandle SENDTO =
            call("sendto", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle RECVFROM =
            call("recvfrom", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS);
    private static final MethodHandle SETSOCKOPT =
            call("setsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle GETSOCKOPT =
            call("getsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
    private static final MethodHandle CLOSE = call("close", JAVA_INT, JAVA_INT);

    /** A failed socket call: the step and the errno name. */
    static final class SocketError extends Exception {
        final String errno;

        SocketError(String step, int errno) {
            super(step + " " + Errno.name(errno));
            this.errno = Errno.name(errno);
        }
    }

    /** An address as the socket saw it: family (4/6), textual address (::ffff:a.b.c.d kept), port. */
    record SockAddr(int family, String address, int port) {
        @Override
        public String toString() {
            return family + "/" + address + "/" + port;
        }
    }

    private final Arena arena = Arena.ofConfined();
    private final int family;
    private final int fd;

    PosixSocket(int family, int type) throws SocketError {
        this.family = family;
        this.fd = (int) check("socket", invoke(SOCKET, family, type, 0));
        MemorySegment tv = arena.allocate(16);
        tv.set(JAVA_LONG, 0, 3); // seconds: every blocking call of a probe is bounded
        setsockopt(SO_RCVTIMEO, tv);
        setsockopt(SO_SNDTIMEO, tv);
    }

    void connect(InetAddress address, int port) throws SocketError {
        MemorySegment sa = sockaddr(address, port);
        check("connect", invoke(CONNECT, fd, sa, (int) sa.byteSize()));
    }

    SockAddr peer() throws SocketError {
        MemorySegment sa = arena.allocate(28);
        MemorySegment len = arena.allocate(JAVA_INT);
        len.set(JAVA_INT, 0, 28);
        check("getpeername", invoke(GETPEERNAME, fd, sa, len));
        return parse(sa);
    }

    void send(byte[] data) throws SocketError {
        MemorySegment buf = arena.allocateFrom(JAVA_BYTE, data);
        long off = 0;
        while (off < data.length) {
            long n = check("send", invoke(SEND, fd, buf.asSlice(off), data.length - off, 0));
            off += n;
        }
    }

    /** Receives up to {@code max} bytes; an empty array at EOF. */
    byte[] recv(int max) throws SocketError {
        MemorySegment buf = arena.allocate(max);
        long n = check("recv", invoke(RECV, fd, buf, (long) max, 0));
        return buf.asSlice(0, n).toArray(JAVA_BYTE);
    }

    /** Reads one line ending in \n (without it). */
    String readLine() throws SocketError {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 512; i++) {
            byte[] b = recv(1);
            if (b.length == 0 || b[0] == '\n') {
                break;
            }
            sb.append((char) b[0]);
        }
        return sb.toString();
    }

    /** Reads exactly n bytes (or until EOF). */
    byte[] readFully(int n) throws SocketError {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        while (out.size() < n) {
            byte[] b = recv(Math.min(65536, n - out.size()));
            if (b.length == 0) {
                break;
            }
            out.writeBytes(b);
        }
        return out.toByteArray();
    }

    void sendTo(byte[] data, InetAddress address, int port) throws SocketError {
        MemorySegment sa = sockaddr(address, port);
        check("sendto", invoke(SENDTO, fd, arena.allocateFrom(JAVA_BYTE, data), (long) data.length, 0, sa,
                (int) sa.byteSize()));
    }

    /** A datagram and where it came from. */
    record Datagram(byte[] data, SockAddr from) {
    }

    Datagram recvFrom(int max) throws SocketError {
        MemorySegment buf = arena.allocate(max);
        MemorySegment sa = arena.allocate(28);
        MemorySegment len = arena.allocate(JAVA_INT);
        len.set(JAVA_INT, 0, 28);
        long n = check("recvfrom", invoke(RECVFROM, fd, buf, (long) max, 0, sa, len));
        return new Datagram(buf.asSlice(0, n).toArray(JAVA_BYTE), parse(sa));
    }

    long cookie() throws SocketError {
        MemorySegment value = arena.allocate(JAVA_LONG);
        MemorySegment len = arena.allocate(JAVA_INT);
        len.set(JAVA_INT, 0, 8);
        check("getsockopt(SO_COOKIE)", invoke(GETSOCKOPT, fd, SOL_SOCKET, SO_COOKIE, value, len));
        return value.get(JAVA_LONG, 0);
    }

    @Override
    public void close() {
        invoke(CLOSE, fd);
        arena.close();
    }

    private void setsockopt(int option, MemorySegment value) throws SocketError {
        check("setsockopt", invoke(SETSOCKOPT, fd, SOL_SOCKET, option, value, (int) value.byteSize()));
    }

    /** sockaddr_in for AF_INET; sockaddr_in6 for AF_INET6, with IPv4 written as ::ffff:a.b.c.d. */
    private MemorySegment sockaddr(InetAddress address, int port) {
        if (family == AF_INET) {
            MemorySegment sa = arena.allocate(16);
            sa.set(JAVA_SHORT, 0, (short) AF_INET);
            sa.set(BE16, 2, (short) port);
            MemorySegment.copy(address.getAddress(), 0, sa, JAVA_BYTE, 4, 4);
            return sa;
        }
        MemorySegment sa = arena.allocate(28);
        sa.set(JAVA_SHORT, 0, (short) AF_INET6);
        sa.set(BE16, 2, (short) port);
        byte[] raw = address.getAddress();
        if (address instanceof Inet4Address) {
            sa.set(JAVA_BYTE, 8 + 10, (byte) 0xff);
            sa.set(JAVA_BYTE, 8 + 11, (byte) 0xff);
            MemorySegment.copy(raw, 0, sa, JAVA_BYTE, 8 + 12, 4);
        } else {
            MemorySegment.copy(raw, 0, sa, JAVA_BYTE, 8, 16);
        }
        return sa;
    }

    private static SockAddr parse(MemorySegment sa) {
        int fam = sa.get(JAVA_SHORT, 0);
        int port = Short.toUnsignedInt(sa.get(BE16, 2));
        if (fam == AF_INET) {
            byte[] a = sa.asSlice(4, 4).toArray(JAVA_BYTE);
            return new SockAddr(4, (a[0] & 0xff) + "." + (a[1] & 0xff) + "." + (a[2] & 0xff) + "." + (a[3] & 0xff),
                    port);
        }
        byte[] a = sa.asSlice(8, 16).toArray(JAVA_BYTE);
        boolean mapped = true;
        for (int i = 0; i < 10; i++) {
            mapped &= a[i] == 0;
        }
        mapped &= a[10] == (byte) 0xff && a[11] == (byte) 0xff;
        if (mapped) {
            return new SockAddr(6, "::ffff:" + (a[12] & 0xff) + "." + (a[13] & 0xff) + "." + (a[14] & 0xff) + "."
                    + (a[15] & 0xff), port);
        }
        try {
            return new SockAddr(6, InetAddress.getByAddress(a).getHostAddress(), port);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long check(String step, long rc) throws SocketError {
        if (rc < 0) {
            throw new SocketError(step, (int) -rc);
        }
        return rc;
    }

    /** Calls with errno captured; returns the result, or -errno on failure. */
    private static long invoke(MethodHandle h, Object... args) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = a.allocate(STATE);
            Object[] full = new Object[args.length + 1];
            full[0] = state;
            System.arraycopy(args, 0, full, 1, args.length);
            Object r = h.invokeWithArguments(full);
            long rc = r instanceof Integer i ? i : (Long) r;
            return rc < 0 ? -(int) ERRNO.get(state, 0L) : rc;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static MethodHandle call(String name, MemoryLayout ret, MemoryLayout... args) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(),
                FunctionDescriptor.of(ret, args), Linker.Option.captureCallState("errno"));
    }
}
