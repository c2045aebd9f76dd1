package io.quantflow.core.source;

import com.fasterxml.jackson.databind.JsonNode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What the Hub says about a repository at one revision ({@code /api/models/{repo}/revision/{rev}?blobs=true}):
 * the commit the revision points at and every file with its size and, for LFS files, its sha256.
 */
public record HubRepoInfo(String id, String commit, Map<String, HubFile> files) {
    static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");
    static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

    /**
     * One file of the repository.
     *
     * @param size      bytes, or -1 when the Hub did not say
     * @param sha256    the LFS object's sha256, or null for a file kept in git itself
     * @param gitBlobId the git blob id (sha1 of the git object), or null
     */
    public record HubFile(String name, long size, String sha256, String gitBlobId) {
        public boolean lfs() {
            return sha256 != null;
        }
    }

    static HubRepoInfo parse(JsonNode root, String uri) {
        String sha = root.path("sha").asText("");
        if (!COMMIT.matcher(sha).matches()) {
            throw QuantflowException.of(Reason.HUB_ANSWER_INVALID, uri + ": the Hub's answer names no commit");
        }
        JsonNode siblings = root.path("siblings");
        if (!siblings.isArray()) {
            throw QuantflowException.of(Reason.HUB_ANSWER_INVALID, uri + ": the Hub's answer lists no files");
        }
        Map<String, HubFile> files = new LinkedHashMap<>();
        for (JsonNode s : siblings) {
            String name = s.path("rfilename").asText("");
            if (name.isEmpty()) {
                continue;
            }
            JsonNode lfs = s.path("lfs");
            String sha256 = lfs.isObject() ? text(lfs, "sha256", lfs.path("oid").asText(null)) : null;
            if (sha256 != null && sha256.startsWith("sha256:")) {
                sha256 = sha256.substring(7);
            }
            if (sha256 != null && !SHA256.matcher(sha256).matches()) {
                throw QuantflowException.of(Reason.HUB_ANSWER_INVALID, uri + ": the Hub's sha256 of " + name + " is malformed");
            }
            long size = lfs.isObject() && lfs.path("size").canConvertToLong() ? lfs.path("size").asLong()
                    : s.path("size").canConvertToLong() ? s.path("size").asLong() : -1;
            String blob = text(s, "blobId", null);
            if (blob != null && !COMMIT.matcher(blob).matches()) {
                blob = null;
            }
            files.put(name, new HubFile(name, size, sha256, blob));
        }
        return new HubRepoInfo(root.path("id").asText(""), sha, Map.copyOf(files));
    }

    private static String text(JsonNode n, String field, String fallback) {
        JsonNode v = n.get(field);
        return v != null && v.isTextual() ? v.textValue() : fallback;
    }
}
