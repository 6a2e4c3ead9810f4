package io.mocket.agent;

import io.mocket.bpf.BackendKey;
import io.mocket.bpf.BackendValue;
import io.mocket.bpf.EndpointKey;
import io.mocket.bpf.EndpointValue;
import io.mocket.bpf.FrontendKey;
import io.mocket.bpf.FrontendValue;
import io.mocket.bpf.LoadBalancerMaps;
import io.mocket.bpf.ServiceKey;
import io.mocket.bpf.ServiceValue;
import io.mocket.bpf.TypedMap;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The document behind {@code /debug/state}: what the kernel maps hold, read back from the kernel at
 * request time (not the reconciler's copy), beside a summary of what the node believes and how the last
 * reconcile and the xDS exchanges went. Looking at both answers "does the kernel do what the node
 * was told?".
 */
final class DebugState {
    private DebugState() {
    }

    static Map<String, Object> of(NodeTopology topology, NodeState state, ServiceReconciler reconciler, XdsClient xds,
                                  LoadBalancerMaps maps) {
        Map<String, Object> doc = new LinkedHashMap<>();
        NodeState.Snapshot s = state.snapshot();
        doc.put("node", Map.of("name", topology.nodeName(), "network", topology.network(),
                "clusterId", topology.clusterId(), "locality", locality(topology, s)));
        Map<String, Object> store = new LinkedHashMap<>();
        store.put("generation", s.generation());
        store.put("synced", s.synced().stream().map(ResourceKind::typeUrl).toList());
        store.put("services", s.services().size());
        store.put("workloads", s.workloads().size());
        store.put("authorizations", s.authorizations().size());
        doc.put("nodeState", store);
        if (xds != null) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("connected", xds.connected());
            x.put("streamsOpened", xds.streamsOpened());
            List<Object> exchanges = new ArrayList<>();
            List<XdsClient.Exchange> all = xds.exchanges();
            for (XdsClient.Exchange e : all.subList(Math.max(0, all.size() - 10), all.size())) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("at", e.at().toString());
                m.put("stream", e.stream());
                m.put("type", e.kind().typeUrl());
                m.put("nonce", e.nonce());
                m.put("resources", e.resources());
                m.put("removed", e.removals());
                m.put("answer", e.acked() ? "ACK" : "NACK: " + e.nack());
                exchanges.add(m);
            }
            x.put("lastExchanges", exchanges);
            doc.put("xds", x);
        }
        reconciler.lastPass().ifPresent(p -> {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("generation", p.generation());
            r.put("writes", p.writes());
            r.put("millis", p.took().toNanos() / 1e6);
            r.put("failures", new TreeMap<>(p.failures()));
            doc.put("lastReconcile", r);
        });
        doc.put("kernel", kernel(maps, reconciler.serviceNames()));
        return doc;
    }

    private static String locality(NodeTopology topology, NodeState.Snapshot s) {
        var l = topology.localityIn(s);
        return l.getRegion() + "/" + l.getZone() + "/" + l.getSubzone();
    }

    /** Reads every map now. */
    static Map<String, Object> kernel(LoadBalancerMaps maps, Map<Integer, String> names) {
        Map<FrontendKey, FrontendValue> frontends = maps.frontends().entries();
        Map<ServiceKey, ServiceValue> services = maps.services().entries();
        Map<EndpointKey, EndpointValue> endpoints = maps.endpoints().entries();
        Map<BackendKey, BackendValue> backends = maps.backends().entries();

        Map<String, Object> occupancy = new LinkedHashMap<>();
        occupancy.put(LoadBalancerMaps.FRONTEND, occupancy(frontends.size(), maps.frontends()));
        occupancy.put(LoadBalancerMaps.SERVICE, occupancy(services.size(), maps.services()));
        occupancy.put(LoadBalancerMaps.ENDPOINT, occupancy(endpoints.size(), maps.endpoints()));
        occupancy.put(LoadBalancerMaps.BACKEND, occupancy(backends.size(), maps.backends()));
        occupancy.put(LoadBalancerMaps.REVERSE_NAT, occupancy(maps.reverseNat().count(), maps.reverseNat()));
        occupancy.put(LoadBalancerMaps.CONNECTION, occupancy(maps.connections().count(), maps.connections()));

        Map<Integer, List<String>> frontendsById = new TreeMap<>();
        frontends.entrySet().stream()
                .sorted(Comparator.comparing(e -> e.getKey().address().getHostAddress() + ":" + e.getKey().port()))
                .forEach(e -> frontendsById.computeIfAbsent(e.getValue().serviceId(), id -> new ArrayList<>())
                        .add(e.getKey().address().getHostAddress() + ":" + e.getKey().port() + "/"
                                + e.getKey().protocol()));
        List<Object> serviceList = new ArrayList<>();
        int orphans = 0;
        for (Map.Entry<EndpointKey, EndpointValue> e : endpoints.entrySet()) {
            ServiceValue v = services.get(new ServiceKey(e.getKey().serviceId()));
            if (v == null || v.revision() != e.getKey().revision()) {
                orphans++;
            }
        }
        Map<Integer, ServiceValue> byId = new TreeMap<>(Integer::compareUnsigned);
        services.forEach((k, v) -> byId.put(k.serviceId(), v));
        for (Map.Entry<Integer, ServiceValue> e : byId.entrySet()) {
            int id = e.getKey();
            ServiceValue v = e.getValue();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", Integer.toUnsignedString(id));
            m.put("name", names.getOrDefault(id, "(not known to this agent)"));
            m.put("revision", v.revision());
            m.put("lbMode", v.lbMode().name());
            m.put("healthPolicy", v.healthPolicy().name());
            m.put("frontends", frontendsById.getOrDefault(id, List.of()));
            List<Object> priorities = new ArrayList<>();
            for (int prio = 0; prio < ServiceValue.PRIORITIES; prio++) {
                int count = v.counts().get(prio);
                if (count == 0) {
                    continue;
                }
                List<String> slots = new ArrayList<>();
                for (int slot = 0; slot < count; slot++) {
                    EndpointValue ep = endpoints.get(new EndpointKey(id, v.revision(), prio, slot));
                    if (ep == null) {
                        slots.add("(missing slot)");
                        continue;
                    }
                    BackendValue b = backends.get(new BackendKey(ep.backendId()));
                    slots.add((b == null ? "(missing backend " + Integer.toUnsignedString(ep.backendId()) + ")"
                            : b.address().getHostAddress() + (b.healthy() ? "" : " (unhealthy)")) + ":" + ep.port());
                }
                priorities.add(Map.of("priority", prio, "backends", slots));
            }
            m.put("priorities", priorities);
            serviceList.add(m);
        }
        Map<String, Object> kernel = new LinkedHashMap<>();
        kernel.put("occupancy", occupancy);
        kernel.put("services", serviceList);
        kernel.put("backends", backends.size());
        kernel.put("orphanSlots", orphans);
        return kernel;
    }

    private static Map<String, Object> occupancy(int entries, TypedMap<?, ?> map) {
        return Map.of("entries", entries, "max", map.map().maxEntries());
    }
}
