package io.mocket.bpf;

/** How a service chooses among locality priorities; numbers are those of Istio's LoadBalancing.Mode. */
public enum LbMode {
    /** All backends at priority 0, chosen at random. */
    UNSPECIFIED(0),
    /** Priority 0 only (backends matching every routing preference); none there refuses the connection. */
    STRICT(1),
    /** The most local priority that has backends. */
    FAILOVER(2);

    private final int number;

    LbMode(int number) {
        this.number = number;
    }

    /** The value stored in {@code mk_service_value.lb_mode}. */
    public int number() {
        return number;
    }

    /** The mode of a stored value. */
    public static LbMode of(int number) {
        for (LbMode m : values()) {
            if (m.number == number) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown lb_mode " + number);
    }
}
