package io.quantflow.deploy;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/** Small helpers over Jackson trees. */
final class Nodes {
    private Nodes() {
    }

    static Iterable<Map.Entry<String, JsonNode>> fields(JsonNode n) {
        if (n == null || !n.isObject()) {
            return List.of();
        }
        return new ArrayList<>(n.properties());
    }

    static List<JsonNode> elements(JsonNode n) {
        List<JsonNode> out = new ArrayList<>();
        if (n != null && n.isArray()) {
            n.forEach(out::add);
        }
        return out;
    }

    /** A string map (labels, selectors, data); scalars as text. */
    static Map<String, String> strings(JsonNode n) {
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : fields(n)) {
            m.put(e.getKey(), e.getValue().isValueNode() ? e.getValue().asText() : e.getValue().toString());
        }
        return m;
    }

    static boolean has(JsonNode n, String field) {
        return n != null && n.hasNonNull(field);
    }

    /** Every string value in the tree with its JSON pointer. */
    static void strings(JsonNode n, String path, BiConsumer<String, String> visit) {
        if (n == null) {
            return;
        }
        if (n.isTextual()) {
            visit.accept(path, n.asText());
        } else if (n.isObject()) {
            for (Map.Entry<String, JsonNode> e : fields(n)) {
                strings(e.getValue(), path + "/" + e.getKey(), visit);
            }
        } else if (n.isArray()) {
            for (int i = 0; i < n.size(); i++) {
                strings(n.get(i), path + "/" + i, visit);
            }
        }
    }
}
