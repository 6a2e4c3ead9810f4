package io.mocket.controlplane.xds;

import java.time.Instant;
import java.util.List;

/**
 * One connected xDS stream as the debug endpoint shows it; a value taken at one instant.
 *
 * @param streamId    identifies the stream within this control plane process
 * @param nodeId      the node id of the client's first request ("ztunnel~10.0.0.5~ztunnel-x.istio-system~..."),
 *                    empty when the client sent none
 * @param peer        the client's address as the transport sees it
 * @param connectedAt when the stream opened
 * @param protocol    delta or state of the world
 * @param types       one entry per subscribed type, in type order
 */
public record XdsClientStatus(long streamId, String nodeId, String peer, Instant connectedAt, XdsProtocol protocol,
                              List<XdsTypeStatus> types) {

    public XdsClientStatus {
        types = List.copyOf(types);
    }
}
