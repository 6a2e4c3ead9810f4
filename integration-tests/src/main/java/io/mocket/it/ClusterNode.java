package io.mocket.it;

import java.net.InetAddress;
import java.nio.file.Path;

/**
 * One node of a {@link TestCluster}: a network namespace on the underlay, a pod subnet behind a bridge,
 * a cgroup2 directory that holds its pods' processes (where the node's BPF programs attach), and a pin
 * directory on the cluster's private bpffs (where the node's maps and links are pinned).
 *
 * @param name          the node name, also the last element of its pin directory
 * @param index         position in the cluster, from 0
 * @param netns         the network namespace name
 * @param underlayIp    the node's address on the underlay subnet
 * @param podGateway    the node's address on its pod bridge, the pods' next hop
 * @param podCidr       the node's pod subnet, e.g. {@code 10.251.0.0/24}
 * @param cgroup        the node's cgroup2 directory
 * @param pinDirectory  where this node's BPF objects are pinned
 */
public record ClusterNode(String name, int index, String netns, InetAddress underlayIp, InetAddress podGateway,
                          String podCidr, Path cgroup, Path pinDirectory) {

    /** The node's {@code cgroup.procs}: writing a pid there puts that process under the node's programs. */
    public Path cgroupProcs() {
        return cgroup.resolve("cgroup.procs");
    }
}
