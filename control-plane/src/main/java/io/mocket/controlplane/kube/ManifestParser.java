package io.mocket.controlplane.kube;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.constructor.StandardConstructor;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

/**
 * Turns the text of a Kubernetes YAML file (one or more documents separated by {@code ---}) into the same
 * object classes the informers deliver, with the line each document starts on. Stateless and thread-safe.
 *
 * <p>It parses with snakeyaml-engine, the YAML 1.2 parser fabric8's own serialization uses, so a value reads
 * the same here as through {@code kubectl apply} and the client ({@code yes} stays a string).
 */
final class ManifestParser {

    /** What one YAML document turned out to be. */
    sealed interface Document permits Parsed, Ignored, Invalid {
        /** 1-based line the document (or the error) is at. */
        int line();
    }

    /** An object of a kind the control plane reads, as the informer for that kind would deliver it. */
    record Parsed(KubeKind kind, HasMetadata object, int line) implements Document {
    }

    /** A valid object of a kind the control plane does not read (Deployment, ConfigMap, ...). */
    record Ignored(String apiVersion, String kind, int line) implements Document {
    }

    /** A document that cannot be read; {@code message} says what is wrong and how to fix it. */
    record Invalid(int line, String message) implements Document {
    }

    private final KubernetesSerialization serialization;
    private final LoadSettings settings;

    ManifestParser(KubernetesSerialization serialization) {
        this.serialization = serialization;
        this.settings = LoadSettings.builder().setLabel("manifest").build();
    }

    /**
     * Every document of {@code text}, in order. A YAML syntax error ends the list with an {@link Invalid}
     * (the parser cannot tell where the next document starts); other errors affect one document only.
     */
    List<Document> parse(String text) {
        List<Document> documents = new ArrayList<>();
        Iterator<Node> nodes = new Compose(settings).composeAllFromString(text).iterator();
        while (true) {
            Node node;
            try {
                if (!nodes.hasNext()) {
                    break;
                }
                node = nodes.next();
            } catch (MarkedYamlEngineException e) {
                documents.add(syntaxError(e));
                break;
            } catch (YamlEngineException e) {
                documents.add(new Invalid(1, "YAML error: " + e.getMessage() + ": fix the YAML syntax"));
                break;
            }
            read(node, documents);
        }
        return documents;
    }

    private void read(Node node, List<Document> out) {
        int line = line(node);
        if (node instanceof ScalarNode scalar && scalar.getValue().isBlank()) {
            return; // an empty document, e.g. a trailing "---"
        }
        if (!(node instanceof MappingNode mapping)) {
            out.add(new Invalid(line, "the document at line " + line + " is not a mapping: a Kubernetes object "
                    + "starts with apiVersion:, kind: and metadata: at the left margin"));
            return;
        }
        Object constructed;
        try {
            constructed = new StandardConstructor(settings).constructSingleDocument(Optional.of(node));
        } catch (MarkedYamlEngineException e) {
            out.add(syntaxError(e));
            return;
        } catch (YamlEngineException e) {
            out.add(new Invalid(line, "YAML error in the document at line " + line + ": " + e.getMessage()));
            return;
        }
        if (!(constructed instanceof Map<?, ?> map)) {
            out.add(new Invalid(line, "the document at line " + line + " is not a mapping"));
            return;
        }
        String apiVersion = map.get("apiVersion") instanceof String s ? s : null;
        String kindName = map.get("kind") instanceof String s ? s : null;
        if (kindName == null || kindName.isBlank() || apiVersion == null || apiVersion.isBlank()) {
            out.add(new Invalid(line, "the document at line " + line + " has no "
                    + (kindName == null || kindName.isBlank() ? "kind" : "apiVersion")
                    + ": every Kubernetes object needs apiVersion: and kind: (e.g. apiVersion: v1, kind: Pod)"));
            return;
        }
        if ("List".equals(kindName) && map.get("items") instanceof List<?>) {
            // kubectl's v1 List: read each item as a document of its own, at its own line.
            Node items = child(mapping, "items");
            if (items instanceof SequenceNode sequence) {
                sequence.getValue().forEach(item -> read(item, out));
            }
            return;
        }
        Optional<KubeKind> kind = KubeKind.of(apiVersion, kindName);
        if (kind.isEmpty()) {
            out.add(new Ignored(apiVersion, kindName, line));
            return;
        }
        String name = map.get("metadata") instanceof Map<?, ?> meta && meta.get("name") instanceof String s ? s : null;
        if (name == null || name.isBlank()) {
            out.add(new Invalid(line, "the " + kindName + " at line " + line + " has no metadata.name: add one, e.g. "
                    + "'name: web' indented under 'metadata:'"));
            return;
        }
        HasMetadata object;
        try {
            object = serialization.convertValue(map, kind.get().modelClass());
        } catch (IllegalArgumentException e) {
            String detail = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
            out.add(new Invalid(line, "the " + kindName + " " + name + " at line " + line + " does not match the "
                    + kindName + " schema: " + detail + ": fix the field named there"));
            return;
        }
        out.add(new Parsed(kind.get(), normalize(kind.get(), object), line));
    }

    /**
     * Fills in what the API server would have: the apiVersion the informer reads at, the namespace kubectl
     * would apply to ("default"), and a uid and resourceVersion derived from the content, so code in the
     * index that reads them works the same for both sources.
     */
    private HasMetadata normalize(KubeKind kind, HasMetadata object) {
        object.setApiVersion(kind.apiVersion());
        ObjectMeta meta = object.getMetadata();
        if (kind.namespaced()) {
            if (meta.getNamespace() == null || meta.getNamespace().isBlank()) {
                meta.setNamespace("default");
            }
        } else {
            meta.setNamespace(null);
        }
        if (meta.getUid() == null) {
            String identity = "mocket-file-source/" + kind.apiVersion() + "/" + kind.kind() + "/"
                    + (meta.getNamespace() == null ? "" : meta.getNamespace()) + "/" + meta.getName();
            meta.setUid(UUID.nameUUIDFromBytes(identity.getBytes(StandardCharsets.UTF_8)).toString());
        }
        if (meta.getResourceVersion() == null) {
            meta.setResourceVersion(contentVersion(serialization.asJson(object)));
        }
        return object;
    }

    private static String contentVersion(String json) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(json.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java runtime", e);
        }
    }

    private static Invalid syntaxError(MarkedYamlEngineException e) {
        Optional<Mark> mark = e.getProblemMark().or(e::getContextMark);
        int line = mark.map(m -> m.getLine() + 1).orElse(1);
        int column = mark.map(m -> m.getColumn() + 1).orElse(1);
        String problem = e.getProblem() != null ? e.getProblem() : "invalid YAML";
        String context = e.getContext() != null ? " (" + e.getContext() + ")" : "";
        return new Invalid(line, "YAML syntax error at line " + line + ", column " + column + ": " + problem
                + context + ": fix the indentation or quoting there");
    }

    private static int line(Node node) {
        return node.getStartMark().map(m -> m.getLine() + 1).orElse(1);
    }

    private static Node child(MappingNode mapping, String key) {
        for (NodeTuple tuple : mapping.getValue()) {
            if (tuple.getKeyNode() instanceof ScalarNode k && key.equals(k.getValue())) {
                return tuple.getValueNode();
            }
        }
        return null;
    }
}
