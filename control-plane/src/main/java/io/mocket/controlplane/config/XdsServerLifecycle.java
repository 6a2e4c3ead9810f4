package io.mocket.controlplane.config;

import io.mocket.controlplane.xds.XdsServer;
import org.springframework.context.SmartLifecycle;

/** Opens the xDS port after the source started and closes it first on shutdown (graceful). */
public final class XdsServerLifecycle implements SmartLifecycle {
    private final XdsServer server;
    private volatile boolean running;

    XdsServerLifecycle(XdsServer server) {
        this.server = server;
    }

    public XdsServer server() {
        return server;
    }

    @Override
    public void start() {
        server.start();
        running = true;
    }

    @Override
    public void stop() {
        running = false;
        server.close();
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        return 100;
    }
}
