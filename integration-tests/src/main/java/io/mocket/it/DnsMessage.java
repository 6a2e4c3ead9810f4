package io.mocket.it;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The smallest DNS exchange that behaves like a real one on the wire: a query for an A record, and an answer
 * that carries the same id and question plus one A record. UDP services in the tests answer with their own
 * pod IP, so the client learns which backend replied while the reply's source shows the VIP.
 */
record DnsMessage(int id, String name, InetAddress answer) {

    private static final int TYPE_A = 1;
    private static final int CLASS_IN = 1;

    static DnsMessage query(int id, String name) {
        return new DnsMessage(id, name, null);
    }

    DnsMessage answeredWith(InetAddress address) {
        return new DnsMessage(id, name, address);
    }

    byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(512);
        b.putShort((short) id);
        b.putShort((short) (answer == null ? 0x0100 : 0x8180)); // RD; or QR, RD, RA for a response
        b.putShort((short) 1).putShort((short) (answer == null ? 0 : 1)).putShort((short) 0).putShort((short) 0);
        writeName(b, name);
        b.putShort((short) TYPE_A).putShort((short) CLASS_IN);
        if (answer != null) {
            b.putShort((short) 0xc00c); // pointer to the question's name at offset 12
            b.putShort((short) TYPE_A).putShort((short) CLASS_IN).putInt(5).putShort((short) 4);
            b.put(answer.getAddress());
        }
        byte[] out = new byte[b.position()];
        b.flip().get(out);
        return out;
    }

    static DnsMessage decode(byte[] wire) {
        ByteBuffer b = ByteBuffer.wrap(wire);
        int id = Short.toUnsignedInt(b.getShort());
        int flags = Short.toUnsignedInt(b.getShort());
        int questions = Short.toUnsignedInt(b.getShort());
        int answers = Short.toUnsignedInt(b.getShort());
        b.getShort();
        b.getShort();
        if (questions != 1) {
            throw new IllegalArgumentException("expected one question, got " + questions);
        }
        String name = readName(b);
        b.getShort();
        b.getShort();
        InetAddress answer = null;
        if ((flags & 0x8000) != 0 && answers > 0) {
            b.getShort(); // name pointer
            int type = Short.toUnsignedInt(b.getShort());
            b.getShort();
            b.getInt();
            int length = Short.toUnsignedInt(b.getShort());
            byte[] rdata = new byte[length];
            b.get(rdata);
            if (type != TYPE_A || length != 4) {
                throw new IllegalArgumentException("expected an A record, got type " + type);
            }
            try {
                answer = (Inet4Address) InetAddress.getByAddress(rdata);
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException(e);
            }
        }
        return new DnsMessage(id, name, answer);
    }

    private static void writeName(ByteBuffer b, String name) {
        for (String label : name.split("\\.")) {
            byte[] bytes = label.getBytes(StandardCharsets.US_ASCII);
            b.put((byte) bytes.length).put(bytes);
        }
        b.put((byte) 0);
    }

    private static String readName(ByteBuffer b) {
        StringBuilder name = new StringBuilder();
        for (int len; (len = Byte.toUnsignedInt(b.get())) != 0; ) {
            byte[] label = new byte[len];
            b.get(label);
            if (!name.isEmpty()) {
                name.append('.');
            }
            name.append(new String(label, StandardCharsets.US_ASCII));
        }
        return name.toString();
    }
}
