/**
 * Mocket node agent: subscribes to the control plane's workload xDS ({@link io.mocket.agent.XdsClient}),
 * keeps what the node believes in one store ({@link io.mocket.agent.NodeState}), and turns it into the
 * socket load balancer's pinned BPF maps ({@link io.mocket.agent.ServiceReconciler}). Data flows one way:
 * the xDS client only writes the store, everything else only reads it.
 */
package io.mocket.agent;
