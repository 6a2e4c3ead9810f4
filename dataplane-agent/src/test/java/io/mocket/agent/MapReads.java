package io.mocket.agent;

import io.mocket.bpf.BackendKey;
import io.mocket.bpf.EndpointKey;
import io.mocket.bpf.LoadBalancerMaps;
import io.mocket.bpf.ServiceKey;
import io.mocket.bpf.ServiceValue;
import java.util.Set;
import java.util.TreeSet;

/** Reads of the pinned maps that the agent's tests share. */
final class MapReads {
    private MapReads() {
    }

    /**
     * The service's backends as its current revision lists them. The reads are not one snapshot: when the agent
     * switches the service to a new revision and deletes the old one's slots between them, the read starts over
     * from the service entry (as a connecting socket would simply see the new revision).
     */
    static Set<String> backends(LoadBalancerMaps maps, int serviceId) {
        for (int attempt = 0; ; attempt++) {
            ServiceValue v = maps.services().get(new ServiceKey(serviceId)).orElseThrow();
            Set<String> out = backendsOf(maps, serviceId, v);
            if (out != null) {
                return out;
            }
            ServiceValue now = maps.services().get(new ServiceKey(serviceId)).orElseThrow();
            if (now.revision() == v.revision() || attempt == 100) {
                throw new AssertionError("service " + serviceId + " revision " + v.revision()
                        + " lists a slot or backend the maps do not hold");
            }
        }
    }

    /** The backends of one revision, or null when one of its slots or backends is gone. */
    private static Set<String> backendsOf(LoadBalancerMaps maps, int serviceId, ServiceValue v) {
        Set<String> out = new TreeSet<>();
        for (int prio = 0; prio < ServiceValue.PRIORITIES; prio++) {
            for (int slot = 0; slot < v.counts().get(prio); slot++) {
                var ep = maps.endpoints().get(new EndpointKey(serviceId, v.revision(), prio, slot));
                if (ep.isEmpty()) {
                    return null;
                }
                var b = maps.backends().get(new BackendKey(ep.get().backendId()));
                if (b.isEmpty()) {
                    return null;
                }
                out.add(b.get().address().getHostAddress() + ":" + ep.get().port());
            }
        }
        return out;
    }
}
