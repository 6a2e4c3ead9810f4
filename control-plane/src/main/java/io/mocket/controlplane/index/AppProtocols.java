package io.mocket.controlplane.index;

import io.fabric8.kubernetes.api.model.ServicePort;
import io.mocket.api.istio.workload.AppProtocol;
import java.util.Locale;
import java.util.Set;

/**
 * The application protocol of a Service port, derived as Istio derives it: UDP is never an application
 * protocol; {@code appProtocol} wins over the port name; the name's prefix before the first '-' names the
 * protocol; a few well-known ports are TCP when nothing else says.
 */
final class AppProtocols {
    /** SMTP, DNS, MySQL, MongoDB: ports where protocol sniffing would break the application. */
    private static final Set<Integer> WELL_KNOWN_TCP_PORTS = Set.of(25, 53, 3306, 27017);

    private AppProtocols() {
    }

    static AppProtocol of(ServicePort port) {
        if ("UDP".equals(port.getProtocol())) {
            return AppProtocol.UNKNOWN;
        }
        String name = port.getName() == null ? "" : port.getName();
        String appProtocol = port.getAppProtocol();
        if (appProtocol != null) {
            switch (appProtocol) {
                case "kubernetes.io/h2c" -> {
                    return AppProtocol.HTTP2;
                }
                case "kubernetes.io/ws" -> {
                    return AppProtocol.HTTP11;
                }
                case "kubernetes.io/wss" -> {
                    return AppProtocol.TLS;
                }
                default -> name = appProtocol;
            }
        }
        // grpc-web is checked before the prefix split because it contains the separator; it has no
        // workload API value.
        if (name.regionMatches(true, 0, "grpc-web", 0, 8)) {
            return AppProtocol.UNKNOWN;
        }
        int dash = name.indexOf('-');
        String prefix = (dash >= 0 ? name.substring(0, dash) : name).toLowerCase(Locale.ROOT);
        return switch (prefix) {
            case "http" -> AppProtocol.HTTP11;
            case "http2" -> AppProtocol.HTTP2;
            case "grpc" -> AppProtocol.GRPC;
            case "tls", "https" -> AppProtocol.TLS;
            case "tcp" -> AppProtocol.TCP;
            // Known to Istio but without a workload API value.
            case "udp", "mongo", "redis", "mysql", "http_proxy" -> AppProtocol.UNKNOWN;
            default -> port.getPort() != null && WELL_KNOWN_TCP_PORTS.contains(port.getPort()) ? AppProtocol.TCP : AppProtocol.UNKNOWN;
        };
    }
}
