/**
 * The xDS protocol engine of the control plane: delta and state-of-the-world ADS for the resource types
 * of {@link io.mocket.controlplane.resources.ResourceType}, wire-compatible with what istiod serves to
 * ztunnel, plus the index lookup service and the gRPC server that carries both.
 *
 * <p>The seam is {@link io.mocket.controlplane.resources.ResourceStore}: this package only reads it.
 * Each stream remembers, per type, the snapshot its client's view was last computed from; a push is
 * {@code ResourceStore.changes(type, sent, current)} filtered by what the client subscribed to, so an
 * idle wildcard client costs one snapshot reference, and a client that fell behind (slow reader, gRPC
 * flow control) catches up with one combined response.
 */
package io.mocket.controlplane.xds;
