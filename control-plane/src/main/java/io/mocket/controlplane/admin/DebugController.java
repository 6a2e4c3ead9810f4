package io.mocket.controlplane.admin;

import io.mocket.controlplane.config.SourceLifecycle;
import io.mocket.controlplane.index.AmbientIndex;
import io.mocket.controlplane.kube.FileSource;
import io.mocket.controlplane.kube.KubernetesSource;
import io.mocket.controlplane.kube.LeaderElection;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.Snapshot;
import io.mocket.controlplane.resources.XdsResource;
import io.mocket.controlplane.xds.AdsService;
import io.mocket.controlplane.xds.XdsClientStatus;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * JSON dumps of what the control plane believes, on the admin port: the index, the served resources,
 * the connected clients with their ACKed versions, and the source's state.
 */
@RestController
public class DebugController {
    private final ResourceStore store;
    private final AmbientIndex index;
    private final AdsService ads;
    private final SourceLifecycle source;
    private final ObjectProvider<LeaderElection> election;
    private final ResourceJson json = new ResourceJson();

    public DebugController(ResourceStore store, AmbientIndex index, AdsService ads, SourceLifecycle source,
                           ObjectProvider<LeaderElection> election) {
        this.store = store;
        this.index = index;
        this.ads = ads;
        this.source = source;
        this.election = election;
    }

    /** Input object counts, output resource counts and the served generation. */
    @GetMapping(path = "/debug/index", produces = MediaType.APPLICATION_JSON_VALUE)
    public Map<String, Object> index() {
        Snapshot s = store.current();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("generation", s.generation());
        Map<String, Integer> served = new LinkedHashMap<>();
        for (ResourceType t : ResourceType.values()) {
            served.put(t.typeUrl(), s.size(t));
        }
        out.put("served", served);
        out.put("aliases", s.aliases().size());
        out.put("index", index.describe());
        return out;
    }

    /** Connected xDS clients, their subscriptions, and the versions they ACKed or NACKed. */
    @GetMapping(path = "/debug/clients", produces = MediaType.APPLICATION_JSON_VALUE)
    public List<XdsClientStatus> clients() {
        return ads.clients();
    }

    /** The source: readiness, file problems, missing CRDs, leadership. */
    @GetMapping(path = "/debug/source", produces = MediaType.APPLICATION_JSON_VALUE)
    public Map<String, Object> source() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("source", source.name());
        out.put("health", source.health());
        if (source.source() instanceof FileSource file) {
            out.put("problems", file.problems().stream().map(Object::toString).toList());
        }
        if (source.source() instanceof KubernetesSource kube) {
            out.put("missingCrds", kube.missingCrds());
        }
        LeaderElection le = election.getIfAvailable();
        if (le != null) {
            out.put("leader", Map.of("self", le.identity(), "isLeader", le.isLeader(),
                    "current", le.leader().orElse("")));
        }
        return out;
    }

    /**
     * Served resources of one type as protobuf JSON, sorted by name; {@code name} narrows to one resource
     * (canonical name or alias).
     */
    @GetMapping(path = "/debug/resources", produces = MediaType.APPLICATION_JSON_VALUE)
    public ResponseEntity<String> resources(@RequestParam(defaultValue = "address") String type,
                                            @RequestParam(required = false) String name) {
        Optional<ResourceType> rt = parseType(type);
        if (rt.isEmpty()) {
            return ResponseEntity.status(HttpStatus.BAD_REQUEST).contentType(MediaType.APPLICATION_JSON)
                    .body("{\"error\":\"unknown type '" + type.replace("\"", "") + "': use address or authorization\"}");
        }
        Snapshot s = store.current();
        List<XdsResource> list;
        if (name != null) {
            list = s.resolve(rt.get(), name).map(List::of).orElse(List.of());
            if (list.isEmpty()) {
                return ResponseEntity.status(HttpStatus.NOT_FOUND).contentType(MediaType.APPLICATION_JSON)
                        .body("{\"error\":\"no " + rt.get().name().toLowerCase(Locale.ROOT) + " named '"
                                + name.replace("\"", "") + "'\"}");
            }
        } else {
            list = new ArrayList<>(s.all(rt.get()));
            list.sort(Comparator.comparing(XdsResource::name));
        }
        StringBuilder b = new StringBuilder().append("{\"generation\":").append(s.generation()).append(",\"resources\":[");
        for (int i = 0; i < list.size(); i++) {
            XdsResource r = list.get(i);
            if (i > 0) {
                b.append(',');
            }
            b.append("{\"name\":\"").append(r.name()).append("\",\"version\":\"").append(r.version())
                    .append("\",\"resource\":").append(json.render(r)).append('}');
        }
        return ResponseEntity.ok().contentType(MediaType.APPLICATION_JSON).body(b.append("]}").toString());
    }

    private static Optional<ResourceType> parseType(String type) {
        for (ResourceType t : ResourceType.values()) {
            if (t.name().equalsIgnoreCase(type) || t.typeUrl().equals(type)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }
}
