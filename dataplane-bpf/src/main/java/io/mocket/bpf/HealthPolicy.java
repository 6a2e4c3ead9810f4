package io.mocket.bpf;

/**
 * Which backends a service's slots may hold; numbers are those of Istio's LoadBalancing.HealthPolicy.
 * The agent applies it when it fills the endpoint slots; the kernel stores it for inspection.
 */
public enum HealthPolicy {
    ONLY_HEALTHY(0),
    ALLOW_ALL(1);

    private final int number;

    HealthPolicy(int number) {
        this.number = number;
    }

    /** The value stored in {@code mk_service_value.health_policy}. */
    public int number() {
        return number;
    }

    /** The policy of a stored value. */
    public static HealthPolicy of(int number) {
        for (HealthPolicy p : values()) {
            if (p.number == number) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown health_policy " + number);
    }
}
