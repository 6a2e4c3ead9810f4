package io.mocket.controlplane.admin;

import io.mocket.controlplane.kube.SourceHealth;
import java.util.function.Supplier;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * Readiness contribution of the configured source: UP once it has delivered a complete view, OUT_OF_SERVICE
 * with the source's reason otherwise. The last good state keeps being served either way; readiness only
 * tells a load balancer to prefer a replica that is in sync.
 */
public final class SourceHealthIndicator implements HealthIndicator {
    private final String sourceName;
    private final Supplier<SourceHealth> health;

    public SourceHealthIndicator(String sourceName, Supplier<SourceHealth> health) {
        this.sourceName = sourceName;
        this.health = health;
    }

    @Override
    public Health health() {
        SourceHealth h = health.get();
        if (h.synced()) {
            return Health.up().withDetail("source", sourceName).build();
        }
        return Health.outOfService().withDetail("source", sourceName).withDetail("reason", h.reason()).build();
    }
}
