package io.mocket.it;

/**
 * What the tests and the benchmark ask of Mocket's data plane on a {@link TestCluster}: start it on a node,
 * publish and withdraw services. This is the one seam between the harness and how the data plane is
 * driven: {@link MapsDataPlane} loads the socket load balancer of each node and writes its maps directly;
 * a node-agent implementation will run one agent per node against the control plane instead, and no test
 * changes. Observations go through the pinned maps of each node ({@link ClusterNode#pinDirectory()}),
 * which either implementation leaves in the same place.
 *
 * <p>Contract: {@link #publish} may return before every node is programmed (an agent learns of a change
 * through xDS); callers that need a change in force wait for traffic to follow it, with a deadline. Not
 * thread-safe.
 */
public interface MeshDataPlane extends AutoCloseable {

    /** Starts the data plane of a node: from now on, processes in the node's cgroup get services. */
    void startNode(ClusterNode node);

    /** Publishes a new service or the new state of a known one (same name) to every started node. */
    void publish(MeshService service);

    /** Removes a service from every started node: its VIP becomes an unknown address again. */
    void withdraw(String serviceName);

    /** Stops the data plane on every node and removes what it put in the kernel. */
    @Override
    void close();
}
