package io.mocket.controlplane.kube;

import java.util.Objects;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one way the control plane writes to Kubernetes: a write runs only while this replica leads, otherwise
 * it is skipped and the {@link Skipped} outcome says why. Every replica serves xDS; only writes are gated.
 *
 * <p>The check happens before the write starts. {@link LeaderElection#isLeader()} turns false at the renew
 * deadline, before the lease can expire for the others, so a write that starts as leader finishes before
 * another replica can lead, provided it takes less than leaseDuration - renewDeadline (5 s by default).
 */
public final class LeaderGate {

    /** What decides whether this process may write. */
    public interface Leadership {
        boolean isLeader();

        /** Why this process may not write now; called only when {@link #isLeader()} is false. */
        String notLeaderReason();
    }

    /** The result of a gated write. */
    public sealed interface Outcome<T> permits Written, Skipped {
        default boolean written() {
            return this instanceof Written<T>;
        }
    }

    /** The write ran and returned {@code result}. */
    public record Written<T>(T result) implements Outcome<T> {
    }

    /** The write did not run; {@code reason} names the write, the lease and the leader. */
    public record Skipped<T>(String reason) implements Outcome<T> {
    }

    private static final Logger log = LoggerFactory.getLogger(LeaderGate.class);

    private final Leadership leadership;

    public LeaderGate(Leadership leadership) {
        this.leadership = Objects.requireNonNull(leadership, "leadership");
    }

    /**
     * A gate that always writes, for the file source: it has no Kubernetes API to hold a lease in and runs as
     * a single process, so there is nobody to coordinate with.
     */
    public static LeaderGate standalone() {
        return new LeaderGate(new Leadership() {
            @Override
            public boolean isLeader() {
                return true;
            }

            @Override
            public String notLeaderReason() {
                return "standalone: always leads";
            }
        });
    }

    /**
     * Runs {@code write} if this replica leads now.
     *
     * @param what what the write does, for the skip message ("update status of Gateway istio-system/waypoint")
     */
    public <T> Outcome<T> write(String what, Supplier<T> write) {
        Objects.requireNonNull(write, "write");
        if (!leadership.isLeader()) {
            String reason = "skipped " + what + ": " + leadership.notLeaderReason()
                    + "; the leader performs this write";
            log.info("{}", reason);
            return new Skipped<>(reason);
        }
        return new Written<>(write.get());
    }

    /** Runs {@code write} if this replica leads now. */
    public Outcome<Void> write(String what, Runnable write) {
        Objects.requireNonNull(write, "write");
        return write(what, () -> {
            write.run();
            return null;
        });
    }
}
