package io.quantflow.deploy;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/** The repository's deployment files, read with Jackson YAML: nothing is fetched from anywhere. */
final class Repo {
    static final YAMLMapper YAML = new YAMLMapper();

    /** One Kubernetes object: the file it is in, its place there, and its content. */
    record Doc(String file, int index, JsonNode node) {
        String apiVersion() {
            return node.path("apiVersion").asText("");
        }

        String kind() {
            return node.path("kind").asText("");
        }

        String name() {
            return node.path("metadata").path("name").asText("");
        }

        @Override
        public String toString() {
            return kind() + " " + name() + " (" + file + " #" + index + ")";
        }
    }

    final Path root;

    private Repo(Path root) {
        this.root = root;
    }

    static Repo locate() {
        String prop = System.getProperty("quantflow.root");
        Path root = prop != null ? Path.of(prop) : Path.of(System.getProperty("user.dir")).resolve("..");
        root = root.toAbsolutePath().normalize();
        if (!Files.isRegularFile(root.resolve("docker-compose.yml"))) {
            throw new IllegalStateException("docker-compose.yml not found at " + root + " (set -Dquantflow.root)");
        }
        return new Repo(root);
    }

    String read(String relative) {
        try {
            return Files.readString(root.resolve(relative));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    boolean isFile(String relative) {
        return Files.isRegularFile(root.resolve(relative).normalize());
    }

    boolean isDirectory(String relative) {
        return Files.isDirectory(root.resolve(relative).normalize());
    }

    JsonNode compose() {
        return parseOne(read("docker-compose.yml"));
    }

    JsonNode kustomization() {
        return parseOne(read("k8s/kustomization.yaml"));
    }

    /** The YAML files in k8s/ other than the kustomization. */
    Set<String> k8sFiles() {
        try (Stream<Path> s = Files.list(root.resolve("k8s"))) {
            Set<String> names = new TreeSet<>();
            s.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".yaml") || n.endsWith(".yml"))
                    .filter(n -> !n.startsWith("kustomization."))
                    .forEach(names::add);
            return names;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every object of every file in k8s/, in the kustomization's order. */
    List<Doc> k8s() {
        List<Doc> docs = new ArrayList<>();
        for (JsonNode r : kustomization().path("resources")) {
            String file = r.asText();
            List<JsonNode> nodes = parseAll(read("k8s/" + file));
            for (int i = 0; i < nodes.size(); i++) {
                docs.add(new Doc(file, i, nodes.get(i)));
            }
        }
        return docs;
    }

    static JsonNode parseOne(String text) {
        List<JsonNode> all = parseAll(text);
        if (all.size() != 1) {
            throw new IllegalArgumentException("expected one YAML document, found " + all.size());
        }
        return all.get(0);
    }

    /**
     * Every non-empty document of a multi-document YAML text (a file may start with a comment-only one).
     * Read token by token from Jackson's YAML parser rather than with readTree, because readTree leaves
     * an alias (*name) as the anchor's name instead of the anchored content: here an alias is replaced
     * by a copy of what its anchor (&name) marks, as compose does. A key written twice is an error.
     */
    static List<JsonNode> parseAll(String text) {
        List<JsonNode> out = new ArrayList<>();
        try (YAMLParser p = YAML.getFactory().createParser(text)) {
            while (p.nextToken() != null) {
                JsonNode n = node(p, new HashMap<>());
                if (n != null && !n.isNull()) {
                    out.add(n);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    private static JsonNode node(YAMLParser p, Map<String, JsonNode> anchors) throws IOException {
        if (p.isCurrentAlias()) {
            JsonNode anchored = anchors.get(p.getText());
            if (anchored == null) {
                throw new JsonParseException(p, "alias *" + p.getText() + " names no anchor before it");
            }
            return anchored.deepCopy();
        }
        String anchor = p.getObjectId() instanceof String s ? s : null;
        JsonNodeFactory f = JsonNodeFactory.instance;
        JsonNode node = switch (p.currentToken()) {
            case START_OBJECT -> {
                ObjectNode o = f.objectNode();
                while (p.nextToken() != JsonToken.END_OBJECT) {
                    String key = p.currentName();
                    if (key.equals("<<")) {
                        throw new JsonParseException(p, "YAML merge keys (<<) are not supported here");
                    }
                    p.nextToken();
                    JsonNode value = node(p, anchors);
                    if (o.has(key)) {
                        throw new JsonParseException(p, "duplicate key " + key);
                    }
                    o.set(key, value);
                }
                yield o;
            }
            case START_ARRAY -> {
                ArrayNode a = f.arrayNode();
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    a.add(node(p, anchors));
                }
                yield a;
            }
            case VALUE_STRING -> f.textNode(p.getText());
            case VALUE_NUMBER_INT -> switch (p.getNumberType()) {
                case INT -> f.numberNode(p.getIntValue());
                case LONG -> f.numberNode(p.getLongValue());
                default -> f.numberNode(p.getBigIntegerValue());
            };
            case VALUE_NUMBER_FLOAT -> f.numberNode(p.getDoubleValue());
            case VALUE_TRUE -> f.booleanNode(true);
            case VALUE_FALSE -> f.booleanNode(false);
            case VALUE_NULL -> f.nullNode();
            default -> throw new JsonParseException(p, "unexpected " + p.currentToken());
        };
        if (anchor != null) {
            anchors.put(anchor, node);
        }
        return node;
    }
}
