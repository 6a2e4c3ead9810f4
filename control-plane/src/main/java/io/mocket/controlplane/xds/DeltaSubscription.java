package io.mocket.controlplane.xds;

import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.Snapshot;
import io.mocket.controlplane.resources.XdsResource;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * One type on a delta stream: wildcard or on-demand, following the incremental xDS rules (legacy
 * wildcard on an empty first request, "*" as an explicit name, unknown names answered in
 * {@code removed_resources} and remembered) and istiod's workload API rules (aliases resolve to the
 * canonical resource, a service brings its workloads).
 *
 * <p>Memory: a wildcard subscription holds no per-resource state, only the snapshot it last sent; the
 * name sets exist only when a client names resources.
 */
final class DeltaSubscription extends Subscription {
    private boolean wildcard;
    /** Names as the client subscribed them (canonical or alias); null when none. */
    private Set<String> names;
    /** Canonical names the server subscribed the client to: resources behind aliases, workloads behind services. */
    private Set<String> implied;
    /** Names subscribed since the last response, which the next one must answer even if unchanged. */
    private Set<String> requested;
    /** The client's initial_resource_versions, until the first response. */
    private Map<String, String> initialVersions;
    /** Became wildcard after having sent something: the next response completes the client's copy. */
    private boolean resync;
    /** A request is waiting for a response, even an empty one. */
    private boolean respond;

    DeltaSubscription(ResourceType type, long position) {
        super(type, position);
    }

    /** Applies the subscription part of a request; {@code first} when it is the type's first request on the stream. */
    void apply(DeltaDiscoveryRequest req, boolean first) {
        if (first) {
            respond = true;
            wildcard = req.getResourceNamesSubscribeCount() == 0 && req.getResourceNamesUnsubscribeCount() == 0;
            if (req.getInitialResourceVersionsCount() > 0) {
                initialVersions = new HashMap<>(req.getInitialResourceVersionsMap());
            }
        }
        for (String n : req.getResourceNamesSubscribeList()) {
            if (n.equals("*")) {
                if (!wildcard) {
                    wildcard = true;
                    resync = sent != null;
                    respond = true;
                }
            } else if (!n.isEmpty()) {
                names().add(n);
                requested().add(n);
                respond = true;
            }
        }
        for (String n : req.getResourceNamesUnsubscribeList()) {
            if (n.equals("*")) {
                if (wildcard) {
                    wildcard = false;
                    resync = false;
                    impliedFromHeld();
                }
                continue;
            }
            if (names != null) {
                names.remove(n);
            }
            if (requested != null) {
                requested.remove(n);
            }
            if (wildcard) {
                // The client cannot tell whether the wildcard still covers the name: the spec makes us say so.
                requested().add(n);
                respond = true;
            } else {
                dropImplied(n);
            }
        }
    }

    /**
     * Computes the next response from {@code cur}, or null when the client needs nothing. Advances
     * {@code sent} to {@code cur} either way. The response is a {@link DeltaDiscoveryResponse} made for
     * this stream, or a {@link SharedDeltaResponses.Encoded} when it is the same for every wildcard client
     * at this point.
     */
    Object next(Snapshot cur, ResourceStore store, SharedDeltaResponses shared, LongSupplier seq) {
        if (sharesResponses()) {
            SharedDeltaResponses.Encoded response = shared.get(type, sent, cur);
            respond = false;
            sent = cur;
            if (response == SharedDeltaResponses.NOTHING) {
                return null;
            }
            issuedShared(response, cur);
            return response;
        }
        return own(cur, store, seq);
    }

    /**
     * True when the next response depends only on the snapshot last sent and the current one: a wildcard
     * client with no named request and no initial_resource_versions waiting, which has been sent
     * nothing yet or has no request waiting for an answer.
     */
    private boolean sharesResponses() {
        return wildcard && !resync && requested == null && initialVersions == null && (sent == null || !respond);
    }

    private DeltaDiscoveryResponse own(Snapshot cur, ResourceStore store, LongSupplier seq) {
        Map<String, XdsResource> out = new LinkedHashMap<>();
        Set<String> removed = new LinkedHashSet<>();
        Map<String, String> known = sent == null ? initialVersions : null;
        if (wildcard) {
            if (sent == null || resync) {
                Map<String, String> held = sent == null ? (known == null ? Map.of() : known) : heldVersions();
                for (XdsResource r : cur.all(type)) {
                    if (!r.version().equals(held.get(r.name()))) {
                        out.put(r.name(), r);
                    }
                }
                for (String name : held.keySet()) {
                    if (cur.resolve(type, name).isEmpty()) {
                        removed.add(name);
                    }
                }
                resync = false;
                implied = null;
            } else {
                ResourceStore.Changes changes = store.changes(type, sent, cur);
                for (XdsResource r : changes.send()) {
                    out.put(r.name(), r);
                }
                removed.addAll(changes.remove());
            }
            if (requested != null) {
                for (String n : requested) {
                    Optional<XdsResource> r = cur.resolve(type, n);
                    if (r.isPresent()) {
                        offer(out, r.get(), known);
                    } else {
                        removed.add(n);
                    }
                }
            }
        } else {
            if (sent != null) {
                ResourceStore.Changes changes = store.changes(type, sent, cur);
                for (XdsResource r : changes.send()) {
                    if (!Interest.matches(r, names, implied)) {
                        continue;
                    }
                    boolean newToClient = sent.get(type, r.name()) == null || !subscribed(r.name());
                    out.put(r.name(), r);
                    imply(r.name());
                    if (newToClient && Interest.isService(r)) {
                        // A service the client asked for before it existed (pods usually come first) brings its members.
                        for (XdsResource w : Interest.membersOf(cur, r.name())) {
                            out.put(w.name(), w);
                            imply(w.name());
                        }
                    }
                }
                for (String n : changes.remove()) {
                    if (subscribed(n)) {
                        removed.add(n);
                    }
                }
            }
            Collection<String> asked = requested == null ? Set.of() : requested;
            if (known != null) {
                // A reconnecting on-demand client lists what it holds instead of subscribing again (istiod does the same).
                names().addAll(known.keySet());
                Set<String> all = new LinkedHashSet<>(asked);
                all.addAll(known.keySet());
                asked = all;
            }
            for (String n : asked) {
                Optional<XdsResource> found = cur.resolve(type, n);
                if (found.isEmpty()) {
                    removed.add(n);
                    continue;
                }
                XdsResource r = found.get();
                imply(r.name());
                offer(out, r, known);
                if (Interest.isService(r)) {
                    for (XdsResource w : Interest.membersOf(cur, r.name())) {
                        imply(w.name());
                        offer(out, w, known);
                    }
                }
            }
        }
        removed.removeAll(out.keySet());
        requested = null;
        initialVersions = null;
        boolean owed = respond;
        respond = false;
        sent = cur;
        if (out.isEmpty() && removed.isEmpty() && !owed) {
            return null;
        }
        DeltaDiscoveryResponse.Builder b = DeltaDiscoveryResponse.newBuilder()
                .setTypeUrl(type.typeUrl())
                .setSystemVersionInfo(Long.toString(cur.generation()))
                .setNonce(issued(seq.getAsLong(), cur))
                .addAllRemovedResources(removed);
        for (XdsResource r : out.values()) {
            b.addResources(r.wire()); // shared by every stream, never rebuilt
        }
        return b.build();
    }

    /** True when a request is waiting for an answer, so the next push must run even with no commit. */
    boolean owesResponse() {
        return respond || resync;
    }

    @Override
    boolean wildcard() {
        return wildcard;
    }

    @Override
    int subscribedNames() {
        return names == null ? 0 : names.size();
    }

    @Override
    int impliedNames() {
        return implied == null ? 0 : implied.size();
    }

    private static void offer(Map<String, XdsResource> out, XdsResource r, Map<String, String> known) {
        if (known != null && r.version().equals(known.get(r.name()))) {
            return;
        }
        out.put(r.name(), r);
    }

    private boolean subscribed(String canonical) {
        return (names != null && names.contains(canonical)) || (implied != null && implied.contains(canonical));
    }

    private void imply(String canonical) {
        if (names == null || !names.contains(canonical)) {
            if (implied == null) {
                implied = new HashSet<>();
            }
            implied.add(canonical);
        }
    }

    /** Unsubscribing an alias also drops the canonical name it brought, unless the client named that too. */
    private void dropImplied(String n) {
        if (implied == null) {
            return;
        }
        implied.remove(n);
        if (sent != null) {
            sent.resolve(type, n).ifPresent(r -> {
                if (names == null || !names.contains(r.name())) {
                    implied.remove(r.name());
                }
            });
        }
    }

    /** Leaving wildcard: keep following what the remaining names cover in what the client was sent. */
    private void impliedFromHeld() {
        implied = null;
        if (sent == null || names == null || names.isEmpty()) {
            return;
        }
        for (String n : names) {
            sent.resolve(type, n).ifPresent(r -> {
                imply(r.name());
                if (Interest.isService(r)) {
                    Interest.membersOf(sent, r.name()).forEach(w -> imply(w.name()));
                }
            });
        }
    }

    /** What an on-demand client holds, by version: what it was sent of its names. */
    private Map<String, String> heldVersions() {
        Map<String, String> held = new HashMap<>();
        for (XdsResource r : sent.all(type)) {
            if (Interest.matches(r, names, implied)) {
                held.put(r.name(), r.version());
            }
        }
        return held;
    }

    private Set<String> names() {
        if (names == null) {
            names = new HashSet<>();
        }
        return names;
    }

    private Set<String> requested() {
        if (requested == null) {
            requested = new LinkedHashSet<>();
        }
        return requested;
    }
}
