package io.mocket.agent;

import io.mocket.api.istio.workload.Locality;
import io.mocket.bpf.FrontendKey;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The reconciler's copy of what the maps should hold, per service resource, so that a change recomputes only
 * the services it touched: the {@link DesiredState.ServicePort}s of every service (frontends granted after VIP
 * conflicts are settled), which services want each frontend, and how many members of each backend address
 * are healthy. {@link #update} gives the same result for the touched services as {@link DesiredState#compute}
 * over the whole store would. Mutable; owned by the reconciler thread.
 */
final class DesiredView {

    /**
     * What an update recomputed.
     *
     * @param services    the service resources recomputed (their old service ports are replaced)
     * @param ports       their service ports now, sorted by key
     * @param removedKeys keys of service ports they had before and no longer have
     * @param problems    service resource name to its VIP conflict, for the recomputed services that have one
     * @param full        true when every service was recomputed (first pass, or the node's locality moved)
     */
    record Update(Set<String> services, List<DesiredState.ServicePort> ports, Set<String> removedKeys,
                  Map<String, String> problems, boolean full) {
    }

    private final NodeTopology topology;
    private Locality locality;
    private boolean valid;
    private final Map<String, List<DesiredState.ServicePort>> portsByService = new HashMap<>();
    private final Map<String, String> keyByService = new HashMap<>();
    private final Map<String, Set<String>> servicesByKey = new HashMap<>();
    private final Map<String, Set<FrontendKey>> wantedByService = new HashMap<>();
    private final Map<FrontendKey, TreeSet<String>> wanters = new HashMap<>();
    private final Map<String, String> problems = new HashMap<>();
    /** Backend address to {members, healthy members} over every service port. */
    private final Map<InetAddress, int[]> health = new HashMap<>();

    DesiredView(NodeTopology topology) {
        this.topology = topology;
    }

    /** Forgets everything: the next {@link #update} recomputes every service. */
    void invalidate() {
        valid = false;
    }

    /** Whether a member of some service port with this address is healthy (the backend entry's flag). */
    boolean healthy(InetAddress address) {
        int[] h = health.get(address);
        return h != null && h[1] > 0;
    }

    /**
     * Brings the view to {@code snapshot}, recomputing the services named by {@code changes} (and those named in
     * {@code alsoRecompute}, e.g. ports that did not fit last time), or every service when the view is not valid,
     * the changes are unknown, or the node's locality moved.
     */
    Update update(NodeState.Snapshot snapshot, NodeState.Changes changes, Set<String> alsoRecompute) {
        boolean full = !valid || changes.all();
        if (!full && topology.locality().isEmpty() && changes.nodes().contains(topology.nodeName())
                && !topology.localityIn(snapshot).equals(locality)) {
            full = true; // every FAILOVER/STRICT ranking depends on where this node is
        }
        Set<String> names = new HashSet<>();
        if (full) {
            names.addAll(portsByService.keySet());
            clear();
            locality = topology.localityIn(snapshot);
            names.addAll(snapshot.services().keySet());
            valid = true;
        } else {
            names.addAll(changes.serviceNames());
            for (String key : changes.serviceKeys()) {
                names.addAll(servicesByKey.getOrDefault(key, Set.of()));
            }
            names.addAll(alsoRecompute);
        }
        // A service whose wanted frontends change may win or lose a VIP against another: recompute those too.
        Set<String> extra = new HashSet<>();
        for (String name : names) {
            KnownService svc = snapshot.services().get(name);
            Set<FrontendKey> now = svc == null ? Set.of() : DesiredState.wantedFrontends(svc, topology);
            Set<FrontendKey> before = wantedByService.getOrDefault(name, Set.of());
            if (now.equals(before)) {
                continue;
            }
            for (FrontendKey fk : before) {
                if (!now.contains(fk)) {
                    TreeSet<String> w = wanters.get(fk);
                    w.remove(name);
                    extra.addAll(w);
                    if (w.isEmpty()) {
                        wanters.remove(fk);
                    }
                }
            }
            for (FrontendKey fk : now) {
                if (!before.contains(fk)) {
                    TreeSet<String> w = wanters.computeIfAbsent(fk, k -> new TreeSet<>());
                    extra.addAll(w);
                    w.add(name);
                }
            }
            if (now.isEmpty()) {
                wantedByService.remove(name);
            } else {
                wantedByService.put(name, now);
            }
        }
        names.addAll(extra);

        List<DesiredState.ServicePort> ports = new ArrayList<>();
        Set<String> oldKeys = new HashSet<>();
        Set<String> newKeys = new HashSet<>();
        Map<String, String> updateProblems = new HashMap<>();
        for (String name : names) {
            for (DesiredState.ServicePort old : portsByService.getOrDefault(name, List.of())) {
                oldKeys.add(old.key());
                count(old, -1);
            }
            portsByService.remove(name);
            problems.remove(name);
            String oldKey = keyByService.remove(name);
            if (oldKey != null) {
                Set<String> s = servicesByKey.get(oldKey);
                s.remove(name);
                if (s.isEmpty()) {
                    servicesByKey.remove(oldKey);
                }
            }
            KnownService svc = snapshot.services().get(name);
            if (svc == null) {
                continue;
            }
            keyByService.put(name, svc.key());
            servicesByKey.computeIfAbsent(svc.key(), k -> new HashSet<>()).add(name);
            List<DesiredState.ServicePort> granted = new ArrayList<>();
            for (DesiredState.ServicePort sp : DesiredState.servicePorts(svc, snapshot.membersOf(svc.key()), topology,
                    locality)) {
                List<FrontendKey> kept = new ArrayList<>(sp.frontends().size());
                for (FrontendKey fk : sp.frontends()) {
                    String owner = wanters.get(fk).first();
                    if (owner.equals(name)) {
                        kept.add(fk);
                    } else {
                        problems.put(name, DesiredState.conflict(fk, owner));
                    }
                }
                if (!kept.isEmpty()) {
                    DesiredState.ServicePort g = sp.withFrontends(kept);
                    granted.add(g);
                    newKeys.add(g.key());
                    count(g, 1);
                }
            }
            if (!granted.isEmpty()) {
                portsByService.put(name, List.copyOf(granted));
                ports.addAll(granted);
            }
            String problem = problems.get(name);
            if (problem != null) {
                updateProblems.put(name, problem);
            }
        }
        oldKeys.removeAll(newKeys);
        ports.sort(DesiredState.BY_KEY);
        return new Update(Set.copyOf(names), ports, oldKeys, updateProblems, full);
    }

    /** Every service port, as {@link DesiredState#compute} would give it. */
    DesiredState all() {
        List<DesiredState.ServicePort> out = new ArrayList<>();
        portsByService.values().forEach(out::addAll);
        out.sort(DesiredState.BY_KEY);
        return new DesiredState(out, problems);
    }

    private void count(DesiredState.ServicePort sp, int sign) {
        for (List<DesiredState.Member> prio : sp.byPriority()) {
            for (DesiredState.Member m : prio) {
                int[] h = health.computeIfAbsent(m.address(), a -> new int[2]);
                h[0] += sign;
                h[1] += m.healthy() ? sign : 0;
                if (h[0] == 0) {
                    health.remove(m.address());
                }
            }
        }
    }

    private void clear() {
        portsByService.clear();
        keyByService.clear();
        servicesByKey.clear();
        wantedByService.clear();
        wanters.clear();
        problems.clear();
        health.clear();
    }
}
