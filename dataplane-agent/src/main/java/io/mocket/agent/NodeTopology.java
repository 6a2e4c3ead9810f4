package io.mocket.agent;

import io.mocket.api.istio.workload.Locality;
import java.util.Objects;
import java.util.Optional;

/**
 * Where this node sits in the mesh: its Kubernetes node name, network, cluster and locality. Routing
 * preferences of services are ranked relative to it: every pod of a node shares the node's region, zone
 * and subzone, so the node's locality stands for the source workload's, which is what ztunnel compares.
 *
 * @param nodeName  the Kubernetes node name ({@code Workload.node} of the pods here)
 * @param network   the network of this node ("" is Istio's default network)
 * @param clusterId the cluster id ({@code Workload.cluster_id}; istiod's default is "Kubernetes")
 * @param locality  region/zone/subzone; empty to learn it from the workloads that run on this node
 */
public record NodeTopology(String nodeName, String network, String clusterId, Optional<Locality> locality) {

    public NodeTopology {
        Objects.requireNonNull(nodeName, "nodeName");
        Objects.requireNonNull(network, "network");
        Objects.requireNonNull(clusterId, "clusterId");
        Objects.requireNonNull(locality, "locality");
        if (nodeName.isBlank()) {
            throw new IllegalArgumentException("node name is empty: set NODE_NAME or --node-name to the Kubernetes"
                    + " node this agent runs on");
        }
    }

    /**
     * The locality to rank against: the configured one, else that of the workloads on this node (the one
     * with the smallest name when they disagree, so the answer is stable), else empty fields.
     */
    public Locality localityIn(NodeState.Snapshot snapshot) {
        if (locality.isPresent()) {
            return locality.get();
        }
        KnownWorkload first = null;
        for (KnownWorkload w : snapshot.workloads().values()) {
            if (w.locality() != null && w.node().equals(nodeName)
                    && (first == null || w.uid().compareTo(first.uid()) < 0)) {
                first = w;
            }
        }
        return first == null ? Locality.getDefaultInstance() : first.locality();
    }

    /** Whether a workload runs on this node. */
    public boolean isLocal(KnownWorkload workload) {
        return workload.node().equals(nodeName);
    }
}
