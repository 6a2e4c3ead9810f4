package io.mocket.it;

import java.net.InetAddress;

/**
 * A pod of a {@link TestCluster}: its own network namespace with one interface ({@code eth0}) on its node's
 * pod bridge. It has routes to the cluster's pod and underlay subnets only: nothing else is reachable.
 *
 * @param name    unique in the cluster
 * @param node    the node it runs on
 * @param netns   the network namespace name
 * @param address its pod IP
 */
public record Pod(String name, ClusterNode node, String netns, InetAddress address) {

    /** The pod IP as text. */
    public String ip() {
        return address.getHostAddress();
    }
}
