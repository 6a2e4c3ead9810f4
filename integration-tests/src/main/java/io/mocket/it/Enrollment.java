package io.mocket.it;

/**
 * Whether a pod process runs under its node's data plane, in Istio's words for a pod's dataplane mode.
 * On a real node every enrolled pod lives in the cgroup subtree the agent attaches to; here the process is
 * written into the node's cgroup before it starts.
 */
public enum Enrollment {
    /** In the node's cgroup: the node's socket programs see its connects, sends and receives. */
    AMBIENT,
    /** Only in the pod's network namespace: no program of the node applies (baselines). */
    NONE
}
