package io.mocket.controlplane.xds;

/**
 * What one connected client holds of one resource type, as the debug endpoint shows it. A value
 * taken at one instant; generations are -1 and strings empty when nothing happened yet.
 *
 * @param typeUrl          the subscribed type URL
 * @param wildcard         true when the client receives every resource of the type
 * @param subscribedNames  names the client asked for explicitly (canonical names or aliases)
 * @param impliedNames     canonical names the server subscribed the client to on its behalf (the
 *                         resource behind an alias, the workloads behind a requested service)
 * @param sentGeneration   snapshot generation of the last response sent
 * @param sentNonce        nonce of the last response sent
 * @param ackedGeneration  snapshot generation of the last response the client ACKed
 * @param ackedNonce       nonce of the last response the client ACKed
 * @param nackCount        responses of this type the client rejected on this stream
 * @param lastNackMessage  the client's error message of its last rejection
 */
public record XdsTypeStatus(String typeUrl, boolean wildcard, int subscribedNames, int impliedNames,
                            long sentGeneration, String sentNonce, long ackedGeneration, String ackedNonce,
                            long nackCount, String lastNackMessage) {
}
