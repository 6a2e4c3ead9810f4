package io.mocket.agent;

import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.function.IntPredicate;

/**
 * Names to 32-bit map ids that stay the same across agent restarts: an id is the FNV-1a hash of the name
 * (as Kmesh does), and on a collision the next free number. Because a collision makes the id depend on
 * which name came first, a restarted agent first {@link #adopt}s the ids the kernel maps already use, and
 * the reconciler never hands out an id the kernel still holds for something else. Id 0 is never used
 * (the maps reserve it). Names are held as keys of any type with a text form that the hash is taken of
 * (backend addresses are looked up as addresses, so a pass does not format 20,000 of them as text; the
 * text is made only to derive a new id). Not thread-safe: owned by the reconciler thread.
 *
 * @param <K> the name type
 */
final class IdTable<K> {

    private final String what;
    private final Function<K, String> text;
    private final Map<K, Integer> byName = new HashMap<>();
    private final Map<Integer, K> byId = new HashMap<>();

    /**
     * @param what what the ids name, for messages ("service", "backend")
     * @param text the text form of a name, whose hash is its id
     */
    IdTable(String what, Function<K, String> text) {
        this.what = what;
        this.text = text;
    }

    /** Ids of names that are text (service port keys). */
    static IdTable<String> ofNames(String what) {
        return new IdTable<>(what, name -> name);
    }

    /** Ids of addresses, derived from their text form ("10.0.0.1", "fd00::1"). */
    static IdTable<InetAddress> ofAddresses(String what) {
        return new IdTable<>(what, InetAddress::getHostAddress);
    }

    /** 32-bit FNV-1a of the UTF-8 bytes of a name. */
    static int fnv1a32(String name) {
        int hash = 0x811c9dc5;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            hash ^= b & 0xff;
            hash *= 0x01000193;
        }
        return hash;
    }

    /** The id of a name, if it has one. */
    Optional<Integer> idOf(K name) {
        return Optional.ofNullable(byName.get(name));
    }

    /** The name holding an id, if any. */
    Optional<K> nameOf(int id) {
        return Optional.ofNullable(byId.get(id));
    }

    /** Gives {@code name} the id {@code id} if neither has one yet; true if it now has that id. */
    boolean adopt(K name, int id) {
        if (id == 0) {
            return false;
        }
        Integer held = byName.get(name);
        if (held != null) {
            return held == id;
        }
        if (byId.containsKey(id)) {
            return false;
        }
        byName.put(name, id);
        byId.put(id, name);
        return true;
    }

    /**
     * The id of {@code name}, allocating one if needed: its hash, or the next number that is neither held
     * by another name nor in {@code busy} (ids the kernel still uses for entries on their way out).
     */
    int assign(K name, Set<Integer> busy) {
        return assign(name, (IntPredicate) busy::contains);
    }

    /** As {@link #assign(Object, Set)}, with the busy ids given as a test. */
    int assign(K name, IntPredicate busy) {
        Integer held = byName.get(name);
        if (held != null) {
            return held;
        }
        int id = fnv1a32(text.apply(name));
        for (long tries = 0; id == 0 || byId.containsKey(id) || busy.test(id); tries++) {
            if (tries > 0xffffffffL) {
                throw new IllegalStateException("no free " + what + " id left");
            }
            id++;
        }
        byName.put(name, id);
        byId.put(id, name);
        return id;
    }

    /** Forgets every name not in {@code keep}, so its id may serve another name later. */
    void retainOnly(Collection<K> keep) {
        Set<K> drop = new HashSet<>(byName.keySet());
        drop.removeAll(keep instanceof Set<K> s ? s : new HashSet<>(keep));
        for (K name : drop) {
            byId.remove(byName.remove(name));
        }
    }

    /** Forgets one name, so its id may serve another name later. */
    void release(K name) {
        Integer id = byName.remove(name);
        if (id != null) {
            byId.remove(id);
        }
    }

    /** Every name with its id. */
    Map<K, Integer> entries() {
        return Map.copyOf(byName);
    }

    int size() {
        return byName.size();
    }
}
