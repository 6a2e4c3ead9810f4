package io.mocket.controlplane.xds;

import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.Snapshot;
import io.mocket.controlplane.resources.XdsResource;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * One type on a state-of-the-world stream: every response carries the whole subscribed set, with the
 * snapshot generation as {@code version_info}. Empty {@code resource_names} means all resources until
 * the client first names something (the legacy wildcard rule); "*" means all resources explicitly.
 */
final class SotwSubscription extends Subscription {
    private boolean wildcard;
    private boolean everNamed;
    /** Names as the client wrote them; null for a plain wildcard. */
    private Set<String> names;
    /** Canonical names of the last response when the client named resources (to notice their removal). */
    private Set<String> sentNames;
    private boolean respond;

    SotwSubscription(ResourceType type, long position) {
        super(type, position);
    }

    /** Applies the resource names of a request; a change of the set makes the next push answer it. */
    void apply(DiscoveryRequest req, boolean first) {
        boolean nowWildcard = req.getResourceNamesCount() == 0 ? !everNamed : req.getResourceNamesList().contains("*");
        Set<String> nowNames = null;
        for (String n : req.getResourceNamesList()) {
            if (!n.equals("*") && !n.isEmpty()) {
                if (nowNames == null) {
                    nowNames = new HashSet<>();
                }
                nowNames.add(n);
            }
        }
        everNamed |= req.getResourceNamesCount() > 0;
        if (first || nowWildcard != wildcard || !Objects.equals(nowNames, names)) {
            respond = true;
        }
        wildcard = nowWildcard;
        names = nowNames;
    }

    /** The full state of the subscribed set when it changed or a request awaits it, else null. */
    DiscoveryResponse next(Snapshot cur, ResourceStore store, LongSupplier seq) {
        boolean due = respond || sent == null;
        if (!due) {
            ResourceStore.Changes changes = store.changes(type, sent, cur);
            if (wildcard) {
                due = !changes.isEmpty();
            } else {
                due = changes.send().stream().anyMatch(r -> Interest.matches(r, names, sentNames))
                        || changes.remove().stream().anyMatch(n -> sentNames != null && sentNames.contains(n));
            }
        }
        respond = false;
        if (!due) {
            sent = cur;
            return null;
        }
        Collection<XdsResource> state = wildcard ? cur.all(type) : resolve(cur);
        sentNames = wildcard ? null : new HashSet<>(state.stream().map(XdsResource::name).toList());
        sent = cur;
        DiscoveryResponse.Builder b = DiscoveryResponse.newBuilder()
                .setTypeUrl(type.typeUrl())
                .setVersionInfo(Long.toString(cur.generation()))
                .setNonce(issued(seq.getAsLong(), cur));
        for (XdsResource r : state) {
            b.addResources(r.wire().getResource()); // the shared Any, never rebuilt
        }
        return b.build();
    }

    boolean owesResponse() {
        return respond;
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
        return 0;
    }

    private Collection<XdsResource> resolve(Snapshot cur) {
        Map<String, XdsResource> out = new LinkedHashMap<>();
        if (names != null) {
            for (String n : names) {
                cur.resolve(type, n).ifPresent(r -> {
                    out.put(r.name(), r);
                    if (Interest.isService(r)) {
                        Interest.membersOf(cur, r.name()).forEach(w -> out.put(w.name(), w));
                    }
                });
            }
        }
        return out.values();
    }
}
