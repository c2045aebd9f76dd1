package io.quantflow.core.target;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.source.HubSettings;
import io.quantflow.core.source.RepoId;
import io.quantflow.core.transfer.Secret;
import io.quantflow.core.util.Exceptions;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * The Hugging Face Hub's write protocol, as {@code huggingface_hub} speaks it ({@code hf_api.py},
 * {@code _commit_api.py}, {@code lfs.py}): whoami, repository and branch creation, preupload, the LFS
 * batch API with its basic and multipart transfers, the NDJSON commit and the commit list.
 * Every call is retried with the settings' backoff on a network failure, 429 and 5xx; a part of a
 * multipart upload is retried on its own. The token goes only to the endpoint's own origin, never to
 * the storage an upload URL points at; no message holds it.
 */
final class HubApi {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_ANSWER = 64L << 20;
    static final String LFS_TYPE = "application/vnd.git-lfs+json";
    private static final int IO_SLICE = 256 << 10;

    private final HubSettings settings;
    private final HttpClient http;
    private final String base;

    /** A refusal of the Hub that is not worth retrying. */
    static final class Refused extends RuntimeException {
        final int status;
        final String errorCode;
        final String serverMessage;

        Refused(int status, String errorCode, String serverMessage) {
            super("HTTP " + status + (errorCode == null ? "" : " " + errorCode));
            this.status = status;
            this.errorCode = errorCode;
            this.serverMessage = serverMessage;
        }
    }

    /** Who the token is and what it may do: role "read", "write" or "fineGrained" (with its scopes). */
    record Whoami(String name, List<String> orgs, String role, JsonNode fineGrained) {
    }

    /** A branch's head commit and its files (path to git blob id, and sha256 for LFS files). */
    record Revision(String commit, Map<String, String> files, Map<String, String> lfs) {
    }

    /** Where an LFS object goes: null actions when the Hub holds it already. */
    record LfsObject(String oid, long size, JsonNode actions) {
    }

    /** What a commit returned. */
    record Commit(String oid, String url, String pullRequestUrl) {
    }

    HubApi(HubSettings settings) {
        this.settings = settings;
        this.http = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER)
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(settings.stallTimeout())
                .build();
        this.base = settings.endpoint().toString();
    }

    String endpoint() {
        return base;
    }

    Whoami whoami() {
        JsonNode r = json("asking " + base + " who the token is", () -> request(api("/api/whoami-v2")).GET());
        String name = text(r, "name");
        List<String> orgs = new ArrayList<>();
        for (JsonNode o : r.path("orgs")) {
            if (o.hasNonNull("name")) {
                orgs.add(o.get("name").asText());
            }
        }
        JsonNode token = r.path("auth").path("accessToken");
        return new Whoami(name, List.copyOf(orgs), token.path("role").asText(""), token.path("fineGrained"));
    }

    /** The branch's head and files, or null when the repository (or the branch) does not exist: {@code missing} says which. */
    Revision revision(RepoId repo, String branch, String[] missing) {
        try {
            JsonNode r = json("asking " + base + " about " + repo, () -> request(api("/api/models/" + repo.id() + "/revision/"
                    + enc(branch) + "?blobs=true")).GET());
            Map<String, String> files = new LinkedHashMap<>();
            Map<String, String> lfs = new LinkedHashMap<>();
            for (JsonNode s : r.path("siblings")) {
                String path = text(s, "rfilename");
                files.put(path, s.path("blobId").asText(""));
                if (s.path("lfs").hasNonNull("sha256")) {
                    lfs.put(path, s.path("lfs").get("sha256").asText());
                }
            }
            return new Revision(text(r, "sha"), files, lfs);
        } catch (Refused e) {
            if (e.status == 404 || e.status == 401 && "RepoNotFound".equals(e.errorCode)) {
                missing[0] = "RevisionNotFound".equals(e.errorCode) ? "branch" : "repo";
                return null;
            }
            throw e;
        }
    }

    /** Creates the model repository; true if created, false if it existed (409). */
    boolean createRepo(RepoId repo, boolean makePrivate) {
        String[] parts = repo.id().split("/", 2);
        ObjectNode body = JSON.createObjectNode();
        body.put("name", parts[1]);
        body.put("organization", parts[0]);
        body.put("type", "model");
        body.put("private", makePrivate);
        try {
            json("creating " + repo + " at " + base, () -> request(api("/api/repos/create")).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(bytes(body))));
            return true;
        } catch (Refused e) {
            if (e.status == 409) {
                return false;
            }
            throw e;
        }
    }

    /** Creates a branch from the default branch's head; a branch that exists (409) is fine. */
    void createBranch(RepoId repo, String branch) {
        try {
            json("creating the branch " + branch + " of " + repo, () -> request(api("/api/models/" + repo.id() + "/branch/" + enc(branch)))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{}")));
        } catch (Refused e) {
            if (e.status != 409) {
                throw e;
            }
        }
    }

    /** Asks how each file is to be uploaded: path to "lfs" or "regular". */
    Map<String, String> preupload(RepoId repo, String branch, List<String> paths, List<byte[]> samples, List<Long> sizes, boolean createPr) {
        ObjectNode body = JSON.createObjectNode();
        ArrayNode files = body.putArray("files");
        for (int i = 0; i < paths.size(); i++) {
            ObjectNode f = files.addObject();
            f.put("path", paths.get(i));
            f.put("sample", java.util.Base64.getEncoder().encodeToString(samples.get(i)));
            f.put("size", sizes.get(i));
        }
        JsonNode r = json("asking " + base + " how to upload to " + repo, () -> request(api("/api/models/" + repo.id() + "/preupload/"
                + enc(branch) + (createPr ? "?create_pr=1" : ""))).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(bytes(body))));
        Map<String, String> modes = new LinkedHashMap<>();
        for (JsonNode f : r.path("files")) {
            modes.put(text(f, "path"), text(f, "uploadMode"));
        }
        for (String p : paths) {
            if (!modes.containsKey(p)) {
                throw QuantflowException.of(Reason.HUB_UPLOAD_FAILED, "the Hub at " + base + " did not say how to upload " + p);
            }
        }
        return modes;
    }

    /** The LFS batch API: what to do for each object (no actions: the Hub holds it). */
    List<LfsObject> lfsBatch(RepoId repo, String branch, List<String> oids, List<Long> sizes) {
        ObjectNode body = JSON.createObjectNode();
        body.put("operation", "upload");
        body.putArray("transfers").add("basic").add("multipart");
        ArrayNode objects = body.putArray("objects");
        for (int i = 0; i < oids.size(); i++) {
            objects.addObject().put("oid", oids.get(i)).put("size", sizes.get(i));
        }
        body.put("hash_algo", "sha256");
        body.putObject("ref").put("name", branch);
        JsonNode r = json("asking " + base + " where to upload to " + repo, () -> request(api("/" + repo.id() + ".git/info/lfs/objects/batch"))
                .header("Accept", LFS_TYPE).header("Content-Type", LFS_TYPE).POST(HttpRequest.BodyPublishers.ofByteArray(bytes(body))));
        List<LfsObject> out = new ArrayList<>();
        for (JsonNode o : r.path("objects")) {
            if (o.has("error")) {
                throw QuantflowException.of(Reason.HUB_UPLOAD_FAILED, "the Hub refused the object " + text(o, "oid") + " of " + repo + ": "
                        + o.path("error").path("message").asText("no reason given"));
            }
            JsonNode actions = o.get("actions");
            out.add(new LfsObject(text(o, "oid"), o.path("size").asLong(), actions == null || actions.isNull() ? null : actions));
        }
        return out;
    }

    /** The basic transfer: one PUT of the whole file, retried whole; {@code sent} hears its bytes once it is stored. */
    void putWhole(String href, JsonNode header, Path file, long size, LongConsumer sent) {
        call("uploading " + file.getFileName(), () -> {
            HttpRequest.Builder b;
            try {
                b = request(URI.create(href)).PUT(HttpRequest.BodyPublishers.ofFile(file));
            } catch (java.io.FileNotFoundException e) {
                throw new UncheckedIOException(e);
            }
            headers(b, header);
            return b;
        }, 200, 201);
        sent.accept(size);
    }

    /**
     * One part of a multipart transfer: a PUT of {@code length} bytes at {@code offset} (read once, sent from memory),
     * retried on its own; its ETag. {@code sent} hears the part's bytes once it is stored.
     */
    String putPart(String href, Path file, long offset, long length, int part, LongConsumer sent) {
        byte[] bytes = read(file, offset, length);
        String what = "uploading part " + part + " of " + file.getFileName();
        String etag = null;
        for (int attempt = 1; etag == null; attempt++) {
            try {
                etag = putBlocking(URI.create(href), bytes);
            } catch (IOException e) {
                pause(attempt, what, e);
            }
        }
        if (etag.isEmpty()) {
            throw QuantflowException.of(Reason.HUB_UPLOAD_FAILED, "the storage gave no ETag for part " + part + " of " + file.getFileName());
        }
        sent.accept(length);
        return etag;
    }

    /**
     * A PUT of bytes on a blocking connection (kept alive between parts): the body goes to the socket in one write,
     * which costs far less CPU than the asynchronous client's small buffers for parts of many megabytes. The ETag of
     * the answer ("" when none); IOException for what is worth retrying, {@link Refused} for the rest.
     */
    private String putBlocking(URI uri, byte[] body) throws IOException {
        java.net.HttpURLConnection c = (java.net.HttpURLConnection) uri.toURL().openConnection();
        try {
            c.setRequestMethod("PUT");
            c.setDoOutput(true);
            c.setInstanceFollowRedirects(false);
            c.setFixedLengthStreamingMode(body.length);
            c.setConnectTimeout((int) settings.stallTimeout().toMillis());
            c.setReadTimeout((int) settings.stallTimeout().toMillis());
            c.setRequestProperty("User-Agent", "quantflow/" + version() + "; java/" + Runtime.version().feature());
            c.setRequestProperty("Content-Type", "application/octet-stream");
            Secret token = tokenFor(uri);
            if (token != null) {
                c.setRequestProperty("Authorization", "Bearer " + token.reveal());
            }
            try (java.io.OutputStream out = c.getOutputStream()) {
                // slices: a socket write from the heap goes through a temporary direct buffer of the write's size
                for (int off = 0; off < body.length; off += IO_SLICE) {
                    out.write(body, off, Math.min(IO_SLICE, body.length - off));
                }
            }
            int status = c.getResponseCode();
            try (InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream()) {
                if (in != null) {
                    in.readNBytes(1 << 16);
                }
            }
            if (status == 200 || status == 201) {
                String etag = c.getHeaderField("ETag");
                return etag == null ? "" : etag;
            }
            if (retryable(status)) {
                throw new IOException("HTTP " + status);
            }
            throw new Refused(status, c.getHeaderField("X-Error-Code"), c.getHeaderField("X-Error-Message"));
        } catch (IllegalArgumentException e) {
            throw QuantflowException.of(Reason.HUB_UNREACHABLE, "cannot reach " + uri.getHost() + ": " + e.getMessage());
        }
    }

    private static byte[] read(Path file, long offset, long length) {
        if (length > Integer.MAX_VALUE - 16) {
            throw QuantflowException.of(Reason.HUB_UPLOAD_FAILED, "the Hub asked for parts of " + length + " bytes; at most 2 GB are sent at once");
        }
        byte[] bytes = new byte[(int) length];
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            for (int pos = 0; pos < bytes.length; ) {
                // slices, for the same reason as the socket writes
                int n = ch.read(java.nio.ByteBuffer.wrap(bytes, pos, Math.min(IO_SLICE, bytes.length - pos)), offset + pos);
                pos += Math.max(n, 0);
                if (n < 0) {
                    throw QuantflowException.of(Reason.HUB_UPLOAD_FAILED, file + " ended before byte " + (offset + length) + " while uploading it");
                }
            }
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot read " + file, e);
        }
        return bytes;
    }

    /** Completes a multipart transfer: the parts' ETags in order. */
    void complete(String href, String oid, List<String> etags) {
        ObjectNode body = JSON.createObjectNode();
        body.put("oid", oid);
        ArrayNode parts = body.putArray("parts");
        for (int i = 0; i < etags.size(); i++) {
            parts.addObject().put("partNumber", i + 1).put("etag", etags.get(i));
        }
        call("completing the upload of " + oid, () -> request(URI.create(href)).header("Accept", LFS_TYPE).header("Content-Type", LFS_TYPE)
                .POST(HttpRequest.BodyPublishers.ofByteArray(bytes(body))), 200, 201);
    }

    /** The verify action: the Hub checks it holds the object. */
    void verify(String href, JsonNode header, String oid, long size) {
        ObjectNode body = JSON.createObjectNode().put("oid", oid).put("size", size);
        call("verifying the upload of " + oid, () -> {
            HttpRequest.Builder b = request(URI.create(href)).header("Accept", LFS_TYPE).header("Content-Type", LFS_TYPE)
                    .POST(HttpRequest.BodyPublishers.ofByteArray(bytes(body)));
            headers(b, header);
            return b;
        }, 200, 201);
    }

    /** Posts one NDJSON commit; not retried here (a retry must first look whether the commit landed). */
    Commit commit(RepoId repo, String branch, byte[] ndjson, boolean createPr) throws IOException {
        URI uri = api("/api/models/" + repo.id() + "/commit/" + enc(branch) + (createPr ? "?create_pr=1" : ""));
        HttpResponse<byte[]> r = send(request(uri).header("Content-Type", "application/x-ndjson")
                .POST(HttpRequest.BodyPublishers.ofByteArray(ndjson)).build());
        if (r.statusCode() == 200 || r.statusCode() == 201) {
            JsonNode c = parse(r.body());
            return new Commit(text(c, "commitOid"), c.path("commitUrl").asText(null), c.path("pullRequestUrl").asText(null));
        }
        if (retryable(r.statusCode())) {
            throw new IOException("HTTP " + r.statusCode());
        }
        throw refused(r);
    }

    /** The newest commits of a branch: id to its message (title and body). */
    Map<String, String> commits(RepoId repo, String branch) {
        JsonNode r = json("listing the commits of " + repo, () -> request(api("/api/models/" + repo.id() + "/commits/" + enc(branch))).GET());
        Map<String, String> out = new LinkedHashMap<>();
        for (JsonNode c : r) {
            out.put(text(c, "id"), c.path("title").asText("") + "\n\n" + c.path("message").asText(""));
        }
        return out;
    }

    // ------------------------------------------------------------------ plumbing

    private JsonNode json(String what, java.util.function.Supplier<HttpRequest.Builder> request) {
        return parse(call(what, request, 200, 201).body());
    }

    /** Sends until an accepted status; retries network failures, 429 and 5xx with backoff; anything else is {@link Refused}. */
    private HttpResponse<byte[]> call(String what, java.util.function.Supplier<HttpRequest.Builder> request, int... ok) {
        for (int attempt = 1; ; attempt++) {
            IOException failure;
            try {
                HttpResponse<byte[]> r = send(request.get().build());
                for (int s : ok) {
                    if (r.statusCode() == s) {
                        return r;
                    }
                }
                if (!retryable(r.statusCode())) {
                    throw refused(r);
                }
                failure = new IOException("HTTP " + r.statusCode());
            } catch (IOException e) {
                failure = e;
            } catch (UncheckedIOException e) {
                failure = e.getCause();
            }
            pause(attempt, what, failure);
        }
    }

    /** Waits before the next attempt, or fails when the attempts are spent. */
    void pause(int attempt, String what, IOException failure) {
        if (attempt >= settings.backoff().attempts()) {
            throw QuantflowException.of(Reason.RETRIES_EXHAUSTED, what + " failed " + attempt + " times, last: "
                    + Exceptions.describe(failure), failure);
        }
        try {
            settings.backoff().sleepBefore(attempt + 1);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw QuantflowException.of(Reason.INTERRUPTED, what + " was interrupted", ie);
        }
    }

    static boolean retryable(int status) {
        return status == 408 || status == 429 || status >= 500;
    }

    private static Refused refused(HttpResponse<byte[]> r) {
        String code = r.headers().firstValue("X-Error-Code").orElse(null);
        String message = r.headers().firstValue("X-Error-Message").orElse(null);
        if (message == null && r.body() != null && r.body().length > 0 && r.body().length < 4096) {
            try {
                JsonNode b = JSON.readTree(r.body());
                message = b.path("error").isTextual() ? b.get("error").asText() : null;
            } catch (IOException e) {
                message = null;
            }
        }
        return new Refused(r.statusCode(), code, message);
    }

    private HttpResponse<byte[]> send(HttpRequest request) throws IOException {
        try {
            HttpResponse<InputStream> r = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
            byte[] body;
            try (InputStream in = r.body()) {
                body = in.readNBytes((int) MAX_ANSWER + 1);
            }
            if (body.length > MAX_ANSWER) {
                throw QuantflowException.of(Reason.HUB_ANSWER_INVALID, "the Hub's answer to " + request.uri().getPath() + " is larger than 64 MB");
            }
            return new Buffered(r, body);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw QuantflowException.of(Reason.INTERRUPTED, "interrupted while talking to " + base, e);
        } catch (IllegalArgumentException e) {
            throw QuantflowException.of(Reason.HUB_UNREACHABLE, "cannot reach the Hub at " + base + ": " + e.getMessage());
        }
    }

    private record Buffered(HttpResponse<InputStream> r, byte[] body) implements HttpResponse<byte[]> {
        @Override
        public int statusCode() {
            return r.statusCode();
        }

        @Override
        public HttpRequest request() {
            return r.request();
        }

        @Override
        public java.util.Optional<HttpResponse<byte[]>> previousResponse() {
            return java.util.Optional.empty();
        }

        @Override
        public java.net.http.HttpHeaders headers() {
            return r.headers();
        }

        @Override
        public java.util.Optional<javax.net.ssl.SSLSession> sslSession() {
            return r.sslSession();
        }

        @Override
        public URI uri() {
            return r.uri();
        }

        @Override
        public HttpClient.Version version() {
            return r.version();
        }
    }

    private URI api(String path) {
        return URI.create(base + path);
    }

    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri)
                .timeout(settings.stallTimeout().multipliedBy(5))
                .header("User-Agent", "quantflow/" + version() + "; java/" + Runtime.version().feature());
        Secret token = tokenFor(uri);
        if (token != null) {
            b.header("Authorization", "Bearer " + token.reveal());
        }
        return b;
    }

    /** The headers an LFS action names, but not the multipart ones (chunk_size, part numbers) nor an Authorization for another origin. */
    private void headers(HttpRequest.Builder b, JsonNode header) {
        if (header == null) {
            return;
        }
        header.fields().forEachRemaining(e -> {
            String k = e.getKey();
            if (k.equals("chunk_size") || k.chars().allMatch(Character::isDigit) || k.equalsIgnoreCase("authorization")
                    || k.equalsIgnoreCase("content-length") || k.equalsIgnoreCase("host")) {
                return;
            }
            b.setHeader(k, e.getValue().asText());
        });
    }

    /** The token, for a URI on the endpoint's own scheme, host and port only. */
    private Secret tokenFor(URI uri) {
        URI e = settings.endpoint();
        boolean sameOrigin = e.getScheme().equalsIgnoreCase(uri.getScheme()) && e.getHost().equalsIgnoreCase(uri.getHost())
                && port(e) == port(uri);
        return sameOrigin ? settings.token() : null;
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : u.getScheme().equalsIgnoreCase("https") ? 443 : 80;
    }

    private static JsonNode parse(byte[] body) {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw QuantflowException.of(Reason.HUB_ANSWER_INVALID, "the Hub's answer is not JSON");
        }
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isValueNode() || v.isNull()) {
            throw QuantflowException.of(Reason.HUB_ANSWER_INVALID, "the Hub's answer lacks '" + field + "'");
        }
        return v.asText();
    }

    private static byte[] bytes(JsonNode n) {
        try {
            return JSON.writeValueAsBytes(n);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Percent-encodes a revision as one path segment ({@code refs/pr/1} -> {@code refs%2Fpr%2F1}). */
    static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static String version() {
        String v = HubApi.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
