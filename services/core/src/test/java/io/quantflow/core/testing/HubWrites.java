package io.quantflow.core.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The write side of {@link HubTestServer}, as the Hub answers {@code huggingface_hub}:
 * <ul>
 *   <li>{@code GET /api/whoami-v2}: the token's user, organisations and role (401 without a known token);</li>
 *   <li>{@code POST /api/repos/create}: a model repo with an initial commit holding {@code .gitattributes}
 *       (409 when it exists, 401/403 for tokens that may not write the namespace);</li>
 *   <li>{@code POST /api/models/{repo}/branch/{branch}}: a branch from main's head (409 when it exists);</li>
 *   <li>{@code POST /api/models/{repo}/preupload/{rev}}: "lfs" for weights, binary samples and files of
 *       10 MB or more, else "regular", with the oid the revision holds at that path;</li>
 *   <li>{@code POST /{repo}.git/info/lfs/objects/batch}: no actions for objects the Hub holds; else a basic
 *       upload (a PUT to the storage server) or, from the multipart threshold on, a multipart one: one presigned
 *       URL per part of {@code chunk_size} bytes and a completion URL; both with a verify action;</li>
 *   <li>storage {@code PUT /upload/{id}[/{part}]}: keeps the bytes (a part answers its ETag, the MD5);</li>
 *   <li>{@code POST /api/complete_multipart?uploadId=}: checks every part's ETag and the object's sha256;</li>
 *   <li>{@code POST /api/models/{repo}/commit/{rev}[?create_pr=1]}: NDJSON header, file, lfsFile,
 *       deletedFile and deletedFolder lines; 412 when parentCommit is not the head; an lfsFile whose object
 *       the Hub does not hold is 400; with create_pr the commit goes to a new {@code refs/pr/N};</li>
 *   <li>{@code GET /api/models/{repo}/commits/{rev}} and {@code GET /api/models/{repo}/tree/{rev}[/path]}.</li>
 * </ul>
 * Failures to inject: storage PUTs that fail (a number of times, or every one after some parts until repaired),
 * commits whose answer is lost after they landed.
 */
public final class HubWrites {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern REPO_API = Pattern.compile("/api/models/([^/]+/[^/]+)/(preupload|commit|commits|tree|branch)/([^/]+)(/.*)?");
    private static final Pattern LFS = Pattern.compile("/([^/]+/[^/]+)\\.git/info/lfs/objects/(batch|verify)");
    private static final Pattern LFS_NAME = Pattern.compile("(?i).*\\.(safetensors|bin|gguf|pt|pth|ckpt|onnx|h5|msgpack|npz|zip|tar|gz)$");
    static final String GITATTRIBUTES = "*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"
            + "*.gguf filter=lfs diff=lfs merge=lfs -text\n*.pt filter=lfs diff=lfs merge=lfs -text\n";

    private final HubTestServer server;
    /** LFS objects by repository and oid (the Hub keeps them per repository): their bytes, or null when spooled away. */
    private final Map<String, Stored> objects = new ConcurrentHashMap<>();
    private volatile Path spool;
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    private volatile long multipartThreshold = 16L << 20;
    private volatile long partSize = 8L << 20;
    private final AtomicInteger storageFailures = new AtomicInteger();
    private volatile int storageFailStatus = 503;
    private final AtomicInteger partsBeforeBreak = new AtomicInteger(-1);
    private final AtomicInteger lostCommitAnswers = new AtomicInteger();
    private final AtomicInteger commitsMade = new AtomicInteger();
    private final AtomicInteger partsStored = new AtomicInteger();

    /** An upload the batch API handed out. */
    private record Pending(String repo, String oid, long size, boolean multipart, Map<Integer, byte[]> parts, Map<Integer, Path> spooled) {
    }

    /** An object the Hub holds: its bytes, or only its size when spooled (checked, then not kept). */
    private record Stored(byte[] bytes, long size) {
    }

    private static String key(String repo, String oid) {
        return repo.toLowerCase(Locale.ROOT) + "|" + oid;
    }

    /**
     * For measuring: parts go to files under {@code dir} and objects are checked (size, sha256) but not kept, so that
     * a model of gigabytes fits; committed LFS files are then listed, not served.
     */
    public HubWrites spool(Path dir) {
        this.spool = dir;
        return this;
    }

    HubWrites(HubTestServer server) {
        this.server = server;
    }

    /** Objects of {@code threshold} bytes or more go multipart, in parts of {@code partSize} bytes. */
    public HubWrites multipart(long threshold, long partSize) {
        this.multipartThreshold = threshold;
        this.partSize = partSize;
        return this;
    }

    /** The next {@code n} storage PUTs answer {@code status} (a transient failure each). */
    public HubWrites failStorage(int n, int status) {
        storageFailStatus = status;
        storageFailures.set(n);
        return this;
    }

    /** After {@code parts} more successful storage PUTs, every PUT answers 503 until {@link #repairStorage()}. */
    public HubWrites breakStorageAfter(int parts) {
        partsBeforeBreak.set(parts);
        return this;
    }

    public HubWrites repairStorage() {
        partsBeforeBreak.set(-1);
        return this;
    }

    /** The next {@code n} commits land, but their answer is a 502 (a connection dropped after the Hub committed). */
    public HubWrites loseCommitAnswers(int n) {
        lostCommitAnswers.set(n);
        return this;
    }

    /** Whether the Hub's LFS storage holds this object. */
    public boolean holds(String oid) {
        return objects.keySet().stream().anyMatch(k -> k.endsWith("|" + oid));
    }

    /** Commits made so far, on every repository. */
    public int commitsMade() {
        return commitsMade.get();
    }

    /** Storage PUTs that were kept (basic uploads and parts). */
    public int storedPuts() {
        return partsStored.get();
    }

    // ------------------------------------------------------------------ the Hub's API

    boolean handle(HttpExchange ex, String path, String auth) throws IOException {
        String method = ex.getRequestMethod();
        if (path.equals("/api/whoami-v2") && method.equals("GET")) {
            whoami(ex, auth);
            return true;
        }
        if (path.equals("/api/repos/create") && method.equals("POST")) {
            create(ex, auth);
            return true;
        }
        if (path.equals("/api/validate-yaml") && method.equals("POST")) {
            ex.getRequestBody().readAllBytes();
            json(ex, 200, JSON.createObjectNode().<ObjectNode>set("errors", JSON.createArrayNode()).set("warnings", JSON.createArrayNode()));
            return true;
        }
        if (path.equals("/api/complete_multipart") && method.equals("POST")) {
            complete(ex);
            return true;
        }
        Matcher lfs = LFS.matcher(path);
        if (lfs.matches() && method.equals("POST")) {
            HubTestServer.Repo repo = server.repo(HubTestServer.decode(lfs.group(1)));
            if (repo == null) {
                HubTestServer.error(ex, 404, "RepoNotFound");
            } else if (writable(ex, repo.id, auth)) {
                if (lfs.group(2).equals("batch")) {
                    batch(ex, repo);
                } else {
                    JsonNode b = JSON.readTree(ex.getRequestBody().readAllBytes());
                    Stored o = objects.get(key(repo.id, b.path("oid").asText()));
                    HubTestServer.send(ex, o != null && o.size() == b.path("size").asLong() ? 200 : 404, "application/json",
                            "{}".getBytes(StandardCharsets.UTF_8), Map.of());
                }
            }
            return true;
        }
        Matcher m = REPO_API.matcher(path);
        if (!m.matches()) {
            return false;
        }
        HubTestServer.Repo repo = server.repo(HubTestServer.decode(m.group(1)));
        String what = m.group(2);
        String rev = HubTestServer.decode(m.group(3));
        if (repo == null) {
            HubTestServer.error(ex, auth == null ? 401 : 404, "RepoNotFound");
            return true;
        }
        switch (what) {
            case "commits", "tree" -> {
                if (!readable(ex, repo, auth)) {
                    return true;
                }
                HubTestServer.Snapshot snap = repo.snapshot(rev);
                if (snap == null) {
                    HubTestServer.error(ex, 404, "RevisionNotFound");
                } else if (what.equals("commits")) {
                    commits(ex, repo, rev);
                } else {
                    tree(ex, snap, m.group(4) == null ? "" : HubTestServer.decode(m.group(4).substring(1)),
                            String.valueOf(ex.getRequestURI().getRawQuery()).contains("recursive=true")
                                    || String.valueOf(ex.getRequestURI().getRawQuery()).contains("recursive=True"));
                }
            }
            default -> {
                if (!writable(ex, repo.id, auth)) {
                    return true;
                }
                switch (what) {
                    case "preupload" -> preupload(ex, repo, rev);
                    case "commit" -> commit(ex, repo, rev, String.valueOf(ex.getRequestURI().getRawQuery()).contains("create_pr=1"));
                    default -> branch(ex, repo, rev);
                }
            }
        }
        return true;
    }

    private HubTestServer.Account account(String auth) {
        return auth == null || !auth.startsWith("Bearer ") ? null : server.accounts.get(auth.substring(7));
    }

    /** Whether the token may write the namespace; answers 401 or 403 when not. */
    private boolean writable(HttpExchange ex, String repoId, String auth) throws IOException {
        HubTestServer.Account a = account(auth);
        if (a == null) {
            HubTestServer.error(ex, 401, null);
            return false;
        }
        if (!a.mayWrite(repoId.split("/")[0])) {
            HubTestServer.error(ex, 403, null);
            return false;
        }
        return true;
    }

    private boolean readable(HttpExchange ex, HubTestServer.Repo repo, String auth) throws IOException {
        HubTestServer.Account a = account(auth);
        if (repo.isPrivate() && (a == null || !a.mayRead(repo.id.split("/")[0]))) {
            HubTestServer.error(ex, auth == null ? 401 : 404, "RepoNotFound");
            return false;
        }
        return true;
    }

    private void whoami(HttpExchange ex, String auth) throws IOException {
        HubTestServer.Account a = account(auth);
        if (a == null) {
            HubTestServer.send(ex, 401, "application/json", "{\"error\":\"Invalid credentials in Authorization header\"}"
                    .getBytes(StandardCharsets.UTF_8), Map.of());
            return;
        }
        ObjectNode r = JSON.createObjectNode();
        r.put("type", "user");
        r.put("name", a.user());
        r.put("fullname", a.user());
        ArrayNode orgs = r.putArray("orgs");
        for (String o : a.orgs()) {
            orgs.addObject().put("type", "org").put("name", o).put("roleInOrg", "write");
        }
        ObjectNode token = r.putObject("auth").put("type", "access_token").putObject("accessToken");
        token.put("displayName", "test token");
        token.put("role", a.role());
        json(ex, 200, r);
    }

    private void create(HttpExchange ex, String auth) throws IOException {
        JsonNode b = JSON.readTree(ex.getRequestBody().readAllBytes());
        HubTestServer.Account a = account(auth);
        String ns = b.hasNonNull("organization") ? b.get("organization").asText() : a == null ? "" : a.user();
        String id = ns + "/" + b.path("name").asText();
        if (!writable(ex, id, auth)) {
            return;
        }
        synchronized (server.repos) {
            if (server.repo(id) != null) {
                HubTestServer.send(ex, 409, "application/json", ("{\"error\":\"You already created this model repo\",\"url\":\""
                        + server.endpoint() + "/" + id + "\"}").getBytes(StandardCharsets.UTF_8), Map.of());
                return;
            }
            HubTestServer.Repo repo = new HubTestServer.Repo(id);
            repo.isPrivate = b.path("private").asBoolean(false) || "private".equals(b.path("visibility").asText());
            Map<String, HubTestServer.FileEntry> files = new TreeMap<>();
            byte[] ga = GITATTRIBUTES.getBytes(StandardCharsets.UTF_8);
            files.put(".gitattributes", new HubTestServer.FileEntry(".gitattributes", ga, HubTestServer.gitBlobId(ga), null, false));
            repo.setRef("main", new HubTestServer.Snapshot(commitId(id, null, "initial commit"), null, "initial commit", "",
                    Collections.unmodifiableMap(files)));
            server.repos.put(id.toLowerCase(Locale.ROOT), repo);
        }
        ObjectNode r = JSON.createObjectNode().put("url", server.endpoint() + "/" + id).put("name", id).put("id", id);
        json(ex, 200, r);
    }

    private void branch(HttpExchange ex, HubTestServer.Repo repo, String branch) throws IOException {
        synchronized (repo) {
            if (repo.ref(branch) != null) {
                HubTestServer.send(ex, 409, "application/json", "{\"error\":\"Reference already exists\"}".getBytes(StandardCharsets.UTF_8),
                        Map.of());
                return;
            }
            repo.refs.put(branch, repo.ref("main"));
        }
        json(ex, 200, JSON.createObjectNode());
    }

    private void preupload(HttpExchange ex, HubTestServer.Repo repo, String rev) throws IOException {
        JsonNode b = JSON.readTree(ex.getRequestBody().readAllBytes());
        HubTestServer.Snapshot snap = repo.snapshot(rev);
        Map<String, HubTestServer.FileEntry> files = snap == null ? Map.of() : snap.files();
        ObjectNode r = JSON.createObjectNode();
        ArrayNode out = r.putArray("files");
        for (JsonNode f : b.path("files")) {
            String path = f.path("path").asText();
            byte[] sample = Base64.getDecoder().decode(f.path("sample").asText(""));
            boolean binary = false;
            for (byte x : sample) {
                binary |= x == 0;
            }
            boolean lfs = LFS_NAME.matcher(path).matches() || binary || f.path("size").asLong() >= 10L << 20;
            HubTestServer.FileEntry old = files.get(path);
            ObjectNode o = out.addObject().put("path", path).put("uploadMode", lfs ? "lfs" : "regular").put("shouldIgnore", false);
            if (old == null) {
                o.putNull("oid");
            } else {
                o.put("oid", old.lfs() ? old.sha256() : old.gitBlobId());
            }
        }
        json(ex, 200, r);
    }

    private void batch(HttpExchange ex, HubTestServer.Repo repo) throws IOException {
        JsonNode b = JSON.readTree(ex.getRequestBody().readAllBytes());
        ObjectNode r = JSON.createObjectNode();
        boolean anyMultipart = false;
        ArrayNode out = r.putArray("objects");
        for (JsonNode o : b.path("objects")) {
            String oid = o.path("oid").asText();
            long size = o.path("size").asLong();
            ObjectNode obj = out.addObject().put("oid", oid).put("size", size).put("authenticated", true);
            if (!oid.matches("[0-9a-f]{64}")) {
                obj.putObject("error").put("code", 422).put("message", "the oid is not a sha256");
                continue;
            }
            Stored held = objects.get(key(repo.id, oid));
            if (held != null && held.size() == size) {
                continue;
            }
            String id = UUID.randomUUID().toString();
            boolean multipart = size >= multipartThreshold;
            anyMultipart |= multipart;
            pending.put(id, new Pending(repo.id, oid, size, multipart, new ConcurrentHashMap<>(), new ConcurrentHashMap<>()));
            ObjectNode actions = obj.putObject("actions");
            ObjectNode upload = actions.putObject("upload");
            if (multipart) {
                upload.put("href", server.endpoint() + "/api/complete_multipart?uploadId=" + id);
                ObjectNode h = upload.putObject("header");
                h.put("chunk_size", Long.toString(partSize));
                long parts = (size + partSize - 1) / partSize;
                for (int p = 1; p <= parts; p++) {
                    h.put(String.format(Locale.ROOT, "%05d", p), server.cdnBase() + "/upload/" + id + "/" + p + "?X-Amz-Signature=test");
                }
            } else {
                upload.put("href", server.cdnBase() + "/upload/" + id + "?X-Amz-Signature=test");
            }
            actions.putObject("verify").put("href", server.endpoint() + "/" + repo.id + ".git/info/lfs/objects/verify");
        }
        r.put("transfer", anyMultipart ? "multipart" : "basic");
        HubTestServer.send(ex, 200, "application/vnd.git-lfs+json", JSON.writeValueAsBytes(r), Map.of());
    }

    /** Storage: PUT /upload/{id} (basic) or /upload/{id}/{part} (multipart). */
    void handleStorage(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getRawPath();
            server.record("storage", ex);
            if (!ex.getRequestMethod().equals("PUT")) {
                HubTestServer.error(ex, 405, null);
                return;
            }
            byte[] body = ex.getRequestBody().readAllBytes();
            if (storageFailures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                HubTestServer.error(ex, storageFailStatus, null);
                return;
            }
            if (partsBeforeBreak.get() == 0) {
                HubTestServer.error(ex, 503, null);
                return;
            }
            partsBeforeBreak.getAndUpdate(n -> n > 0 ? n - 1 : n);
            String[] parts = path.substring("/upload/".length()).split("/");
            Pending p = pending.get(parts[0]);
            if (p == null) {
                HubTestServer.error(ex, 404, null);
                return;
            }
            if (parts.length == 1) {
                if (p.multipart() || body.length != p.size() || !sha256(body).equals(p.oid())) {
                    HubTestServer.error(ex, 400, "BadDigest");
                    return;
                }
                objects.put(key(p.repo(), p.oid()), new Stored(spool == null ? body : null, body.length));
                pending.remove(parts[0]);
                partsStored.incrementAndGet();
                HubTestServer.send(ex, 200, "text/plain", new byte[0], Map.of("ETag", "\"" + md5(body) + "\""));
                return;
            }
            int n = Integer.parseInt(parts[1]);
            long expected = Math.min(partSize, p.size() - (n - 1) * partSize);
            if (!p.multipart() || n < 1 || body.length != expected) {
                HubTestServer.error(ex, 400, "InvalidPart");
                return;
            }
            if (spool != null) {
                Path f = Files.createDirectories(spool).resolve(parts[0] + "-" + n);
                Files.write(f, body);
                p.spooled().put(n, f);
                p.parts().put(n, md5(body).getBytes(StandardCharsets.US_ASCII));
            } else {
                p.parts().put(n, body);
            }
            partsStored.incrementAndGet();
            HubTestServer.send(ex, 200, "text/plain", new byte[0], Map.of("ETag", "\"" + md5(body) + "\""));
        }
    }

    private void complete(HttpExchange ex) throws IOException {
        String query = String.valueOf(ex.getRequestURI().getRawQuery());
        String id = query.startsWith("uploadId=") ? query.substring("uploadId=".length()) : "";
        Pending p = pending.get(id);
        JsonNode b = JSON.readTree(ex.getRequestBody().readAllBytes());
        if (p == null || !p.oid().equals(b.path("oid").asText())) {
            HubTestServer.error(ex, 404, null);
            return;
        }
        int count = (int) ((p.size() + partSize - 1) / partSize);
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        JsonNode parts = b.path("parts");
        if (parts.size() != count) {
            HubTestServer.error(ex, 400, "InvalidPart");
            return;
        }
        MessageDigest sha = sha256Digest();
        long size = 0;
        for (int i = 0; i < count; i++) {
            byte[] part = p.parts().get(i + 1);
            JsonNode given = parts.get(i);
            String etag = part == null ? null : spool != null ? new String(part, StandardCharsets.US_ASCII) : md5(part);
            if (part == null || given.path("partNumber").asInt() != i + 1 || !given.path("etag").asText().equals("\"" + etag + "\"")) {
                HubTestServer.error(ex, 400, "InvalidPart");
                return;
            }
            byte[] bytes = spool != null ? Files.readAllBytes(p.spooled().get(i + 1)) : part;
            sha.update(bytes);
            size += bytes.length;
            if (spool == null) {
                all.write(bytes);
            }
        }
        if (size != p.size() || !HexFormat.of().formatHex(sha.digest()).equals(p.oid())) {
            HubTestServer.error(ex, 400, "BadDigest");
            return;
        }
        for (Path f : p.spooled().values()) {
            Files.deleteIfExists(f);
        }
        objects.put(key(p.repo(), p.oid()), new Stored(spool == null ? all.toByteArray() : null, size));
        pending.remove(id);
        json(ex, 200, JSON.createObjectNode());
    }

    private void commit(HttpExchange ex, HubTestServer.Repo repo, String rev, boolean createPr) throws IOException {
        String[] lines = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8).split("\n");
        JsonNode header = null;
        List<JsonNode> ops = new ArrayList<>();
        for (String line : lines) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode n = JSON.readTree(line);
            if (n.path("key").asText().equals("header")) {
                header = n.path("value");
            } else {
                ops.add(n);
            }
        }
        if (header == null || !header.hasNonNull("summary")) {
            HubTestServer.send(ex, 400, "application/json", "{\"error\":\"no header\"}".getBytes(StandardCharsets.UTF_8), Map.of());
            return;
        }
        synchronized (repo) {
            HubTestServer.Snapshot base = repo.snapshot(rev);
            if (base == null || !repo.refs.containsKey(rev)) {
                HubTestServer.error(ex, 404, "RevisionNotFound");
                return;
            }
            if (header.hasNonNull("parentCommit") && !header.get("parentCommit").asText().equals(base.id())) {
                HubTestServer.send(ex, 412, "application/json", "{\"error\":\"A commit has happened since. Please refresh and try again.\"}"
                        .getBytes(StandardCharsets.UTF_8), Map.of());
                return;
            }
            Map<String, HubTestServer.FileEntry> files = new TreeMap<>(base.files());
            for (JsonNode op : ops) {
                JsonNode v = op.path("value");
                String path = v.path("path").asText();
                switch (op.path("key").asText()) {
                    case "file" -> {
                        byte[] content = Base64.getDecoder().decode(v.path("content").asText());
                        files.put(path, new HubTestServer.FileEntry(path, content, HubTestServer.gitBlobId(content), null, false));
                    }
                    case "lfsFile" -> {
                        Stored stored = objects.get(key(repo.id, v.path("oid").asText()));
                        byte[] content = stored == null ? null : stored.bytes() != null ? stored.bytes() : new byte[0];
                        if (stored == null) {
                            HubTestServer.send(ex, 400, "application/json", ("{\"error\":\"Your push was rejected because an LFS pointer"
                                    + " pointed to a file that does not exist: " + path + "\"}").getBytes(StandardCharsets.UTF_8), Map.of());
                            return;
                        }
                        files.put(path, new HubTestServer.FileEntry(path, content, HubTestServer.gitBlobId(content),
                                v.path("oid").asText(), true));
                    }
                    case "deletedFile" -> files.remove(path);
                    case "deletedFolder" -> files.keySet().removeIf(f -> f.startsWith(path.endsWith("/") ? path : path + "/"));
                    default -> {
                        HubTestServer.send(ex, 400, "application/json", "{\"error\":\"unknown key\"}".getBytes(StandardCharsets.UTF_8), Map.of());
                        return;
                    }
                }
            }
            String title = header.get("summary").asText();
            String message = header.path("description").asText("");
            String id = commitId(repo.id, base.id(), title + "\n" + message + "\n" + files.keySet() + ops.size() + System.nanoTime());
            HubTestServer.Snapshot snap = new HubTestServer.Snapshot(id, base.id(), title, message, Collections.unmodifiableMap(files));
            for (HubTestServer.FileEntry e : files.values()) {
                server.serveBlob(repo, e);
            }
            ObjectNode r = JSON.createObjectNode();
            r.put("success", true);
            r.put("commitOid", id);
            r.put("commitUrl", server.endpoint() + "/" + repo.id + "/commit/" + id);
            if (createPr) {
                int n = ++repo.pullRequests;
                repo.commits.put(id, snap);
                repo.refs.put("refs/pr/" + n, snap);
                r.put("pullRequestUrl", server.endpoint() + "/" + repo.id + "/discussions/" + n);
            } else {
                repo.setRef(rev, snap);
                r.putNull("pullRequestUrl");
            }
            commitsMade.incrementAndGet();
            if (lostCommitAnswers.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                HubTestServer.error(ex, 502, null);
                return;
            }
            json(ex, 200, r);
        }
    }

    private void commits(HttpExchange ex, HubTestServer.Repo repo, String rev) throws IOException {
        ArrayNode out = JSON.createArrayNode();
        for (HubTestServer.Snapshot s : repo.history(rev)) {
            ObjectNode c = out.addObject();
            c.put("id", s.id());
            c.put("title", s.title());
            c.put("message", s.message());
            c.putArray("authors").addObject().put("user", "test");
            c.put("date", "2026-01-01T00:00:00.000Z");
        }
        HubTestServer.send(ex, 200, "application/json", JSON.writeValueAsBytes(out), Map.of());
    }

    private void tree(HttpExchange ex, HubTestServer.Snapshot snap, String under, boolean recursive) throws IOException {
        String prefix = under.isEmpty() ? "" : under + "/";
        ArrayNode out = JSON.createArrayNode();
        java.util.Set<String> folders = new java.util.TreeSet<>();
        for (HubTestServer.FileEntry e : snap.files().values()) {
            if (!e.name().startsWith(prefix)) {
                continue;
            }
            String rest = e.name().substring(prefix.length());
            int slash = rest.indexOf('/');
            if (slash >= 0) {
                String[] parts = rest.split("/");
                StringBuilder f = new StringBuilder(prefix);
                for (int i = 0; i < parts.length - 1 && (recursive || i == 0); i++) {
                    f.append(i == 0 ? "" : "/").append(parts[i]);
                    folders.add(f.toString());
                }
                if (!recursive) {
                    continue;
                }
            }
            ObjectNode o = out.addObject();
            o.put("type", "file");
            o.put("oid", e.gitBlobId());
            o.put("size", e.bytes().length);
            o.put("path", e.name());
            if (e.lfs()) {
                o.putObject("lfs").put("oid", e.sha256()).put("size", e.bytes().length).put("pointerSize", 134);
            }
        }
        for (String f : folders) {
            out.addObject().put("type", "directory").put("oid", HubTestServer.gitBlobId(f.getBytes(StandardCharsets.UTF_8)))
                    .put("size", 0).put("path", f);
        }
        HubTestServer.send(ex, 200, "application/json", JSON.writeValueAsBytes(out), Map.of());
    }

    private static void json(HttpExchange ex, int status, JsonNode body) throws IOException {
        HubTestServer.send(ex, status, "application/json", JSON.writeValueAsBytes(body), Map.of());
    }

    private static String commitId(String repo, String parent, String what) {
        return HubTestServer.gitBlobId((repo + "\n" + parent + "\n" + what).getBytes(StandardCharsets.UTF_8));
    }

    private static String sha256(byte[] b) {
        return HubTestServer.sha256(b);
    }

    private static MessageDigest sha256Digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String md5(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
