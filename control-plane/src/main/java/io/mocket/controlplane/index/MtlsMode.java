package io.mocket.controlplane.index;

/** A PeerAuthentication mTLS mode; UNSET inherits from the enclosing scope (workload, namespace, mesh). */
public enum MtlsMode {
    UNSET, DISABLE, PERMISSIVE, STRICT;

    /** The mode named {@code value}, or null when it names none. A missing value is UNSET. */
    static MtlsMode parse(Object value) {
        if (value == null) {
            return UNSET;
        }
        for (MtlsMode m : values()) {
            if (m.name().equals(value)) {
                return m;
            }
        }
        return null;
    }
}
