package io.mocket.agent;

import io.mocket.bpf.BackendValue;
import io.mocket.bpf.EndpointKey;
import io.mocket.bpf.EndpointValue;
import io.mocket.bpf.FrontendKey;
import io.mocket.bpf.LoadBalancerMaps;
import io.mocket.bpf.ServiceValue;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.IntPredicate;
import java.util.function.Predicate;

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
 * @param failuresByService service resource name to the resources it kept out of the kernel, with the problem
 * @param fullMaps for each service port left out, the map that had no room
 */
record ReconcilePlan(List<Step> steps, Map<String, Map<String, String>> failuresByService, List<String> fullMaps) {

    /** Resource name to the problem that kept it out of the kernel, over every service. */
    Map<String, String> failures() {
        return flatten(failuresByService);
    }

    static Map<String, String> flatten(Map<String, Map<String, String>> byService) {
        Map<String, String> out = new LinkedHashMap<>();
        byService.values().forEach(m -> m.forEach(out::putIfAbsent));
        return out;
    }

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

    /** A full plan: everything in the kernel that {@code desired} does not hold goes. */
    static ReconcilePlan compute(DesiredState desired, KernelView kernel, IdTable<String> serviceIds,
                                 IdTable<InetAddress> backendIds, Capacity capacity) {
        Map<InetAddress, Boolean> healthy = new HashMap<>();
        for (DesiredState.ServicePort sp : desired.services()) {
            sp.members().forEach(m -> healthy.merge(m.address(), m.healthy(), Boolean::logicalOr));
        }
        return compute(desired.services(), Set.of(), desired.problems(), true,
                a -> healthy.getOrDefault(a, false), kernel, serviceIds, backendIds, capacity);
    }

    /**
     * Plans the writes for some service ports.
     *
     * @param ports       the service ports to bring into the kernel
     * @param removedKeys keys of service ports that are no longer wanted (a partial plan removes only these)
     * @param problems    service resource name to a problem found before planning (a VIP conflict)
     * @param full        true: {@code ports} is everything the node wants, and whatever else the kernel holds goes
     *                    (services, frontends, unreferenced backends); false: only the named service ports change
     * @param healthy     the health flag of a backend address, over every service port of the node
     */
    static ReconcilePlan compute(List<DesiredState.ServicePort> ports, Collection<String> removedKeys,
                                 Map<String, String> problems, boolean full, Predicate<InetAddress> healthy,
                                 KernelView kernel, IdTable<String> serviceIds, IdTable<InetAddress> backendIds,
                                 Capacity capacity) {
        Map<String, Map<String, String>> failures = new LinkedHashMap<>();
        problems.forEach((name, problem) -> failures.computeIfAbsent(name, n -> new LinkedHashMap<>())
                .put(name, problem));
        List<Step> steps = new ArrayList<>();
        List<String> fullMaps = new ArrayList<>();

        // Ids: the kernel's first, so that a restarted agent reuses them instead of rewriting everything.
        if (full) {
            kernel.backends.forEach((id, value) -> backendIds.adopt(value.address(), id));
        }
        for (DesiredState.ServicePort sp : ports) {
            if (serviceIds.idOf(sp.key()).isEmpty()) {
                for (FrontendKey fk : sp.frontends()) {
                    Integer id = kernel.frontends.get(fk);
                    if (id != null && kernel.services.containsKey(id) && serviceIds.adopt(sp.key(), id)) {
                        break;
                    }
                }
            }
        }
        // Ids frontends point at, gathered only when a new id is to be chosen (a pass that only moves backends
        // assigns none: every service port already has its id).
        var pointedAt = new Object() {
            Set<Integer> ids;
        };
        IntPredicate busyServiceIds = id -> {
            if (kernel.services.containsKey(id)) {
                return true;
            }
            if (pointedAt.ids == null) {
                pointedAt.ids = new HashSet<>(kernel.frontends.values());
            }
            return pointedAt.ids.contains(id);
        };
        IntPredicate busyBackendIds = kernel.backends::containsKey;
        // The id of ports.get(i) is ids[i] (a map keyed by the service port would hash all of its members).
        int[] ids = new int[ports.size()];
        Map<FrontendKey, Integer> wantedFrontends = new HashMap<>();
        Set<Integer> wantedIds = new HashSet<>();
        for (int i = 0; i < ids.length; i++) {
            DesiredState.ServicePort sp = ports.get(i);
            int id = serviceIds.assign(sp.key(), busyServiceIds);
            ids[i] = id;
            wantedIds.add(id);
            sp.frontends().forEach(fk -> wantedFrontends.put(fk, id));
        }
        // The service ids this plan may take frontends and services away from.
        Set<Integer> scope = new HashSet<>(wantedIds);
        for (String key : removedKeys) {
            serviceIds.idOf(key).ifPresent(scope::add);
        }

        // 1. Removals that free room.
        List<FrontendKey> goneFrontends = kernel.frontends.entrySet().stream()
                .filter(e -> (full || scope.contains(e.getValue())) && !wantedFrontends.containsKey(e.getKey()))
                .map(Map.Entry::getKey).sorted(FRONTEND_ORDER).toList();
        if (!goneFrontends.isEmpty()) {
            steps.add(new RemoveFrontends(goneFrontends));
        }
        List<Integer> goneServices = (full ? kernel.services.keySet().stream() : scope.stream()
                .filter(kernel.services::containsKey))
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

        // 2. Service ports, each whole or not at all. Backend references change by refDelta.
        IntCounts refDelta = new IntCounts();
        for (int id : goneServices) {
            addRefs(refDelta, kernel.slots.get(id), -1);
        }
        Map<Integer, BackendValue> plannedBackends = new HashMap<>();
        for (int i = 0; i < ids.length; i++) {
            DesiredState.ServicePort sp = ports.get(i);
            int id = ids[i];
            Map<Integer, BackendValue> newBackends = new LinkedHashMap<>();
            List<List<EndpointValue>> slots = new ArrayList<>(sp.byPriority().size());
            for (List<DesiredState.Member> prio : sp.byPriority()) {
                List<EndpointValue> list = new ArrayList<>(prio.size());
                for (DesiredState.Member m : prio) {
                    int backendId = backendIds.assign(m.address(), busyBackendIds);
                    BackendValue value = new BackendValue(m.address(), healthy.test(m.address()));
                    BackendValue known = plannedBackends.get(backendId);
                    if (known == null) {
                        known = kernel.backends.get(backendId);
                    }
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
            List<FrontendKey> newFrontends = new ArrayList<>();
            for (FrontendKey fk : sp.frontends()) {
                if (!Objects.equals(kernel.frontends.get(fk), id)) {
                    newFrontends.add(fk);
                }
            }

            int addedBackends = 0;
            for (int b : newBackends.keySet()) {
                if (!kernel.backends.containsKey(b) && !plannedBackends.containsKey(b)) {
                    addedBackends++;
                }
            }
            int newSlots = 0;
            if (replace) {
                for (List<EndpointValue> l : slots) {
                    newSlots += l.size();
                }
            }
            int addedFrontends = 0;
            for (FrontendKey fk : newFrontends) {
                addedFrontends += kernel.frontends.containsKey(fk) ? 0 : 1;
            }
            String fullProblem = null;
            String fullMap = null;
            if (backends + addedBackends > capacity.backends()) {
                fullMap = LoadBalancerMaps.BACKEND;
                fullProblem = full(fullMap, backends, addedBackends, capacity.backends());
            } else if (held == null && services + 1 > capacity.services()) {
                fullMap = LoadBalancerMaps.SERVICE;
                fullProblem = full(fullMap, services, 1, capacity.services());
            } else if (endpoints + newSlots > capacity.endpoints()) {
                // During the switch the old revision's slots are still there: room for both is needed.
                fullMap = LoadBalancerMaps.ENDPOINT;
                fullProblem = full(fullMap, endpoints, newSlots, capacity.endpoints());
            } else if (frontends + addedFrontends > capacity.frontends()) {
                fullMap = LoadBalancerMaps.FRONTEND;
                fullProblem = full(fullMap, frontends, addedFrontends, capacity.frontends());
            }
            if (fullProblem != null) {
                fullMaps.add(fullMap);
                String problem = "service " + sp.service() + " port " + sp.port() + " (" + sp.family().tag()
                        + ") does not fit: " + fullProblem + "; the kernel keeps its previous state of this service";
                Map<String, String> of = failures.computeIfAbsent(sp.resourceName(), n -> new LinkedHashMap<>());
                for (String source : sp.sources()) {
                    of.putIfAbsent(source, problem);
                }
                continue;
            }
            if (replace) {
                addRefs(refDelta, kernel.slots.get(id), -1);
                addRefs(refDelta, slots, 1);
            }
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
        List<Integer> goneBackends = new ArrayList<>();
        if (full) {
            for (int id : kernel.backends.keySet()) {
                if (kernel.references(id) + refDelta.get(id) <= 0 && !plannedBackends.containsKey(id)) {
                    goneBackends.add(id);
                }
            }
        } else {
            refDelta.forEach((id, delta) -> {
                if (delta < 0 && kernel.backends.containsKey(id) && kernel.references(id) + delta <= 0) {
                    goneBackends.add(id);
                }
            });
        }
        goneBackends.sort(null);
        if (!goneBackends.isEmpty()) {
            steps.add(new RemoveBackends(goneBackends));
        }

        if (full) {
            Set<InetAddress> liveBackendNames = new HashSet<>();
            Set<Integer> gone = new HashSet<>(goneBackends);
            kernel.backends.forEach((id, v) -> {
                if (!gone.contains(id)) {
                    liveBackendNames.add(v.address());
                }
            });
            plannedBackends.values().forEach(v -> liveBackendNames.add(v.address()));
            backendIds.retainOnly(liveBackendNames);
            serviceIds.retainOnly(ports.stream().map(DesiredState.ServicePort::key).toList());
        } else {
            for (int id : goneBackends) {
                backendIds.nameOf(id).ifPresent(backendIds::release);
            }
            removedKeys.forEach(serviceIds::release);
        }
        return new ReconcilePlan(List.copyOf(steps), failures, fullMaps);
    }

    private static void addRefs(IntCounts delta, List<List<EndpointValue>> slots, int sign) {
        if (slots == null) {
            return;
        }
        for (List<EndpointValue> list : slots) {
            for (EndpointValue v : list) {
                if (v != null) {
                    delta.add(v.backendId(), sign);
                }
            }
        }
    }

    private static String full(String map, int held, int adding, int max) {
        return map + " holds " + held + " of " + max + " entries and " + adding + " more are needed";
    }

    private static final Comparator<FrontendKey> FRONTEND_ORDER = Comparator
            .comparing((FrontendKey k) -> k.address().getHostAddress())
            .thenComparingInt(FrontendKey::port)
            .thenComparing(FrontendKey::protocol);
}
