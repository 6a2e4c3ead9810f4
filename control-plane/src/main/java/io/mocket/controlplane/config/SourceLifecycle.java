package io.mocket.controlplane.config;

import io.mocket.controlplane.kube.SourceHealth;
import java.util.function.Supplier;
import org.springframework.context.SmartLifecycle;

/**
 * Starts the configured source once the index exists and stops it first on shutdown, so the index
 * never receives events after it closed.
 */
public final class SourceLifecycle implements SmartLifecycle {
    private final String name;
    private final Runnable starter;
    private final Supplier<SourceHealth> health;
    private final Runnable closer;
    private final Object source;
    private volatile boolean running;

    /**
     * @param name   how the source is named in readiness and debug output
     * @param source the source object itself, for the debug endpoint
     */
    SourceLifecycle(String name, Runnable starter, Supplier<SourceHealth> health, Runnable closer, Object source) {
        this.name = name;
        this.starter = starter;
        this.health = health;
        this.closer = closer;
        this.source = source;
    }

    public String name() {
        return name;
    }

    public Object source() {
        return source;
    }

    public SourceHealth health() {
        return health.get();
    }

    @Override
    public void start() {
        starter.run();
        running = true;
    }

    @Override
    public void stop() {
        running = false;
        closer.run();
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Before the xDS server (a higher phase starts later and stops earlier). */
    @Override
    public int getPhase() {
        return 0;
    }
}
