package io.mocket.controlplane.xds;

import io.mocket.controlplane.resources.ResourceType;

/**
 * The nonce of one response, in one of two forms. Both carry the snapshot generation the response
 * reflects, so an ACK maps back to what it acknowledges without a table of in-flight nonces per stream.
 *
 * <ul>
 *   <li>Stream-local, {@code "<seq base 36>-<generation>"} (e.g. {@code "1f-42"}): for responses that only
 *       this stream gets (a first sync against initial_resource_versions, answers to named subscriptions).
 *       {@code seq} increases with every response on a stream, across types.</li>
 *   <li>Shared, {@code "<type ordinal>.<generation>"} (e.g. {@code "0.42"}): for a response that is
 *       byte-identical for every wildcard client at the same point, see {@link SharedDeltaResponses}. It
 *       is still unique on a stream: each shared response of a type moves that type to a newer generation.</li>
 * </ul>
 *
 * @param seq        the stream-local sequence number, or -1 for a shared nonce
 * @param type       the resource type's ordinal for a shared nonce, or -1 for a stream-local one
 * @param generation the snapshot generation the response reflects
 */
record Nonce(long seq, int type, long generation) {

    static Nonce local(long seq, long generation) {
        return new Nonce(seq, -1, generation);
    }

    static Nonce shared(ResourceType type, long generation) {
        return new Nonce(-1, type.ordinal(), generation);
    }

    boolean isShared() {
        return type >= 0;
    }

    /** The wire form. */
    String format() {
        return isShared() ? type + "." + generation : Long.toString(seq, 36) + "-" + generation;
    }

    /** Parses a nonce echoed by a client, or returns null when it is not one this server made. */
    static Nonce parse(String text) {
        int dot = text.indexOf('.');
        if (dot >= 0) {
            return parseShared(text, dot);
        }
        int dash = text.indexOf('-');
        if (dash <= 0 || dash == text.length() - 1) {
            return null;
        }
        try {
            long seq = Long.parseLong(text, 0, dash, 36);
            long generation = Long.parseLong(text, dash + 1, text.length(), 10);
            return seq >= 0 && generation >= 0 ? local(seq, generation) : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static Nonce parseShared(String text, int dot) {
        if (dot == 0 || dot == text.length() - 1) {
            return null;
        }
        try {
            int type = Integer.parseInt(text, 0, dot, 10);
            long generation = Long.parseLong(text, dot + 1, text.length(), 10);
            return type >= 0 && type < ResourceType.values().length && generation >= 0
                    ? new Nonce(-1, type, generation) : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
