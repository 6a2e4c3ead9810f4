package io.mocket.agent;

import io.mocket.bpf.BackendValue;
import io.mocket.bpf.EndpointKey;
import io.mocket.bpf.EndpointValue;
import io.mocket.bpf.FrontendKey;
import io.mocket.bpf.LoadBalancerMaps;
import io.mocket.bpf.ServiceValue;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The smallest set of map writes that turns what the kernel holds ({@link KernelView}) into what the
 * node should hold ({@link DesiredState}), in an order that never leaves a frontend without its service,
 * a slot without its backend, or a service with a half-written backend set:
 * <ol>
 *   <li>frontends no longer wanted, then their services, then orphaned slots (frees room first);</li>
 *   <li>per service port: its new or changed backends, its backend set (one atomic revision switch, only
 *       when it differs), its new or moved frontends;</li>
 *   <li>backends no slot refers to any more.</li>
 * </ol>
 * A service port that would not fit into a map (room for the old and the new revision is needed during
 * a switch) is left as the kernel has it, whole, and reported as a failure of its resources.
 * Pure computation apart from the id tables it assigns from.
 *
 * @param steps    the writes, in order
 * @param failures resource name to the problem that kept it out of the kernel
 * @param fullMaps for each service port left out, the map that had no room
 */
record ReconcilePlan(List<Step> steps, Map<String, String> failures, List<String> fullMaps) {

    /** How many entries each map can hold (its max_entries). */
    record Capacity(int frontends, int services, int endpoints, int backends) {
        static Capacity of(LoadBalancerMaps maps) {
            return new Capacity(maps.frontends().map().maxEntries(), maps.services().map().maxEntries(),
                    maps.endpoints().map().maxEntries(), maps.backends().map().maxEntries());
        }
    }

    /** One group of writes. */
    sealed interface Step permits RemoveFrontends, RemoveServices, RemoveOrphanSlots, WriteService, RemoveBackends {
    }

    record RemoveFrontends(List<FrontendKey> keys) implements Step {
    }

    record RemoveServices(List<Integer> serviceIds) implements Step {
    }

    record RemoveOrphanSlots(List<EndpointKey> keys) implements Step {
    }

    /**
     * Everything one service port needs, written together or not at all.
     *
     * @param backends  backends to create or update first
     * @param slots     the new backend set, or null when the kernel already holds exactly this one
     * @param frontends frontends to create or point at this service
     */
    record WriteService(DesiredState.ServicePort servicePort, int serviceId, Map<Integer, BackendValue> backends,
                        List<List<EndpointValue>> slots, List<FrontendKey> frontends) implements Step {
        boolean replacesSlots() {
            return slots != null;
        }
    }

    record RemoveBackends(List<Integer> backendIds) implements Step {
    }

    /** No step. */
    boolean isEmpty() {
        return steps.isEmpty();
    }

    /** The name a backend id is derived from: its address. */
    static String backendName(InetAddress address) {
        return address.getHostAddress();
    }

    static ReconcilePlan compute(DesiredState desired, KernelView kernel, IdTable serviceIds, IdTable backendIds,
                                 Capacity capacity) {
        Map<String, String> failures = new LinkedHashMap<>(desired.problems());
        List<Step> steps = new ArrayList<>();
        List<String> fullMaps = new ArrayList<>();

        // Ids: the kernel's first, so that a restarted agent reuses them instead of rewriting everything.
        kernel.backends.forEach((id, value) -> backendIds.adopt(backendName(value.address()), id));
        for (DesiredState.ServicePort sp : desired.services()) {
            if (serviceIds.idOf(sp.key()).isEmpty()) {
                for (FrontendKey fk : sp.frontends()) {
                    Integer id = kernel.frontends.get(fk);
                    if (id != null && kernel.services.containsKey(id) && serviceIds.adopt(sp.key(), id)) {
                        break;
                    }
                }
            }
        }
        Set<Integer> busyServiceIds = new HashSet<>(kernel.services.keySet());
        busyServiceIds.addAll(kernel.frontends.values());
        Set<Integer> busyBackendIds = new HashSet<>(kernel.backends.keySet());
        Map<DesiredState.ServicePort, Integer> ids = new LinkedHashMap<>();
        Map<FrontendKey, Integer> wantedFrontends = new HashMap<>();
        Map<InetAddress, Boolean> healthyByAddress = new HashMap<>();
        for (DesiredState.ServicePort sp : desired.services()) {
            int id = serviceIds.assign(sp.key(), busyServiceIds);
            ids.put(sp, id);
            sp.frontends().forEach(fk -> wantedFrontends.put(fk, id));
            // The backend entry is shared by every service of an address; its flag is informational.
            sp.members().forEach(m -> healthyByAddress.merge(m.address(), m.healthy(), Boolean::logicalOr));
        }

        // 1. Removals that free room.
        List<FrontendKey> goneFrontends = kernel.frontends.keySet().stream()
                .filter(k -> !wantedFrontends.containsKey(k)).sorted(FRONTEND_ORDER).toList();
        if (!goneFrontends.isEmpty()) {
            steps.add(new RemoveFrontends(goneFrontends));
        }
        Set<Integer> wantedIds = new HashSet<>(ids.values());
        List<Integer> goneServices = kernel.services.keySet().stream()
                .filter(id -> !wantedIds.contains(id)).sorted().toList();
        if (!goneServices.isEmpty()) {
            steps.add(new RemoveServices(goneServices));
        }
        if (!kernel.orphanSlots.isEmpty()) {
            steps.add(new RemoveOrphanSlots(List.copyOf(kernel.orphanSlots)));
        }
        int frontends = kernel.frontends.size() - goneFrontends.size();
        int services = kernel.services.size() - goneServices.size();
        int endpoints = kernel.endpointEntries - kernel.orphanSlots.size();
        for (int id : goneServices) {
            endpoints -= kernel.liveSlots(id);
        }
        int backends = kernel.backends.size();

        // 2. Service ports, each whole or not at all.
        Set<Integer> referenced = new HashSet<>();
        Set<Integer> untouched = new HashSet<>(kernel.services.keySet());
        untouched.removeAll(goneServices);
        Map<Integer, BackendValue> plannedBackends = new HashMap<>();
        for (Map.Entry<DesiredState.ServicePort, Integer> e : ids.entrySet()) {
            DesiredState.ServicePort sp = e.getKey();
            int id = e.getValue();
            Map<Integer, BackendValue> newBackends = new LinkedHashMap<>();
            List<List<EndpointValue>> slots = new ArrayList<>();
            for (List<DesiredState.Member> prio : sp.byPriority()) {
                List<EndpointValue> list = new ArrayList<>();
                for (DesiredState.Member m : prio) {
                    int backendId = backendIds.assign(backendName(m.address()), busyBackendIds);
                    BackendValue value = new BackendValue(m.address(), healthyByAddress.get(m.address()));
                    BackendValue known = plannedBackends.getOrDefault(backendId, kernel.backends.get(backendId));
                    if (!value.equals(known)) {
                        newBackends.put(backendId, value);
                    }
                    list.add(new EndpointValue(backendId, m.targetPort()));
                }
                slots.add(list);
            }
            ServiceValue held = kernel.services.get(id);
            boolean replace = held == null || held.lbMode() != sp.lbMode() || held.healthPolicy() != sp.healthPolicy()
                    || !slots.equals(kernel.slots.get(id));
            List<FrontendKey> newFrontends = sp.frontends().stream()
                    .filter(fk -> !Objects.equals(kernel.frontends.get(fk), id)).toList();

            int addedBackends = (int) newBackends.keySet().stream()
                    .filter(b -> !kernel.backends.containsKey(b) && !plannedBackends.containsKey(b)).count();
            int newSlots = replace ? slots.stream().mapToInt(List::size).sum() : 0;
            int addedFrontends = (int) newFrontends.stream().filter(fk -> !kernel.frontends.containsKey(fk)).count();
            String full = null;
            String fullMap = null;
            if (backends + addedBackends > capacity.backends()) {
                fullMap = LoadBalancerMaps.BACKEND;
                full = full(fullMap, backends, addedBackends, capacity.backends());
            } else if (held == null && services + 1 > capacity.services()) {
                fullMap = LoadBalancerMaps.SERVICE;
                full = full(fullMap, services, 1, capacity.services());
            } else if (endpoints + newSlots > capacity.endpoints()) {
                // During the switch the old revision's slots are still there: room for both is needed.
                fullMap = LoadBalancerMaps.ENDPOINT;
                full = full(fullMap, endpoints, newSlots, capacity.endpoints());
            } else if (frontends + addedFrontends > capacity.frontends()) {
                fullMap = LoadBalancerMaps.FRONTEND;
                full = full(fullMap, frontends, addedFrontends, capacity.frontends());
            }
            if (full != null) {
                fullMaps.add(fullMap);
                String problem = "service " + sp.service() + " port " + sp.port() + " (" + sp.family().tag()
                        + ") does not fit: " + full + "; the kernel keeps its previous state of this service";
                for (String source : sp.sources()) {
                    failures.merge(source, problem, (a, b) -> a);
                }
                if (held != null) {
                    referenced.addAll(backendIdsOf(kernel.slots.get(id)));
                }
                continue;
            }
            untouched.remove(id);
            referenced.addAll(backendIdsOf(slots));
            if (!newBackends.isEmpty() || replace || !newFrontends.isEmpty()) {
                steps.add(new WriteService(sp, id, newBackends, replace ? slots : null, newFrontends));
            }
            plannedBackends.putAll(newBackends);
            backends += addedBackends;
            if (replace) {
                endpoints += newSlots - kernel.liveSlots(id);
                services += held == null ? 1 : 0;
            }
            frontends += addedFrontends;
        }

        // 3. Backends nothing refers to any more.
        for (int id : untouched) {
            referenced.addAll(backendIdsOf(kernel.slots.get(id)));
        }
        List<Integer> goneBackends = kernel.backends.keySet().stream()
                .filter(id -> !referenced.contains(id)).sorted().toList();
        if (!goneBackends.isEmpty()) {
            steps.add(new RemoveBackends(goneBackends));
        }

        Set<String> liveBackendNames = new LinkedHashSet<>();
        kernel.backends.forEach((id, v) -> {
            if (referenced.contains(id)) {
                liveBackendNames.add(backendName(v.address()));
            }
        });
        plannedBackends.values().forEach(v -> liveBackendNames.add(backendName(v.address())));
        backendIds.retainOnly(liveBackendNames);
        serviceIds.retainOnly(desired.services().stream().map(DesiredState.ServicePort::key).toList());
        return new ReconcilePlan(List.copyOf(steps), failures, fullMaps);
    }

    private static String full(String map, int held, int adding, int max) {
        return map + " holds " + held + " of " + max + " entries and " + adding + " more are needed";
    }

    private static Set<Integer> backendIdsOf(List<List<EndpointValue>> slots) {
        Set<Integer> out = new HashSet<>();
        if (slots != null) {
            for (List<EndpointValue> list : slots) {
                for (EndpointValue v : list) {
                    if (v != null) {
                        out.add(v.backendId());
                    }
                }
            }
        }
        return out;
    }

    private static final Comparator<FrontendKey> FRONTEND_ORDER = Comparator
            .comparing((FrontendKey k) -> k.address().getHostAddress())
            .thenComparingInt(FrontendKey::port)
            .thenComparing(FrontendKey::protocol);
}
