package io.mocket.controlplane.xds;

/**
 * The nonce of one response: a per-stream sequence number and the snapshot generation the response
 * was computed from. Carrying the generation inside the nonce lets an ACK be mapped back to what it
 * acknowledges without keeping a table of in-flight nonces per stream.
 *
 * @param seq        increases with every response on a stream, across types
 * @param generation the snapshot generation the response reflects
 */
record Nonce(long seq, long generation) {

    /** The wire form, e.g. "1f-42": sequence in base 36, generation in decimal. */
    String format() {
        return Long.toString(seq, 36) + "-" + generation;
    }

    /** Parses a nonce echoed by a client, or returns null when it is not one this server made. */
    static Nonce parse(String text) {
        int dash = text.indexOf('-');
        if (dash <= 0 || dash == text.length() - 1) {
            return null;
        }
        try {
            long seq = Long.parseLong(text, 0, dash, 36);
            long generation = Long.parseLong(text, dash + 1, text.length(), 10);
            return seq >= 0 && generation >= 0 ? new Nonce(seq, generation) : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
