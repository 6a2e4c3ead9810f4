package io.mocket.bpf;

import java.util.Optional;

/**
 * A failed libbpf or bpf(2) call: names the call, the object it worked on (program, map, pin path,
 * cgroup), the errno and the most likely fix, so the message alone tells an operator what to do.
 */
public final class BpfException extends RuntimeException {

    private final String call;
    private final String object;
    private final int errno;

    BpfException(String call, String object, int errno, String message, Throwable cause) {
        super(message, cause);
        this.call = call;
        this.object = object;
        this.errno = errno;
    }

    /** An exception for {@code call} on {@code object} failing with {@code errno}, with the fix in the message. */
    static BpfException of(String call, String object, int errno) {
        return withDetail(call, object, errno, null);
    }

    /** Same as {@link #of} with extra text (e.g. the tail of the verifier log) after the fix. */
    static BpfException withDetail(String call, String object, int errno, String detail) {
        StringBuilder msg = new StringBuilder()
                .append(call).append(" failed for ").append(object)
                .append(": ").append(Errno.name(errno));
        String fix = fix(call, object, errno);
        if (fix != null) {
            msg.append(": ").append(fix);
        }
        if (detail != null && !detail.isBlank()) {
            msg.append('\n').append(detail);
        }
        return new BpfException(call, object, errno, msg.toString(), null);
    }

    /** The libbpf or syscall wrapper that failed, e.g. "bpf_object__load". */
    public String call() {
        return call;
    }

    /** What the call worked on, e.g. "map mk_frontend" or "pin /sys/fs/bpf/mocket/n1/mk_frontend". */
    public String object() {
        return object;
    }

    /** The positive errno, 0 if the failure had none (library missing). */
    public int errno() {
        return errno;
    }

    /** The errno as a known constant, if it is one. */
    public Optional<Errno> errnoName() {
        return Errno.of(errno);
    }

    private static String fix(String call, String object, int errno) {
        boolean pin = call.contains("pin") || call.equals("bpf_obj_get") || call.equals("bpf_link__open")
                || object.contains("pin");
        return switch (Errno.of(errno).orElse(null)) {
            case EPERM, EACCES -> call.equals("bpf_object__load") && errno == Errno.EACCES.number()
                    ? "the verifier rejected a program (log below); the BPF code or the kernel version is at fault"
                    : "needs root or CAP_BPF + CAP_NET_ADMIN (+ CAP_SYS_ADMIN for pinning and cgroup attach)";
            case ENOENT -> pin
                    ? "nothing is pinned there, or bpffs is not mounted above it: mount -t bpf bpf /sys/fs/bpf"
                    : null;
            case EINVAL -> pin
                    ? "the path is not on a bpffs mount (mount -t bpf bpf /sys/fs/bpf) or names the wrong kind of object"
                    : call.contains("attach")
                    ? "the target is not a cgroup v2 directory (mount -t cgroup2 none <dir>) or the program type does not fit"
                    : "the kernel rejected a map or program: the pin root may not be on bpffs (mount -t bpf bpf"
                            + " /sys/fs/bpf), or a map pinned by another Mocket version has another layout (remove"
                            + " the pins and restart)";
            case EEXIST -> pin ? "something is already pinned at that path: unpin it or adopt it" : null;
            case EBADF -> call.contains("attach")
                    ? "the target is not a cgroup v2 directory: mount -t cgroup2 none <dir> and attach to a directory in it"
                    : "the fd is closed: the object was used after close()";
            case ENOMEM -> "memlock or memory cgroup limit reached: raise RLIMIT_MEMLOCK (kernels before 5.11) or"
                    + " the agent's memory limit";
            case E2BIG -> "the map is full (max_entries reached)";
            case ENOSPC -> "the verifier log buffer is too small or the map is full";
            case EOPNOTSUPP, ENOTSUPP, ENOSYS -> "this kernel lacks the feature (see HostCheck for what is missing)";
            case ENOTDIR -> "a path component is not a directory";
            case EBUSY -> "the hook already has an exclusive program attached by someone else";
            case null, default -> null;
        };
    }
}
