package io.mocket.controlplane.xds;

import io.mocket.api.istio.workload.Address;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.Snapshot;
import io.mocket.controlplane.resources.XdsResource;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Which resources a client that subscribed by name wants, following istiod's rules for the workload
 * API: a name matches a resource by canonical name or by alias, and a subscription to a service also
 * covers the workloads whose {@code services} map has that service's key ("ns/hostname"). Stateless.
 */
final class Interest {
    private Interest() {
    }

    /**
     * True when {@code r} is wanted by a client subscribed to {@code names} (as the client wrote them)
     * and {@code implied} (canonical names the server added for it). Either set may be null.
     */
    static boolean matches(XdsResource r, Set<String> names, Set<String> implied) {
        if (contains(names, r.name()) || contains(implied, r.name())) {
            return true;
        }
        if (names != null) {
            for (String alias : r.aliases()) {
                if (names.contains(alias)) {
                    return true;
                }
            }
        }
        for (String service : servicesOf(r)) {
            if (contains(names, service) || contains(implied, service)) {
                return true;
            }
        }
        return false;
    }

    /** The "ns/hostname" keys of the services a workload belongs to; empty for anything else. */
    static Set<String> servicesOf(XdsResource r) {
        if (r.type() == ResourceType.ADDRESS && r.message() instanceof Address a && a.hasWorkload()) {
            return a.getWorkload().getServicesMap().keySet();
        }
        return Set.of();
    }

    /** True when {@code r} is a service of the workload API (whose members a subscription brings). */
    static boolean isService(XdsResource r) {
        return r.type() == ResourceType.ADDRESS && r.message() instanceof Address a && a.hasService();
    }

    /**
     * The workloads of {@code snapshot} that belong to service {@code serviceName}. A full scan: it runs
     * once per on-demand service subscription, not per push.
     */
    static List<XdsResource> membersOf(Snapshot snapshot, String serviceName) {
        List<XdsResource> out = new ArrayList<>();
        for (XdsResource r : snapshot.all(ResourceType.ADDRESS)) {
            if (servicesOf(r).contains(serviceName)) {
                out.add(r);
            }
        }
        return out;
    }

    private static boolean contains(Set<String> set, String name) {
        return set != null && set.contains(name);
    }
}
