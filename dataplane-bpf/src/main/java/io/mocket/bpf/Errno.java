package io.mocket.bpf;

import java.util.Arrays;
import java.util.Optional;

/** The Linux errno values that BPF calls return, with their symbolic names (x86-64 and arm64 numbering). */
public enum Errno {
    EPERM(1),
    ENOENT(2),
    ESRCH(3),
    EINTR(4),
    EIO(5),
    E2BIG(7),
    EBADF(9),
    EAGAIN(11),
    ENOMEM(12),
    EACCES(13),
    EFAULT(14),
    EBUSY(16),
    EEXIST(17),
    EXDEV(18),
    ENODEV(19),
    ENOTDIR(20),
    EISDIR(21),
    EINVAL(22),
    EMFILE(24),
    ENOSPC(28),
    ERANGE(34),
    ENAMETOOLONG(36),
    ENOSYS(38),
    ENOTEMPTY(39),
    ELOOP(40),
    ENODATA(61),
    EPROTO(71),
    EOPNOTSUPP(95),
    EAFNOSUPPORT(97),
    EADDRINUSE(98),
    ENETUNREACH(101),
    ECONNRESET(104),
    ETIMEDOUT(110),
    ECONNREFUSED(111),
    EHOSTUNREACH(113),
    // Kernel-internal value that leaks to user space from BPF calls (not in libc).
    ENOTSUPP(524);

    private final int number;

    Errno(int number) {
        this.number = number;
    }

    /** The positive errno number. */
    public int number() {
        return number;
    }

    /** The errno of a number, if it is one of the known ones. */
    public static Optional<Errno> of(int number) {
        return Arrays.stream(values()).filter(e -> e.number == number).findFirst();
    }

    /** "ENOENT" for 2, "errno 1234" for unknown numbers. */
    public static String name(int number) {
        return of(number).map(Enum::name).orElse("errno " + number);
    }
}
