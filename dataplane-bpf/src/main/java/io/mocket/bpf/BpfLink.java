package io.mocket.bpf;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A BPF link: one program attached to one hook. Kept attached by its pin on bpffs while the agent is
 * down; {@link #close()} only releases this process's reference, {@link #detach()} ends the attachment.
 * Not thread-safe.
 */
public final class BpfLink implements AutoCloseable {

    private final Libbpf libbpf;
    private final String description;
    private MemorySegment handle;

    BpfLink(Libbpf libbpf, String description, MemorySegment handle) {
        this.libbpf = libbpf;
        this.description = description;
        this.handle = handle;
    }

    /** Opens a link pinned on bpffs. */
    public static BpfLink openPinned(Libbpf libbpf, Path pin) {
        return new BpfLink(libbpf, "link " + pin, libbpf.linkOpen(pin.toString()));
    }

    /** Pins the link, so it outlives this process. */
    public void pin(Path path) {
        libbpf.linkPin(live(), path.toString());
    }

    /** Removes the link's pin (a no-op for a link libbpf did not pin or open from a pin). */
    public void unpin() {
        libbpf.linkUnpin(live(), description);
    }

    /** Replaces the attached program in one step: the hook never runs without a program. */
    public void updateProgram(BpfProgram program) {
        libbpf.linkUpdateProgram(live(), description + " to program " + program.name(), program.handle());
    }

    /** The kernel's view of a link: its id, the program it runs and, for a cgroup link, the cgroup. */
    public record Info(int id, int programId, long cgroupId) {
    }

    /** Reads the link's kernel info; {@code cgroupId} is the cgroup2 directory's inode, 0 once detached. */
    public Info info() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = arena.allocate(Libbpf.LINK_INFO);
            libbpf.objInfo(libbpf.linkFd(live(), description), info, description);
            return new Info(info.get(JAVA_INT, 4), info.get(JAVA_INT, 8), info.get(JAVA_LONG, 16));
        }
    }

    /** Detaches the program from its hook now, even though the link is pinned; the pin stays until unpinned. */
    public void detach() {
        libbpf.linkDetach(live(), description);
    }

    /** What this link attaches, for messages. */
    public String description() {
        return description;
    }

    /** Releases this process's reference; a pinned link stays attached. Idempotent. */
    @Override
    public void close() {
        if (handle != null) {
            libbpf.linkDisconnectAndDestroy(handle);
            handle = null;
        }
    }

    private MemorySegment live() {
        if (handle == null) {
            throw new IllegalStateException(description + " is closed");
        }
        return handle;
    }

    @Override
    public String toString() {
        return "BpfLink[" + description + "]";
    }
}
