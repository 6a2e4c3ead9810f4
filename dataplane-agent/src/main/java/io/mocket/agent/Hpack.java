package io.mocket.agent;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * HTTP/2 header compression (HPACK, RFC 7541) as far as the agent's one gRPC call needs it: the request's header
 * block is encoded with literals only (no dynamic table, no Huffman coding, both optional for an encoder), and the
 * control plane's header blocks are decoded in full: indexed fields, literals with and without indexing, the
 * dynamic table with its size updates and evictions, and Huffman-coded strings.
 *
 * <p>A {@link Decoder} belongs to one connection: its dynamic table follows every header block the peer sent on it,
 * in order. A block that breaks the format fails with {@link CompressionException}, which is a connection error
 * (the table can no longer be trusted).
 */
final class Hpack {
    private Hpack() {
    }

    /** A header block that cannot be decoded: HTTP/2's COMPRESSION_ERROR. */
    static final class CompressionException extends Exception {
        CompressionException(String message) {
            super(message);
        }
    }

    /** The static table (RFC 7541 appendix A); entry i is index i + 1. */
    private static final String[][] STATIC = {
            {":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"}, {":path", "/index.html"},
            {":scheme", "http"}, {":scheme", "https"}, {":status", "200"}, {":status", "204"}, {":status", "206"},
            {":status", "304"}, {":status", "400"}, {":status", "404"}, {":status", "500"}, {"accept-charset", ""},
            {"accept-encoding", "gzip, deflate"}, {"accept-language", ""}, {"accept-ranges", ""}, {"accept", ""},
            {"access-control-allow-origin", ""}, {"age", ""}, {"allow", ""}, {"authorization", ""},
            {"cache-control", ""}, {"content-disposition", ""}, {"content-encoding", ""}, {"content-language", ""},
            {"content-length", ""}, {"content-location", ""}, {"content-range", ""}, {"content-type", ""},
            {"cookie", ""}, {"date", ""}, {"etag", ""}, {"expect", ""}, {"expires", ""}, {"from", ""}, {"host", ""},
            {"if-match", ""}, {"if-modified-since", ""}, {"if-none-match", ""}, {"if-range", ""},
            {"if-unmodified-since", ""}, {"last-modified", ""}, {"link", ""}, {"location", ""}, {"max-forwards", ""},
            {"proxy-authenticate", ""}, {"proxy-authorization", ""}, {"range", ""}, {"referer", ""}, {"refresh", ""},
            {"retry-after", ""}, {"server", ""}, {"set-cookie", ""}, {"strict-transport-security", ""},
            {"transfer-encoding", ""}, {"user-agent", ""}, {"vary", ""}, {"via", ""}, {"www-authenticate", ""}};

    /**
     * Code length in bits of each symbol of the Huffman code (RFC 7541 appendix B), symbols 0–255 and EOS (256).
     * The code is canonical: codes of one length are consecutive in symbol order, and each length's first code
     * follows the previous length's last, so the lengths define the codes ({@link #HUFFMAN_FIRST_CODE}).
     */
    private static final byte[] HUFFMAN_LENGTHS = {
            13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28,
            28, 28, 28, 28, 28,
            6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
            13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
            15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
            20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22,
            23, 22, 23, 23, 24,
            22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22,
            22, 23, 22, 22, 23,
            26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26,
            26, 28, 27, 27, 27,
            20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27,
            27, 27, 27, 27, 26,
            30};
    private static final int EOS = 256;
    private static final int MAX_CODE_LENGTH = 30;
    /** Per length: the first code of that length, how many codes have it, and where they start in {@link #HUFFMAN_SYMBOLS}. */
    private static final int[] HUFFMAN_FIRST_CODE = new int[MAX_CODE_LENGTH + 2];
    private static final int[] HUFFMAN_COUNT = new int[MAX_CODE_LENGTH + 1];
    private static final int[] HUFFMAN_OFFSET = new int[MAX_CODE_LENGTH + 1];
    /** The symbols ordered by code length, then by symbol: the canonical order. */
    private static final short[] HUFFMAN_SYMBOLS = new short[EOS + 1];

    static {
        if (STATIC.length != 61 || HUFFMAN_LENGTHS.length != EOS + 1) {
            throw new AssertionError("HPACK tables have the wrong size");
        }
        for (byte length : HUFFMAN_LENGTHS) {
            HUFFMAN_COUNT[length]++;
        }
        int code = 0;
        int offset = 0;
        for (int length = 1; length <= MAX_CODE_LENGTH; length++) {
            code = (code + HUFFMAN_COUNT[length - 1]) << 1; // HUFFMAN_COUNT[0] is 0: the first code is 0
            HUFFMAN_FIRST_CODE[length] = code;
            HUFFMAN_OFFSET[length] = offset;
            offset += HUFFMAN_COUNT[length];
        }
        int[] next = HUFFMAN_OFFSET.clone();
        for (int length = 1; length <= MAX_CODE_LENGTH; length++) {
            for (int symbol = 0; symbol <= EOS; symbol++) {
                if (HUFFMAN_LENGTHS[symbol] == length) {
                    HUFFMAN_SYMBOLS[next[length]++] = (short) symbol;
                }
            }
        }
    }

    /**
     * The header block of a request: each field a literal without indexing (the name by its static index where
     * there is one), strings as plain octets. Pseudo-headers first, as HTTP/2 requires.
     *
     * @param fields name, value, name, value, … (names in lower case)
     */
    static byte[] encode(String... fields) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(128);
        for (int i = 0; i < fields.length; i += 2) {
            String name = fields[i];
            String value = fields[i + 1];
            int nameIndex = 0;
            for (int s = 0; s < STATIC.length; s++) {
                if (STATIC[s][0].equals(name)) {
                    nameIndex = s + 1;
                    break;
                }
            }
            writeInteger(out, 0x00, 4, nameIndex); // 0000xxxx: literal header field without indexing
            if (nameIndex == 0) {
                writeString(out, name);
            }
            writeString(out, value);
        }
        return out.toByteArray();
    }

    private static void writeString(ByteArrayOutputStream out, String s) {
        byte[] octets = s.getBytes(StandardCharsets.ISO_8859_1);
        writeInteger(out, 0x00, 7, octets.length); // H = 0: not Huffman coded
        out.writeBytes(octets);
    }

    /** An integer with an N-bit prefix (RFC 7541 5.1); {@code flags} are the first octet's bits above the prefix. */
    private static void writeInteger(ByteArrayOutputStream out, int flags, int prefixBits, int value) {
        int max = (1 << prefixBits) - 1;
        if (value < max) {
            out.write(flags | value);
            return;
        }
        out.write(flags | max);
        value -= max;
        while (value >= 0x80) {
            out.write((value & 0x7f) | 0x80);
            value >>>= 7;
        }
        out.write(value);
    }

    /**
     * Decodes the header blocks one peer sends on one connection.
     */
    static final class Decoder {
        private static final int ENTRY_OVERHEAD = 32;
        /** Dynamic table, newest first: name and value of each entry. */
        private final ArrayDeque<String[]> table = new ArrayDeque<>();
        /** The most the peer may size its table to: our SETTINGS_HEADER_TABLE_SIZE. */
        private final int maxTableSize;
        private final int maxHeaderListSize;
        private int tableLimit;
        private int tableSize;

        /**
         * @param maxTableSize      SETTINGS_HEADER_TABLE_SIZE this side announced (4,096 unless announced otherwise)
         * @param maxHeaderListSize the largest decoded header list accepted (names, values and 32 octets per field)
         */
        Decoder(int maxTableSize, int maxHeaderListSize) {
            this.maxTableSize = maxTableSize;
            this.tableLimit = maxTableSize;
            this.maxHeaderListSize = maxHeaderListSize;
        }

        /** The fields of one whole header block: name, value, name, value, … */
        List<String> decode(byte[] block, int offset, int length) throws CompressionException {
            List<String> fields = new ArrayList<>();
            int[] pos = {offset};
            int end = offset + length;
            long listSize = 0;
            boolean fieldSeen = false;
            while (pos[0] < end) {
                int b = block[pos[0]] & 0xff;
                String name;
                String value;
                if ((b & 0x80) != 0) { // 1xxxxxxx: indexed header field
                    String[] entry = entry(readInteger(block, pos, end, 7));
                    name = entry[0];
                    value = entry[1];
                } else if ((b & 0xc0) == 0x40) { // 01xxxxxx: literal with incremental indexing
                    int index = readInteger(block, pos, end, 6);
                    name = index == 0 ? readString(block, pos, end) : entry(index)[0];
                    value = readString(block, pos, end);
                    add(name, value);
                } else if ((b & 0xe0) == 0x20) { // 001xxxxx: dynamic table size update
                    if (fieldSeen) {
                        throw new CompressionException("a dynamic table size update after a header field");
                    }
                    int size = readInteger(block, pos, end, 5);
                    if (size > maxTableSize) {
                        throw new CompressionException("dynamic table size update to " + size
                                + " octets, above the " + maxTableSize + " this side allows");
                    }
                    tableLimit = size;
                    evict();
                    continue;
                } else { // 0000xxxx without indexing, 0001xxxx never indexed
                    int index = readInteger(block, pos, end, 4);
                    name = index == 0 ? readString(block, pos, end) : entry(index)[0];
                    value = readString(block, pos, end);
                }
                fieldSeen = true;
                listSize += name.length() + value.length() + ENTRY_OVERHEAD;
                if (listSize > maxHeaderListSize) {
                    throw new CompressionException("header list larger than " + maxHeaderListSize + " octets");
                }
                fields.add(name);
                fields.add(value);
            }
            return fields;
        }

        /** How many entries the dynamic table holds (tests). */
        int tableEntries() {
            return table.size();
        }

        private String[] entry(int index) throws CompressionException {
            if (index <= 0) {
                throw new CompressionException("header field index 0");
            }
            if (index <= STATIC.length) {
                return STATIC[index - 1];
            }
            int dynamic = index - STATIC.length - 1;
            if (dynamic >= table.size()) {
                throw new CompressionException("header field index " + index + " beyond the " + table.size()
                        + " entries of the dynamic table");
            }
            var it = table.iterator();
            for (int i = 0; i < dynamic; i++) {
                it.next();
            }
            return it.next();
        }

        private void add(String name, String value) {
            int size = name.length() + value.length() + ENTRY_OVERHEAD;
            if (size > tableLimit) {
                table.clear(); // an entry larger than the table empties it and is not added (RFC 7541 4.4)
                tableSize = 0;
                return;
            }
            table.addFirst(new String[]{name, value});
            tableSize += size;
            evict();
        }

        private void evict() {
            while (tableSize > tableLimit) {
                String[] oldest = table.removeLast();
                tableSize -= oldest[0].length() + oldest[1].length() + ENTRY_OVERHEAD;
            }
        }

        private static int readInteger(byte[] block, int[] pos, int end, int prefixBits) throws CompressionException {
            int max = (1 << prefixBits) - 1;
            int value = block[pos[0]++] & max;
            if (value < max) {
                return value;
            }
            for (int shift = 0; ; shift += 7) {
                if (pos[0] >= end) {
                    throw new CompressionException("header block ends inside an integer");
                }
                if (shift > 21) {
                    throw new CompressionException("integer in a header block exceeds 2^28");
                }
                int b = block[pos[0]++] & 0xff;
                value += (b & 0x7f) << shift;
                if ((b & 0x80) == 0) {
                    return value;
                }
            }
        }

        private static String readString(byte[] block, int[] pos, int end) throws CompressionException {
            if (pos[0] >= end) {
                throw new CompressionException("header block ends before a string");
            }
            boolean huffman = (block[pos[0]] & 0x80) != 0;
            int length = readInteger(block, pos, end, 7);
            if (length > end - pos[0]) {
                throw new CompressionException("string of " + length + " octets runs past the header block");
            }
            int start = pos[0];
            pos[0] += length;
            return huffman ? huffmanDecode(block, start, length)
                    : new String(block, start, length, StandardCharsets.ISO_8859_1);
        }
    }

    /** Decodes a Huffman-coded string (RFC 7541 5.2): padding must be at most 7 bits, all ones; EOS is an error. */
    static String huffmanDecode(byte[] data, int offset, int length) throws CompressionException {
        StringBuilder out = new StringBuilder(length * 8 / 5);
        int code = 0;
        int codeLength = 0;
        for (int i = offset; i < offset + length; i++) {
            int b = data[i] & 0xff;
            for (int bit = 7; bit >= 0; bit--) {
                code = (code << 1) | ((b >>> bit) & 1);
                codeLength++;
                int index = code - HUFFMAN_FIRST_CODE[codeLength];
                if (index >= 0 && index < HUFFMAN_COUNT[codeLength]) {
                    int symbol = HUFFMAN_SYMBOLS[HUFFMAN_OFFSET[codeLength] + index];
                    if (symbol == EOS) {
                        throw new CompressionException("Huffman-coded string contains EOS");
                    }
                    out.append((char) symbol);
                    code = 0;
                    codeLength = 0;
                } else if (codeLength == MAX_CODE_LENGTH) {
                    throw new CompressionException("invalid Huffman code");
                }
            }
        }
        if (codeLength > 7 || code != (1 << codeLength) - 1) {
            throw new CompressionException("Huffman-coded string has invalid padding");
        }
        return out.toString();
    }
}
