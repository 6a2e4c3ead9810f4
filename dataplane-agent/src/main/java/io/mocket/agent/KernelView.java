package io.mocket.agent;

import io.mocket.bpf.BackendValue;
import io.mocket.bpf.EndpointKey;
import io.mocket.bpf.EndpointValue;
import io.mocket.bpf.FrontendKey;
import io.mocket.bpf.LoadBalancerMaps;
import io.mocket.bpf.ServiceValue;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The reconciler's copy of what the load balancer maps hold: read back from the kernel when the agent
 * starts (and after a failed write), then kept in step with every write, so a pass diffs against the
 * kernel without reading every map again. Slots are grouped per service as the programs see them: the
 * live revision's slots by priority. Slots of other revisions are orphans: the old revisions a pass switched
 * away from (deleted after its ACK, see {@link ServiceReconciler}) or, read back, those left by an agent that
 * stopped before deleting them; they are deleted before the next pass plans. Mutable; owned by the reconciler
 * thread.
 */
final class KernelView {

    final Map<FrontendKey, Integer> frontends = new HashMap<>();
    final Map<Integer, ServiceValue> services = new HashMap<>();
    /**
     * Live slots per service id; a slot the kernel lacks is null, so the service never compares equal. Replace a
     * service's lists with {@code put} (never change them in place): that keeps {@link #references} counted.
     */
    final Map<Integer, List<List<EndpointValue>>> slots = new SlotMap();
    /** Backend id to the number of live slots that refer to it. */
    private final IntCounts references = new IntCounts();
    final List<EndpointKey> orphanSlots = new ArrayList<>();
    final Map<Integer, BackendValue> backends = new HashMap<>();
    /**
     * Backends no live slot refers to any more, still in the kernel (and in {@link #backends}) because orphan
     * slots may: deleted after the orphan slots.
     */
    final List<Integer> retiredBackends = new ArrayList<>();
    /** Entries in the endpoint map, live and orphaned. */
    int endpointEntries;

    /** Reads every load balancer map. */
    static KernelView read(LoadBalancerMaps maps) {
        KernelView view = new KernelView();
        maps.frontends().entries().forEach((k, v) -> view.frontends.put(k, v.serviceId()));
        maps.services().entries().forEach((k, v) -> view.services.put(k.serviceId(), v));
        maps.backends().entries().forEach((k, v) -> view.backends.put(k.backendId(), v));
        Map<EndpointKey, EndpointValue> endpoints = maps.endpoints().entries();
        view.endpointEntries = endpoints.size();
        view.services.forEach((id, value) -> view.slots.put(id, emptySlots(value)));
        endpoints.forEach((k, v) -> {
            ServiceValue svc = view.services.get(k.serviceId());
            if (svc != null && svc.revision() == k.revision() && k.slot() < svc.counts().get(k.priority())) {
                view.slots.get(k.serviceId()).get(k.priority()).set(k.slot(), v);
            } else {
                view.orphanSlots.add(k);
            }
        });
        view.references.clear();
        view.slots.values().forEach(lists -> view.count(lists, 1));
        return view;
    }

    /** Lists of nulls sized by the counts of a service entry, to be filled with the slots found. */
    private static List<List<EndpointValue>> emptySlots(ServiceValue value) {
        List<List<EndpointValue>> lists = new ArrayList<>();
        for (int count : value.counts()) {
            lists.add(new ArrayList<>(Arrays.asList(new EndpointValue[count])));
        }
        return lists;
    }

    /** How many live slots refer to a backend id. */
    int references(int backendId) {
        return references.get(backendId);
    }

    private void count(List<List<EndpointValue>> lists, int sign) {
        if (lists == null) {
            return;
        }
        for (List<EndpointValue> list : lists) {
            for (EndpointValue v : list) {
                if (v != null) {
                    references.add(v.backendId(), sign);
                }
            }
        }
    }

    /** The slot map: counts backend references as service slot lists are put and removed. */
    private final class SlotMap extends HashMap<Integer, List<List<EndpointValue>>> {
        @Override
        public List<List<EndpointValue>> put(Integer id, List<List<EndpointValue>> lists) {
            List<List<EndpointValue>> old = super.put(id, lists);
            count(old, -1);
            count(lists, 1);
            return old;
        }

        @Override
        public List<List<EndpointValue>> remove(Object id) {
            List<List<EndpointValue>> old = super.remove(id);
            count(old, -1);
            return old;
        }
    }

    /** Whether orphan slots or retired backends wait to be deleted. */
    boolean hasLeftovers() {
        return !orphanSlots.isEmpty() || !retiredBackends.isEmpty();
    }

    int liveSlots(int serviceId) {
        ServiceValue v = services.get(serviceId);
        return v == null ? 0 : v.totalBackends();
    }
}
