package io.mocket.controlplane.kube;

import io.fabric8.kubernetes.api.model.HasMetadata;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A ClusterSink that records every call and keeps the state those calls imply, as the index would. */
final class RecordingSink implements ClusterSink {

    sealed interface Call permits Upsert, Delete, ReplaceAll {
        KubeKind kind();
    }

    record Upsert(KubeKind kind, HasMetadata object) implements Call {
    }

    record Delete(KubeKind kind, HasMetadata object) implements Call {
    }

    record ReplaceAll(KubeKind kind, List<HasMetadata> objects) implements Call {
    }

    private final List<Call> calls = new ArrayList<>();
    private final Map<KubeKind, Map<String, HasMetadata>> state = new EnumMap<>(KubeKind.class);

    static String key(HasMetadata object) {
        String ns = object.getMetadata().getNamespace();
        return (ns == null ? "" : ns + "/") + object.getMetadata().getName();
    }

    @Override
    public synchronized void upsert(KubeKind kind, HasMetadata object) {
        calls.add(new Upsert(kind, object));
        state.computeIfAbsent(kind, k -> new LinkedHashMap<>()).put(key(object), object);
    }

    @Override
    public synchronized void delete(KubeKind kind, HasMetadata object) {
        calls.add(new Delete(kind, object));
        state.computeIfAbsent(kind, k -> new LinkedHashMap<>()).remove(key(object));
    }

    @Override
    public synchronized void replaceAll(KubeKind kind, Collection<? extends HasMetadata> objects) {
        calls.add(new ReplaceAll(kind, List.copyOf(objects)));
        Map<String, HasMetadata> now = new LinkedHashMap<>();
        objects.forEach(o -> now.put(key(o), o));
        state.put(kind, now);
    }

    synchronized List<Call> calls() {
        return List.copyOf(calls);
    }

    /** Objects of {@code kind} the sink holds now, by "namespace/name" (or "name" when cluster scoped). */
    synchronized Map<String, HasMetadata> objects(KubeKind kind) {
        return Map.copyOf(state.getOrDefault(kind, Map.of()));
    }

    synchronized boolean hasListed(KubeKind kind) {
        return state.containsKey(kind) && calls.stream().anyMatch(c -> c instanceof ReplaceAll r && r.kind() == kind);
    }

    synchronized <C extends Call> List<C> calls(Class<C> type, KubeKind kind) {
        return calls.stream().filter(type::isInstance).map(type::cast).filter(c -> c.kind() == kind).toList();
    }
}
