/**
 * Where the control plane's view of the cluster comes from, and who may write to the cluster.
 *
 * <p><b>Sources.</b> {@link io.mocket.controlplane.kube.KubernetesSource} reads the API server with fabric8
 * informers; {@link io.mocket.controlplane.kube.FileSource} reads a directory of YAML (demos and tests). Both
 * deliver into one {@link io.mocket.controlplane.kube.ClusterSink} (the ambient index) with the same object
 * classes, so the index cannot tell them apart. Each reports {@link io.mocket.controlplane.kube.SourceHealth}
 * for readiness: synced once every kind has been read completely, and, for the API, while every watch is
 * live. When the API goes away the sink keeps the last delivered state and health says since when.
 *
 * <p><b>Missing CRDs do not block readiness.</b> Istio's security CRDs and the Gateway API may be absent. A
 * kind whose CRD is not installed is delivered as an empty set, which is the truth (no object of it can
 * exist), not a stale view; blocking readiness on it would take workload xDS away from every cluster without
 * the Gateway API. The WARN names the CRD and how to install it, and it is probed again periodically.
 * A 401/403 is different: objects may exist that the control plane cannot see, so it blocks readiness.
 *
 * <p><b>Writes.</b> Every replica serves xDS; the control plane writes nothing to Kubernetes yet. Any future
 * write goes through {@link io.mocket.controlplane.kube.LeaderGate}, which runs it only on the replica that holds
 * the {@link io.mocket.controlplane.kube.LeaderElection} Lease. With the file source there is no election.
 */
package io.mocket.controlplane.kube;
