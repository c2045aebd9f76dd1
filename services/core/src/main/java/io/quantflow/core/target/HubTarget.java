package io.quantflow.core.target;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.source.HubSettings;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.source.RepoId;
import io.quantflow.core.util.Digests;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * A Hugging Face Hub model repository at a branch ({@code hf://org/name[@branch]}), written as
 * {@code huggingface_hub} writes it (docs/adr/0011-targets.md, docs/adr/0015-hub-target.md):
 * <ul>
 * <li>check: a token is set, whoami says it may write the namespace (role {@code write}, or a fine-grained
 * token with {@code repo.write} there), and with {@link IfExists#FAIL} the branch holds no weights and no
 * quantflow manifest; writes nothing;</li>
 * <li>stage: creates the repository when missing (409: it exists, fine) and the branch, and pins the
 * branch's head as the parent of the commit to come;</li>
 * <li>write: preupload says whether the file goes through LFS; an LFS file is announced to the batch API by
 * sha256 and size and uploaded (basic or multipart, parts of the size the Hub asks, each retried on its
 * own, then the completion call) unless the Hub holds it already; nothing is visible yet;</li>
 * <li>commit: one NDJSON commit with every file and the manifests (with {@link IfExists#OVERWRITE} also
 * deleting the files the new artifact lacks), with the pinned head as its parent: a branch that moved
 * meanwhile is TARGET_EXISTS; a commit that already landed for the same request or the same files is the
 * answer, not a second commit;</li>
 * <li>abort: nothing to remove (uploaded objects no commit names are not part of the repository).</li>
 * </ul>
 */
public final class HubTarget implements Target {
    private static final Logger LOG = Logger.getLogger(HubTarget.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();
    /** What counts as weights in a repository: a target holding any of these is TARGET_EXISTS unless overwriting. */
    private static final Pattern WEIGHTS = Pattern.compile("(?i).*\\.(safetensors|bin|gguf|pt|pth|ckpt|onnx|h5|msgpack|npz)$");
    private static final Pattern COMMIT_ID = Pattern.compile("[0-9a-f]{40}");
    static final String PUBLISH_TRAILER = "Quantflow-Publish: ";
    static final String REQUEST_TRAILER = "Quantflow-Request: ";
    private static final int SAMPLE = 512;

    private final ModelLocation.Hub location;
    private final IfExists ifExists;
    private final HubPublishOptions options;
    private final UploadListener listener;
    private final HubApi api;
    private final String branch;
    private final boolean hasToken;
    private final int partsAtOnce;
    private RepoId repo;
    private HubApi.Revision head;
    private boolean repoMissing;
    private boolean branchMissing;
    private boolean checked;
    private boolean staged;
    private final Map<String, Added> added = new ConcurrentHashMap<>();
    private final Map<String, byte[]> manifests = new LinkedHashMap<>();
    private Published published;
    private final java.util.concurrent.atomic.AtomicInteger objectsUploaded = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger objectsHeld = new java.util.concurrent.atomic.AtomicInteger();

    /** A file of the commit: regular ones carry their bytes, LFS ones their sha256. */
    private record Added(String path, long size, String sha256, byte[] content) {
    }

    /**
     * Where the artifact was published.
     *
     * @param pullRequestUrl the pull request's page with {@code --create-pr}, else null
     * @param reused         the commit had landed already (a redelivered request): no new commit was made
     */
    public record Published(String repo, String branch, String commit, String commitUrl, String pullRequestUrl, boolean reused) {
    }

    public HubTarget(HubSettings settings, ModelLocation.Hub location, IfExists ifExists, HubPublishOptions options,
                     UploadListener listener) {
        this.location = location;
        this.ifExists = ifExists;
        this.options = options;
        this.listener = listener;
        this.api = new HubApi(settings);
        this.branch = location.revisionOrDefault();
        if (COMMIT_ID.matcher(branch).matches()) {
            throw QuantflowException.of(Reason.LOCATION_INVALID, location.uri() + ": a commit cannot be written to; name a branch"
                    + " (hf://org/name@branch) or none for main");
        }
        this.hasToken = settings.token() != null;
        this.partsAtOnce = options.partsAtOnce();
    }

    @Override
    public String uri() {
        return location.uri();
    }

    @Override
    public IfExists ifExists() {
        return ifExists;
    }

    /** What was committed; null before {@link #commit()}. */
    public Published published() {
        return published;
    }

    /** Objects uploaded and objects the Hub held already, so far. */
    public int objectsUploaded() {
        return objectsUploaded.get();
    }

    public int objectsHeld() {
        return objectsHeld.get();
    }

    @Override
    public void check() {
        if (!hasToken) {
            throw QuantflowException.of(Reason.HUB_TOKEN_MISSING, location.uri() + ": publishing to the Hub needs an access token with"
                    + " the write role; set HF_TOKEN (https://huggingface.co/settings/tokens)");
        }
        HubApi.Whoami who;
        try {
            who = api.whoami();
        } catch (HubApi.Refused e) {
            throw QuantflowException.of(e.status == 401 ? Reason.HUB_UNAUTHORIZED : Reason.HUB_TOKEN_CANNOT_WRITE, "the Hub refused the token"
                    + " in HF_TOKEN (HTTP " + e.status + "): it is invalid or expired; publishing to " + location.uri()
                    + " needs a token with the write role");
        }
        String namespace = location.repo().id().contains("/") ? location.repo().id().split("/")[0] : who.name();
        repo = location.repo().id().contains("/") ? location.repo() : new RepoId(who.name() + "/" + location.repo().id());
        requireWrite(who, namespace);
        String[] missing = {null};
        head = revision(missing);
        repoMissing = "repo".equals(missing[0]);
        branchMissing = "branch".equals(missing[0]);
        if (head != null && ifExists == IfExists.FAIL && holdsArtifact(head) && !requestLanded()) {
            throw QuantflowException.of(Reason.TARGET_NOT_EMPTY, location.uri() + " already holds weights at " + branch + " (commit "
                    + head.commit().substring(0, Math.min(12, head.commit().length())) + "); choose another repository or branch,"
                    + " or pass --if-exists overwrite to replace them in one commit");
        }
        checked = true;
    }

    private void requireWrite(HubApi.Whoami who, String namespace) {
        String needed = "publishing to " + location.uri() + " needs a token with the write role, or a fine-grained token with write"
                + " access to " + namespace + " (https://huggingface.co/settings/tokens)";
        switch (who.role()) {
            case "write", "admin" -> {
            }
            case "fineGrained" -> {
                boolean may = false;
                for (JsonNode scope : who.fineGrained().path("scoped")) {
                    String entity = scope.path("entity").path("name").asText("");
                    boolean here = entity.equalsIgnoreCase(namespace) || entity.equalsIgnoreCase(repo.id());
                    for (JsonNode p : scope.path("permissions")) {
                        may |= here && p.asText().equals("repo.write");
                    }
                }
                if (!may) {
                    throw QuantflowException.of(Reason.HUB_TOKEN_CANNOT_WRITE, "the fine-grained token in HF_TOKEN may not write "
                            + namespace + "; " + needed);
                }
                return;
            }
            default -> throw QuantflowException.of(Reason.HUB_TOKEN_CANNOT_WRITE, "the token in HF_TOKEN is a "
                    + (who.role().isEmpty() ? "token without a role" : who.role() + " token") + "; " + needed);
        }
        if (!namespace.equalsIgnoreCase(who.name()) && who.orgs().stream().noneMatch(namespace::equalsIgnoreCase)) {
            throw QuantflowException.of(Reason.HUB_TOKEN_CANNOT_WRITE, "the token in HF_TOKEN belongs to '" + who.name()
                    + "', who is not a member of '" + namespace + "'; " + needed);
        }
    }

    /** Whether the revision holds weights or a quantflow manifest. */
    private static boolean holdsArtifact(HubApi.Revision r) {
        return r.files().keySet().stream().anyMatch(f -> WEIGHTS.matcher(f).matches() || ArtifactFiles.isManifest(f));
    }

    /** Whether the branch's head commit is this request's (a redelivery after the commit landed). */
    private boolean requestLanded() {
        if (options.requestKey() == null) {
            return false;
        }
        return api.commits(repo, branch).values().stream().anyMatch(m -> m.contains(REQUEST_TRAILER + options.requestKey()));
    }

    @Override
    public void stage() {
        if (staged) {
            throw new IllegalStateException("staged already");
        }
        staged = true;
        check();
        if (repoMissing) {
            boolean created = call(() -> api.createRepo(repo, options.createPrivate()));
            LOG.fine(() -> (created ? "created " : "found ") + repo);
        }
        if (repoMissing || branchMissing) {
            if (!branch.equals(ModelLocation.Hub.DEFAULT_REVISION)) {
                call(() -> {
                    api.createBranch(repo, branch);
                    return null;
                });
            }
            String[] missing = {null};
            head = revision(missing);
            if (head == null) {
                throw QuantflowException.of(Reason.HUB_UPLOAD_FAILED, location.uri() + ": the Hub has no " + missing[0]
                        + " " + branch + " after creating it");
            }
        }
    }

    private HubApi.Revision revision(String[] missing) {
        return call(() -> api.revision(repo, branch, missing));
    }

    @Override
    public void write(String path, Path file) {
        requireStaged();
        checkPath(path);
        try {
            long size = Files.size(file);
            byte[] sample;
            try (InputStream in = Files.newInputStream(file)) {
                sample = in.readNBytes(SAMPLE);
            }
            String sha256 = Digests.sha256(file);
            String mode = size == 0 ? "regular"
                    : call(() -> api.preupload(repo, branch, List.of(path), List.of(sample), List.of(size), options.createPr())).get(path);
            if ("lfs".equals(mode)) {
                uploadLfs(path, file, size, sha256);
                added.put(path, new Added(path, size, sha256, null));
            } else {
                listener.uploaded(size);
                added.put(path, new Added(path, size, sha256, Files.readAllBytes(file)));
            }
        } catch (IOException e) {
            throw QuantflowException.ioFailure("cannot read " + file, e);
        }
    }

    /** Announces the object to the batch API and uploads it unless the Hub holds it. */
    private void uploadLfs(String path, Path file, long size, String oid) {
        HubApi.LfsObject o = call(() -> api.lfsBatch(repo, branch, List.of(oid), List.of(size))).stream()
                .filter(x -> x.oid().equals(oid)).findFirst()
                .orElseThrow(() -> QuantflowException.of(Reason.HUB_UPLOAD_FAILED, "the Hub's LFS batch answer lacks " + path));
        if (o.actions() == null || !o.actions().has("upload")) {
            objectsHeld.incrementAndGet();
            listener.uploaded(size);
            LOG.fine(() -> path + ": the Hub holds it already");
            return;
        }
        JsonNode upload = o.actions().get("upload");
        JsonNode header = upload.get("header");
        String href = upload.path("href").asText();
        if (header != null && header.has("chunk_size")) {
            long chunk = header.get("chunk_size").asLong();
            List<Map.Entry<Integer, String>> parts = new ArrayList<>();
            header.fields().forEachRemaining(e -> {
                if (!e.getKey().isEmpty() && e.getKey().chars().allMatch(Character::isDigit)) {
                    parts.add(Map.entry(Integer.parseInt(e.getKey()), e.getValue().asText()));
                }
            });
            parts.sort(Comparator.comparing(Map.Entry::getKey));
            if (chunk <= 0 || parts.size() != (size + chunk - 1) / chunk) {
                throw QuantflowException.of(Reason.HUB_UPLOAD_FAILED, "the Hub asked for " + parts.size() + " parts of " + chunk
                        + " bytes for " + path + " (" + size + " bytes)");
            }
            List<String> etags = uploadParts(parts, file, size, chunk);
            call(() -> {
                api.complete(href, oid, etags);
                return null;
            });
        } else {
            call(() -> {
                api.putWhole(href, header, file, size, listener::uploaded);
                return null;
            });
        }
        JsonNode verify = o.actions().get("verify");
        if (verify != null && verify.hasNonNull("href")) {
            call(() -> {
                api.verify(verify.get("href").asText(), verify.get("header"), oid, size);
                return null;
            });
        }
        objectsUploaded.incrementAndGet();
    }

    /**
     * The parts of a multipart transfer, {@code partsAtOnce} at a time (each retried on its own); their ETags in
     * order. The first failure stops the parts not started yet.
     */
    private List<String> uploadParts(List<Map.Entry<Integer, String>> parts, Path file, long size, long chunk) {
        String[] etags = new String[parts.size()];
        java.util.concurrent.Semaphore slots = new java.util.concurrent.Semaphore(partsAtOnce);
        java.util.concurrent.atomic.AtomicReference<RuntimeException> failed = new java.util.concurrent.atomic.AtomicReference<>();
        // platform threads: each keeps its temporary direct buffers for file and socket I/O from part to part
        try (java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(
                Math.min(partsAtOnce, parts.size()), r -> {
                    Thread t = new Thread(r, "quantflow-upload-part");
                    t.setDaemon(true);
                    return t;
                })) {
            for (int i = 0; i < parts.size(); i++) {
                try {
                    slots.acquire();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw QuantflowException.of(Reason.INTERRUPTED, "interrupted while uploading " + file.getFileName(), e);
                }
                if (failed.get() != null) {
                    slots.release();
                    break;
                }
                long offset = i * chunk;
                int n = i + 1;
                pool.submit(() -> {
                    try {
                        etags[n - 1] = call(() -> api.putPart(parts.get(n - 1).getValue(), file, offset, Math.min(chunk, size - offset), n,
                                listener::uploaded));
                    } catch (RuntimeException e) {
                        failed.compareAndSet(null, e);
                    } finally {
                        slots.release();
                    }
                });
            }
        }
        if (failed.get() != null) {
            throw failed.get();
        }
        return List.of(etags);
    }

    @Override
    public void writeManifest(String path, byte[] json) {
        checkPath(path);
        manifests.put(path, json.clone());
    }

    /** One commit with every file, the manifests last; the commit that landed already for this request or these files is the answer. */
    @Override
    public void commit() {
        requireStaged();
        String publishId = publishId();
        Map<String, String> landed = call(() -> api.commits(repo, branch));
        for (Map.Entry<String, String> c : landed.entrySet()) {
            if (c.getValue().contains(PUBLISH_TRAILER + publishId)
                    || options.requestKey() != null && c.getValue().contains(REQUEST_TRAILER + options.requestKey())) {
                published = new Published(repo.id(), branch, c.getKey(), api.endpoint() + "/" + repo.id() + "/commit/" + c.getKey(), null,
                        true);
                return;
            }
        }
        byte[] ndjson = ndjson(publishId);
        for (int attempt = 1; ; attempt++) {
            IOException failure;
            try {
                HubApi.Commit c = api.commit(repo, branch, ndjson, options.createPr());
                published = new Published(repo.id(), branch, c.oid(), c.url(), c.pullRequestUrl(), false);
                return;
            } catch (IOException e) {
                failure = e;
            } catch (HubApi.Refused e) {
                throw refusal(e, "committing to");
            }
            // the answer was lost or the Hub failed: the commit may have landed all the same
            String found = call(() -> api.commits(repo, branch)).entrySet().stream()
                    .filter(c -> c.getValue().contains(PUBLISH_TRAILER + publishId)).map(Map.Entry::getKey).findFirst().orElse(null);
            if (found != null) {
                published = new Published(repo.id(), branch, found, api.endpoint() + "/" + repo.id() + "/commit/" + found, null, true);
                return;
            }
            api.pause(attempt, "committing to " + location.uri(), failure);
        }
    }

    /**
     * What names this exact commit content at this target (every file's sha256, the manifests' too): an attempt whose
     * answer was lost finds its commit by it. A later run writes other manifests (timings), so it is another publication.
     */
    private String publishId() {
        StringBuilder s = new StringBuilder(repo.key()).append('\n').append(branch).append('\n');
        new TreeMap<>(added).forEach((p, a) -> s.append(p).append(' ').append(a.sha256()).append('\n'));
        new TreeMap<>(manifests).forEach((p, m) -> s.append(p).append(' ').append(Digests.sha256(m)).append('\n'));
        return Digests.sha256(s.toString()).substring(0, 32);
    }

    private byte[] ndjson(String publishId) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ObjectNode header = JSON.createObjectNode();
        header.put("summary", summary());
        header.put("description", description(publishId));
        header.put("parentCommit", head.commit());
        line(out, "header", header);
        for (Added a : new TreeMap<>(added).values()) {
            ObjectNode v = JSON.createObjectNode();
            v.put("path", a.path());
            if (a.content() == null) {
                v.put("algo", "sha256").put("oid", a.sha256()).put("size", a.size());
                line(out, "lfsFile", v);
            } else {
                v.put("content", Base64.getEncoder().encodeToString(a.content())).put("encoding", "base64");
                line(out, "file", v);
            }
        }
        if (ifExists == IfExists.OVERWRITE) {
            for (String old : head.files().keySet()) {
                if (!added.containsKey(old) && !manifests.containsKey(old) && !old.equals(".gitattributes")) {
                    line(out, "deletedFile", JSON.createObjectNode().put("path", old));
                }
            }
        }
        for (Map.Entry<String, byte[]> m : manifests.entrySet()) {
            line(out, "file", JSON.createObjectNode().put("path", m.getKey())
                    .put("content", Base64.getEncoder().encodeToString(m.getValue())).put("encoding", "base64"));
        }
        return out.toByteArray();
    }

    private static void line(ByteArrayOutputStream out, String key, ObjectNode value) {
        ObjectNode n = JSON.createObjectNode();
        n.put("key", key);
        n.set("value", value);
        try {
            out.write(JSON.writeValueAsBytes(n));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.write('\n');
    }

    private List<JsonNode> manifestTrees() {
        List<JsonNode> out = new ArrayList<>();
        for (byte[] m : manifests.values()) {
            try {
                out.add(JSON.readTree(m));
            } catch (IOException e) {
                out.add(JSON.createObjectNode());
            }
        }
        return out;
    }

    /** The commit's title: which formats of which model. */
    String summary() {
        List<String> formats = new ArrayList<>();
        String source = null;
        for (JsonNode m : manifestTrees()) {
            formats.add(m.path("format").asText("?"));
            source = source == null ? m.path("source").path("uri").asText(null) : source;
        }
        return "quantflow: " + (formats.isEmpty() ? "upload" : String.join(", ", formats))
                + (source == null ? "" : " of " + source);
    }

    /** The commit's body: what was converted and how, one line per output, then the trailers that name this publication. */
    String description(String publishId) {
        StringBuilder d = new StringBuilder("Converted by quantflow.\n\n");
        List<String> paths = new ArrayList<>(manifests.keySet());
        List<JsonNode> trees = manifestTrees();
        for (int i = 0; i < trees.size(); i++) {
            JsonNode m = trees.get(i);
            String folder = paths.get(i).contains("/") ? paths.get(i).substring(0, paths.get(i).lastIndexOf('/')) + "/" : "./";
            JsonNode src = m.path("source");
            d.append("- ").append(folder).append(": ").append(m.path("format").asText("?")).append(" of ")
                    .append(src.path("uri").asText(src.path("path").asText("?")));
            if (src.hasNonNull("revision")) {
                d.append(" at ").append(src.get("revision").asText());
            }
            JsonNode adapter = m.path("adapter");
            if (adapter.hasNonNull("uri") || adapter.hasNonNull("path")) {
                d.append(", LoRA adapter ").append(adapter.path("uri").asText(adapter.path("path").asText()));
            }
            JsonNode o = m.path("options");
            if (o.isObject() && o.size() > 0) {
                List<String> parts = new ArrayList<>();
                o.fields().forEachRemaining(e -> {
                    if (e.getValue().isValueNode() && !e.getValue().isNull()) {
                        parts.add(e.getKey() + "=" + e.getValue().asText());
                    }
                });
                d.append(" (").append(String.join(", ", parts)).append(")");
            }
            JsonNode out = m.path("output");
            if (out.has("bytes")) {
                d.append("; ").append(out.get("bytes").asLong()).append(" bytes");
            }
            d.append('\n');
        }
        d.append('\n').append(PUBLISH_TRAILER).append(publishId).append('\n');
        if (options.requestKey() != null) {
            d.append(REQUEST_TRAILER).append(options.requestKey()).append('\n');
        }
        return d.toString();
    }

    private QuantflowException refusal(HubApi.Refused e, String doing) {
        String why = e.serverMessage == null ? "" : ": " + e.serverMessage;
        return switch (e.status) {
            case 401 -> QuantflowException.of(Reason.HUB_UNAUTHORIZED, "the Hub refused the token in HF_TOKEN " + doing + " "
                    + location.uri() + " (HTTP 401)" + why);
            case 403 -> QuantflowException.of(Reason.HUB_TOKEN_CANNOT_WRITE, "the Hub does not let the token in HF_TOKEN write "
                    + location.uri() + " (HTTP 403)" + why + "; it needs the write role on " + repo.id().split("/")[0]);
            case 409, 412 -> QuantflowException.of(Reason.TARGET_WRITTEN_CONCURRENTLY, location.uri() + " moved on while this artifact"
                    + " was published (HTTP " + e.status + ")" + why + "; nothing was committed");
            default -> QuantflowException.of(Reason.HUB_UPLOAD_FAILED, "the Hub at " + api.endpoint() + " refused " + doing + " "
                    + location.uri() + " (HTTP " + e.status + (e.errorCode == null ? "" : " " + e.errorCode) + ")" + why);
        };
    }

    /** Runs a Hub call, turning a refusal into quantflow's error. */
    private <T> T call(java.util.function.Supplier<T> c) {
        try {
            return c.get();
        } catch (HubApi.Refused e) {
            throw refusal(e, "writing");
        }
    }

    /** Nothing to remove: objects that no commit names are not part of the repository. */
    @Override
    public void abort() {
        if (published == null && !added.isEmpty()) {
            LOG.fine(() -> "not committed to " + location.uri() + ": " + added.size() + " uploaded file(s) stay unreferenced");
        }
    }

    @Override
    public void close() {
        abort();
    }

    private static void checkPath(String path) {
        if (path.isEmpty() || path.startsWith("/") || path.endsWith("/") || ("/" + path + "/").contains("/../")
                || ("/" + path + "/").contains("/./") || path.contains("//") || path.contains("\\")) {
            throw new IllegalArgumentException("'" + path + "' is not a path inside the artifact");
        }
    }

    private void requireStaged() {
        if (head == null || !staged) {
            throw new IllegalStateException("not staged");
        }
    }
}
