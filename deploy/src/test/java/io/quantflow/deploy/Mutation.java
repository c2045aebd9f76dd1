package io.quantflow.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.deploy.Repo.Doc;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Predicate;

/** Broken copies of the deployment files, made in memory: the files themselves are never touched. */
final class Mutation {
    private Mutation() {
    }

    static JsonNode copy(JsonNode root, Consumer<JsonNode> change) {
        JsonNode c = root.deepCopy();
        change.accept(c);
        return c;
    }

    static ObjectNode obj(JsonNode root, String pointer) {
        JsonNode n = root.at(pointer);
        if (!n.isObject()) {
            throw new IllegalArgumentException("no object at " + pointer + " in the file: the mutation is out of date");
        }
        return (ObjectNode) n;
    }

    static ArrayNode arr(JsonNode root, String pointer) {
        JsonNode n = root.at(pointer);
        if (!n.isArray()) {
            throw new IllegalArgumentException("no array at " + pointer + " in the file: the mutation is out of date");
        }
        return (ArrayNode) n;
    }

    /** The element of an array whose field {@code key} is {@code value}. */
    static ObjectNode item(JsonNode root, String arrayPointer, String key, String value) {
        for (JsonNode e : arr(root, arrayPointer)) {
            if (value.equals(e.path(key).asText())) {
                return (ObjectNode) e;
            }
        }
        throw new IllegalArgumentException("no " + key + "=" + value + " in " + arrayPointer + ": the mutation is out of date");
    }

    /** A copy of every object, the one of that kind and name changed. */
    static List<Doc> copy(List<Doc> docs, String kind, String name, Consumer<JsonNode> change) {
        boolean found = false;
        List<Doc> out = new ArrayList<>();
        for (Doc d : docs) {
            JsonNode n = d.node().deepCopy();
            if (d.kind().equals(kind) && d.name().equals(name)) {
                change.accept(n);
                found = true;
            }
            out.add(new Doc(d.file(), d.index(), n));
        }
        if (!found) {
            throw new IllegalArgumentException("no " + kind + " " + name + ": the mutation is out of date");
        }
        return out;
    }

    /** A copy without the objects that match. */
    static List<Doc> without(List<Doc> docs, Predicate<Doc> drop) {
        List<Doc> out = docs.stream().filter(drop.negate()).toList();
        if (out.size() == docs.size()) {
            throw new IllegalArgumentException("nothing removed: the mutation is out of date");
        }
        return out;
    }
}
