package io.mocket.controlplane.resources;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The served state of the control plane: the one place where translated resources live, written by the
 * index and read by the xDS server, the lookup service and the debug endpoints.
 *
 * <p>Writers call {@link #commit}; every commit that changes something makes a new immutable
 * {@link Snapshot} with the next generation and tells the listeners. Readers take {@link #current()}
 * without locking. The last {@value #HISTORY} commits are kept so that a stream that is a few
 * generations behind gets its delta from the commit log instead of a full comparison.
 *
 * <p>Thread safety: {@code commit} is serialized internally; listeners run on the committing thread
 * and must not block.
 */
public final class ResourceStore {
    static final int HISTORY = 256;

    private volatile Snapshot current = Snapshot.empty();
    private final ArrayDeque<Commit> history = new ArrayDeque<>();
    private final List<Consumer<Commit>> listeners = new CopyOnWriteArrayList<>();

    public Snapshot current() {
        return current;
    }

    /** Registers a listener told of every commit that changed something, after the snapshot is visible. */
    public void addListener(Consumer<Commit> listener) {
        listeners.add(listener);
    }

    /**
     * Applies upserts and removals. Upserts whose version equals the served one are ignored, removals
     * of absent names too; when nothing is left no generation is made and null is returned.
     *
     * @param upserts         resources to add or replace (canonical names)
     * @param removals        names to remove, per type
     * @param firstEventNanos {@link System#nanoTime()} of the earliest source event behind this change
     * @return the commit, or null when nothing changed
     */
    public Commit commit(Collection<XdsResource> upserts, Map<ResourceType, ? extends Collection<String>> removals,
                         long firstEventNanos) {
        Commit commit;
        synchronized (this) {
            Snapshot base = current;
            Map<ResourceType, Set<String>> updated = new EnumMap<>(ResourceType.class);
            Map<ResourceType, Set<String>> removed = new EnumMap<>(ResourceType.class);
            // Only what changed is copied (LayeredMap): a flat copy of every resource and alias per commit cost
            // O(cluster size) on the path from a source event to the clients.
            Map<ResourceType, LayeredMap.Edit<String, XdsResource>> next = new EnumMap<>(ResourceType.class);
            LayeredMap.Edit<String, String> aliases = null;

            for (XdsResource r : upserts) {
                XdsResource old = base.get(r.type(), r.name());
                if (old != null && old.version().equals(r.version()) && old.aliases().equals(r.aliases())) {
                    continue;
                }
                next.computeIfAbsent(r.type(), t -> LayeredMap.edit(base.byName(t))).put(r.name(), r);
                updated.computeIfAbsent(r.type(), t -> new HashSet<>()).add(r.name());
                // Unchanged aliases that already name this resource need no work; any other case is redone as a
                // whole, so that a resource re-upserted with an alias another one took gets it back.
                boolean aliasesChanged = old == null ? !r.aliases().isEmpty() : !old.aliases().equals(r.aliases());
                if (aliasesChanged || !aliasesName(aliases, base, r)) {
                    if (aliases == null) {
                        aliases = LayeredMap.edit(base.aliases());
                    }
                    if (old != null) {
                        dropAliases(aliases, old);
                    }
                    for (String a : r.aliases()) {
                        aliases.put(a, r.name());
                    }
                }
            }
            for (Map.Entry<ResourceType, ? extends Collection<String>> e : removals.entrySet()) {
                ResourceType type = e.getKey();
                for (String name : e.getValue()) {
                    LayeredMap.Edit<String, XdsResource> m = next.get(type);
                    XdsResource old = m != null ? m.get(name) : base.get(type, name);
                    if (old == null || (updated.containsKey(type) && updated.get(type).contains(name))) {
                        continue; // absent, or re-added in this same commit: an upsert wins
                    }
                    next.computeIfAbsent(type, t -> LayeredMap.edit(base.byName(t))).remove(name);
                    removed.computeIfAbsent(type, t -> new HashSet<>()).add(name);
                    if (!old.aliases().isEmpty()) {
                        if (aliases == null) {
                            aliases = LayeredMap.edit(base.aliases());
                        }
                        dropAliases(aliases, old);
                    }
                }
            }
            if (updated.isEmpty() && removed.isEmpty()) {
                return null;
            }
            Map<ResourceType, Map<String, XdsResource>> all = new EnumMap<>(ResourceType.class);
            for (ResourceType t : ResourceType.values()) {
                LayeredMap.Edit<String, XdsResource> m = next.get(t);
                all.put(t, m == null ? base.byName(t) : m.build());
            }
            Map<String, String> aliasView = aliases == null ? base.aliases() : aliases.build();
            long generation = base.generation() + 1;
            commit = new Commit(generation, updated, removed, firstEventNanos);
            history.addLast(commit);
            if (history.size() > HISTORY) {
                history.removeFirst();
            }
            current = new Snapshot(generation, all, aliasView);
        }
        for (Consumer<Commit> l : listeners) {
            l.accept(commit);
        }
        return commit;
    }

    /** True when every alias of {@code r} resolves to it, in the aliases as edited so far. */
    private static boolean aliasesName(LayeredMap.Edit<String, String> edited, Snapshot base, XdsResource r) {
        for (String a : r.aliases()) {
            String owner = edited != null ? edited.get(a) : base.aliases().get(a);
            if (!r.name().equals(owner)) {
                return false;
            }
        }
        return true;
    }

    private static void dropAliases(LayeredMap.Edit<String, String> aliases, XdsResource old) {
        for (String a : old.aliases()) {
            aliases.remove(a, old.name());
        }
    }

    /**
     * What changed of {@code type} from {@code from} to {@code to}: names to send (present in {@code to}
     * with another version than in {@code from}, or new) and names to remove (in {@code from}, not in
     * {@code to}). Uses the commit log when it still covers the span, a full comparison otherwise.
     */
    public Changes changes(ResourceType type, Snapshot from, Snapshot to) {
        if (from == to || from.generation() == to.generation()) {
            return Changes.NONE;
        }
        List<Commit> span = commitsBetween(from.generation(), to.generation());
        Set<String> touched = new HashSet<>();
        if (span != null) {
            for (Commit c : span) {
                touched.addAll(c.updated(type));
                touched.addAll(c.removed(type));
            }
        } else {
            touched.addAll(from.byName(type).keySet());
            touched.addAll(to.byName(type).keySet());
        }
        List<XdsResource> send = new ArrayList<>();
        List<String> remove = new ArrayList<>();
        for (String name : touched) {
            XdsResource before = from.get(type, name);
            XdsResource after = to.get(type, name);
            if (after == null) {
                if (before != null) {
                    remove.add(name);
                }
            } else if (before == null || !before.version().equals(after.version())
                    || !before.aliases().equals(after.aliases())) {
                send.add(after);
            }
        }
        return new Changes(send, remove);
    }

    /** The commits with generation in (fromGen, toGen], or null when the log no longer covers them. */
    private synchronized List<Commit> commitsBetween(long fromGen, long toGen) {
        if (fromGen > toGen) {
            return null;
        }
        if (history.isEmpty() || history.peekFirst().generation() > fromGen + 1) {
            return null;
        }
        List<Commit> out = new ArrayList<>();
        for (Commit c : history) {
            if (c.generation() > fromGen && c.generation() <= toGen) {
                out.add(c);
            }
        }
        return out;
    }

    /** Resources to send and names to remove between two snapshots. */
    public record Changes(List<XdsResource> send, List<String> remove) {
        static final Changes NONE = new Changes(List.of(), List.of());

        public boolean isEmpty() {
            return send.isEmpty() && remove.isEmpty();
        }
    }
}
