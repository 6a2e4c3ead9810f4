package io.mocket.bpf;

/** The transport protocols the socket load balancer rewrites, with their IP protocol numbers. */
public enum L4Protocol {
    TCP(6),
    UDP(17);

    private final int number;

    L4Protocol(int number) {
        this.number = number;
    }

    /** The IANA protocol number the kernel reports in {@code bpf_sock_addr.protocol}. */
    public int number() {
        return number;
    }

    /** The protocol of a number. */
    public static L4Protocol of(int number) {
        if (number == TCP.number) {
            return TCP; // decoded for every frontend key read back: no copy of values() per call
        }
        if (number == UDP.number) {
            return UDP;
        }
        throw new IllegalArgumentException("not a balanced protocol: " + number);
    }
}
