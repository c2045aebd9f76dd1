package io.quantflow.core.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A small Hugging Face Hub on 127.0.0.1 for tests: serves directories in the Hub's URL layout.
 * <ul>
 *   <li>{@code GET /api/models/{repo}/revision/{rev}}: JSON with {@code sha} and {@code siblings}
 *       (rfilename, size, blobId, and lfs {sha256, size} for LFS files);</li>
 *   <li>{@code GET|HEAD /{repo}/resolve/{rev}/{file}}: a git file's bytes with {@code ETag} = its git
 *       blob id; an LFS file (safetensors) as a 302 to {@code /blobs/{sha256}} on a second server (another
 *       origin, as the Hub's CDN is) with {@code X-Linked-Etag} = sha256 and {@code X-Linked-Size};
 *       both with {@code X-Repo-Commit};</li>
 *   <li>Range requests (206 with Content-Range) on every file body.</li>
 * </ul>
 * It can require a token (private or gated repos), break a file's download halfway, serve a
 * corrupted file, and answer every request with a given status and {@code X-Error-Code}. Every
 * request is recorded. The write side ({@link HubWrites}: whoami, repository and branch creation,
 * preupload, the LFS batch API with basic and multipart transfers, NDJSON commits, pull request refs,
 * the tree and commit listings) keeps what is committed, and the read side serves it.
 */
public final class HubTestServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern API = Pattern.compile("/api/models/([^/]+/[^/]+|[^/]+)(?:/revision/([^/]+))?");
    private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-(\\d*)");

    private final HttpServer hub;
    private final HttpServer cdn;
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "hub-test-server");
        t.setDaemon(true);
        return t;
    });
    final Map<String, Repo> repos = new ConcurrentHashMap<>();
    private final Map<String, Blob> blobs = new ConcurrentHashMap<>();
    final Map<String, Account> accounts = new ConcurrentHashMap<>();
    final HubWrites writes = new HubWrites(this);
    private final List<Request> requests = Collections.synchronizedList(new ArrayList<>());
    private volatile Failure failure;
    private volatile Failure nextFailure;
    private final AtomicInteger failuresLeft = new AtomicInteger();

    /** One request as received. */
    public record Request(String server, String method, String path, String range, boolean authorized, String authorization) {
    }

    /** What every request is answered with while set. */
    public record Failure(int status, String errorCode) {
    }

    /** How a repository is served. */
    public static final class Repo {
        final String id;
        /** The head of main and its files (what the read side served before refs existed). */
        volatile String commit;
        volatile Map<String, FileEntry> files = new TreeMap<>();
        /** Branches and pull request refs ({@code refs/pr/N}) to their head; every commit by id. */
        final Map<String, Snapshot> refs = new ConcurrentHashMap<>();
        final Map<String, Snapshot> commits = new ConcurrentHashMap<>();
        volatile boolean isPrivate;
        int pullRequests;
        String token;
        boolean gated;
        final Map<String, AtomicInteger> breaks = new ConcurrentHashMap<>();
        final Map<String, Long> breakAt = new ConcurrentHashMap<>();
        final Map<String, Boolean> corrupt = new ConcurrentHashMap<>();
        final Map<String, AtomicInteger> stalls = new ConcurrentHashMap<>();
        volatile boolean bareListing;
        volatile boolean ignoreRanges;

        Repo(String id, String commit) {
            this.id = id;
            this.commit = commit;
        }

        Repo(String id) {
            this.id = id;
        }

        /** Only requests with {@code Authorization: Bearer token} may read it; others get 401 RepoNotFound (a private repo). */
        public Repo requireToken(String t) {
            this.token = t;
            return this;
        }

        /** A gated repo: listing works, downloads need the token (401/403 GatedRepo otherwise). */
        public Repo gated(String t) {
            this.token = t;
            this.gated = true;
            return this;
        }

        /** The next {@code times} downloads of the file stop after {@code bytes} bytes. */
        public Repo breakDownload(String file, long bytes, int times) {
            breakAt.put(file, bytes);
            breaks.put(file, new AtomicInteger(times));
            return this;
        }

        /** The file's bytes are served with one byte changed (the metadata stays the true one). */
        public Repo corrupt(String file) {
            corrupt.put(file, true);
            return this;
        }

        /** The next {@code times} downloads of the file send {@code bytes} bytes, then nothing for a minute. */
        public Repo stallDownload(String file, long bytes, int times) {
            breakAt.put(file, bytes);
            stalls.put(file, new AtomicInteger(times));
            return this;
        }

        /** The listing names the files only (no sizes, blob ids or sha256): clients must ask each file's metadata. */
        public Repo bareListing() {
            bareListing = true;
            return this;
        }

        /** Range headers are ignored: every download answers 200 with the whole file. */
        public Repo ignoreRanges() {
            ignoreRanges = true;
            return this;
        }

        /** Serves the file correctly again. */
        public Repo repair(String file) {
            corrupt.remove(file);
            return this;
        }

        public String commit() {
            return commit;
        }

        public FileEntry file(String name) {
            return files.get(name);
        }

        /** The head of a branch or pull request ref, or null. */
        public Snapshot ref(String name) {
            return refs.get(name);
        }

        /** What a revision (branch, ref or commit id) points at, or null. */
        Snapshot snapshot(String rev) {
            Snapshot s = refs.get(rev);
            return s != null ? s : commits.get(rev);
        }

        /** The commits of a branch, newest first. */
        public List<Snapshot> history(String branch) {
            List<Snapshot> out = new ArrayList<>();
            for (Snapshot s = refs.get(branch); s != null; s = s.parent() == null ? null : commits.get(s.parent())) {
                out.add(s);
            }
            return out;
        }

        public boolean isPrivate() {
            return isPrivate;
        }

        synchronized void setRef(String name, Snapshot s) {
            commits.put(s.id(), s);
            refs.put(name, s);
            if (name.equals("main")) {
                files = s.files();
                commit = s.id();
            }
        }
    }

    /** One commit: its id, parent, title and message, and the files it holds. */
    public record Snapshot(String id, String parent, String title, String message, Map<String, FileEntry> files) {
    }

    /** A token's account: its user, role ("read", "write" or "fineGrained") and organisations. */
    public record Account(String user, String role, List<String> orgs) {
        boolean mayWrite(String namespace) {
            return role.equals("write") && (user.equalsIgnoreCase(namespace) || orgs.stream().anyMatch(namespace::equalsIgnoreCase));
        }

        boolean mayRead(String namespace) {
            return user.equalsIgnoreCase(namespace) || orgs.stream().anyMatch(namespace::equalsIgnoreCase);
        }
    }

    /** A served file: git blob id, and sha256 for LFS files. */
    public record FileEntry(String name, byte[] bytes, String gitBlobId, String sha256, boolean lfs) {
    }

    private record Blob(Repo repo, FileEntry entry) {
    }

    public HubTestServer() throws IOException {
        InetAddress lo = InetAddress.getLoopbackAddress();
        hub = HttpServer.create(new InetSocketAddress(lo, 0), 0);
        cdn = HttpServer.create(new InetSocketAddress(lo, 0), 0);
        hub.setExecutor(pool);
        cdn.setExecutor(pool);
        hub.createContext("/", this::handleHub);
        cdn.createContext("/", this::handleCdn);
        cdn.createContext("/upload/", writes::handleStorage);
        hub.start();
        cdn.start();
    }

    public String endpoint() {
        return "http://127.0.0.1:" + hub.getAddress().getPort();
    }

    /** Makes {@code token} an access token of {@code user} with the role "read" or "write", member of {@code orgs}. */
    public void addToken(String token, String user, String role, String... orgs) {
        accounts.put(token, new Account(user, role, List.of(orgs)));
    }

    /** The write side: repository creation, preupload, LFS, commits and their failures. */
    public HubWrites writes() {
        return writes;
    }

    /** The repository, or null. */
    public Repo repo(String id) {
        return repos.get(id.toLowerCase(Locale.ROOT));
    }

    /** Serves a committed LFS file's bytes from the storage server, as the Hub's CDN does. */
    void serveBlob(Repo repo, FileEntry e) {
        if (e.lfs()) {
            blobs.put(e.sha256(), new Blob(repo, e));
        }
    }

    /** The storage server, on another host name than the Hub (as the Hub's CDN is): clients keep the Hub's headers and token to the Hub. */
    String cdnBase() {
        return "http://localhost:" + cdn.getAddress().getPort();
    }

    /** Serves every top-level file of {@code dir} as the repository {@code id}; safetensors files are LFS files. */
    public Repo addRepo(String id, Path dir) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                files.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
        }
        return addRepo(id, files);
    }

    public Repo addRepo(String id, Map<String, byte[]> files) {
        MessageDigest md = sha1();
        md.update(id.getBytes(StandardCharsets.UTF_8));
        Map<String, FileEntry> entries = new LinkedHashMap<>();
        files.forEach((name, bytes) -> {
            boolean lfs = name.endsWith(".safetensors") || name.endsWith(".bin");
            FileEntry e = new FileEntry(name, bytes, gitBlobId(bytes), lfs ? sha256(bytes) : null, lfs);
            entries.put(name, e);
            md.update(e.gitBlobId().getBytes(StandardCharsets.US_ASCII));
        });
        Repo repo = new Repo(id, HexFormat.of().formatHex(md.digest()));
        Map<String, FileEntry> tree = new TreeMap<>(entries);
        repo.setRef("main", new Snapshot(repo.commit, null, "initial commit", "", Collections.unmodifiableMap(tree)));
        repos.put(id.toLowerCase(Locale.ROOT), repo);
        for (FileEntry e : entries.values()) {
            if (e.lfs()) {
                blobs.put(e.sha256(), new Blob(repo, e));
            }
        }
        return repo;
    }

    /** Answers every request with this status and X-Error-Code (null: normal service). */
    public void failAll(Failure f) {
        this.failure = f;
    }

    /** Answers the next {@code n} requests to the Hub with this status and X-Error-Code. */
    public void failNext(int n, Failure f) {
        this.nextFailure = f;
        failuresLeft.set(n);
    }

    void record(String serverName, HttpExchange ex) {
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        requests.add(new Request(serverName, ex.getRequestMethod(), ex.getRequestURI().getRawPath(), ex.getRequestHeaders().getFirst("Range"),
                auth != null, auth));
    }

    public List<Request> requests() {
        synchronized (requests) {
            return List.copyOf(requests);
        }
    }

    public void clearRequests() {
        requests.clear();
    }

    private void handleHub(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getRawPath();
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            requests.add(new Request("hub", ex.getRequestMethod(), path, ex.getRequestHeaders().getFirst("Range"), auth != null, auth));
            Failure f = failure;
            if (f == null && failuresLeft.getAndDecrement() > 0) {
                f = nextFailure;
            }
            if (f != null) {
                error(ex, f.status(), f.errorCode());
                return;
            }
            Matcher api = API.matcher(path);
            if (api.matches()) {
                String repoId = decode(api.group(1));
                Repo repo = repos.get(repoId.toLowerCase(Locale.ROOT));
                if (!readable(ex, repo, auth, false)) {
                    return;
                }
                Snapshot snap = repo.snapshot(api.group(2) == null ? "main" : decode(api.group(2)));
                if (snap == null) {
                    error(ex, 404, "RevisionNotFound");
                    return;
                }
                send(ex, 200, "application/json", repoJson(repo, snap).getBytes(StandardCharsets.UTF_8), Map.of());
                return;
            }
            if (writes.handle(ex, path, auth)) {
                return;
            }
            int resolve = path.indexOf("/resolve/");
            if (resolve > 0) {
                String repoId = decode(path.substring(1, resolve));
                String rest = path.substring(resolve + "/resolve/".length());
                int slash = rest.indexOf('/');
                Repo repo = repos.get(repoId.toLowerCase(Locale.ROOT));
                if (slash < 0 || !readable(ex, repo, auth, true)) {
                    if (slash < 0 && repo != null) {
                        error(ex, 404, "EntryNotFound");
                    }
                    return;
                }
                String rev = decode(rest.substring(0, slash));
                String file = decode(rest.substring(slash + 1));
                Snapshot snap = repo.snapshot(rev);
                if (snap == null) {
                    error(ex, 404, "RevisionNotFound");
                    return;
                }
                FileEntry e = snap.files().get(file);
                if (e == null) {
                    error(ex, 404, "EntryNotFound");
                    return;
                }
                Headers h = ex.getResponseHeaders();
                h.add("X-Repo-Commit", snap.id());
                if (e.lfs()) {
                    h.add("X-Linked-Etag", "\"" + e.sha256() + "\"");
                    h.add("X-Linked-Size", Long.toString(e.bytes().length));
                    h.add("ETag", "\"" + e.sha256() + "\"");
                    h.add("Location", cdnBase() + "/blobs/" + e.sha256());
                    ex.sendResponseHeaders(302, -1);
                    return;
                }
                h.add("ETag", "\"" + e.gitBlobId() + "\"");
                body(ex, repo, e);
                return;
            }
            error(ex, 404, null);
        }
    }

    private void handleCdn(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getRawPath();
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            requests.add(new Request("cdn", ex.getRequestMethod(), path, ex.getRequestHeaders().getFirst("Range"), auth != null, auth));
            Blob b = path.startsWith("/blobs/") ? blobs.get(path.substring("/blobs/".length())) : null;
            if (b == null) {
                error(ex, 404, null);
                return;
            }
            body(ex, b.repo(), b.entry());
        }
    }

    /** Whether the request may read the repo; answers the refusal when not. */
    private boolean readable(HttpExchange ex, Repo repo, String auth, boolean download) throws IOException {
        if (repo == null) {
            error(ex, auth == null ? 401 : 404, "RepoNotFound");
            return false;
        }
        if (repo.token == null && !repo.isPrivate || repo.token != null && ("Bearer " + repo.token).equals(auth)) {
            return true;
        }
        Account account = auth == null ? null : accounts.get(auth.substring(auth.indexOf(' ') + 1));
        if (repo.isPrivate && account != null && account.mayRead(repo.id.split("/")[0])) {
            return true;
        }
        if (repo.gated) {
            if (!download) {
                return true;
            }
            error(ex, auth == null ? 401 : 403, "GatedRepo");
            return false;
        }
        error(ex, auth == null ? 401 : 404, "RepoNotFound");
        return false;
    }

    /** A file's bytes, whole or a range, broken or corrupted as configured. */
    private void body(HttpExchange ex, Repo repo, FileEntry e) throws IOException {
        byte[] bytes = e.bytes();
        if (repo.corrupt.containsKey(e.name())) {
            bytes = bytes.clone();
            bytes[bytes.length / 2] ^= 0x5a;
        }
        long start = 0;
        long end = bytes.length - 1;
        int status = 200;
        String range = repo.ignoreRanges ? null : ex.getRequestHeaders().getFirst("Range");
        Headers h = ex.getResponseHeaders();
        h.add("Accept-Ranges", "bytes");
        if (range != null) {
            Matcher m = RANGE.matcher(range);
            if (m.matches()) {
                start = Long.parseLong(m.group(1));
                if (!m.group(2).isEmpty()) {
                    end = Math.min(end, Long.parseLong(m.group(2)));
                }
                if (start >= bytes.length) {
                    h.add("Content-Range", "bytes */" + bytes.length);
                    ex.sendResponseHeaders(416, -1);
                    return;
                }
                status = 206;
                h.add("Content-Range", "bytes " + start + "-" + end + "/" + bytes.length);
            }
        }
        long length = end - start + 1;
        h.add("Content-Type", "application/octet-stream");
        if (ex.getRequestMethod().equals("HEAD")) {
            h.add("Content-Length", Long.toString(length));
            ex.sendResponseHeaders(status, -1);
            return;
        }
        AtomicInteger breaks = repo.breaks.get(e.name());
        boolean broken = breaks != null && breaks.getAndDecrement() > 0;
        AtomicInteger stalls = repo.stalls.get(e.name());
        boolean stalled = stalls != null && stalls.getAndDecrement() > 0;
        ex.sendResponseHeaders(status, length);
        OutputStream out = ex.getResponseBody();
        if (stalled) {
            out.write(bytes, (int) start, (int) Math.min(length, repo.breakAt.get(e.name())));
            out.flush();
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
            return;
        }
        if (broken) {
            long stopAt = Math.min(length, repo.breakAt.get(e.name()));
            out.write(bytes, (int) start, (int) stopAt);
            out.flush();
            // fewer bytes than Content-Length: closing the exchange drops the connection mid-body
            return;
        }
        out.write(bytes, (int) start, (int) length);
    }

    static void error(HttpExchange ex, int status, String errorCode) throws IOException {
        byte[] body = ("{\"error\":\"" + (errorCode == null ? "error" : errorCode) + "\"}").getBytes(StandardCharsets.UTF_8);
        if (errorCode != null) {
            ex.getResponseHeaders().add("X-Error-Code", errorCode);
            ex.getResponseHeaders().add("X-Error-Message", "the test Hub says " + errorCode);
        }
        send(ex, status, "application/json", body, Map.of());
    }

    static void send(HttpExchange ex, int status, String type, byte[] body, Map<String, String> headers) throws IOException {
        ex.getResponseHeaders().add("Content-Type", type);
        headers.forEach(ex.getResponseHeaders()::add);
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            ex.getResponseBody().write(body);
        }
    }

    private String repoJson(Repo repo, Snapshot snap) {
        ObjectNode root = JSON.createObjectNode();
        root.put("_id", snap.id().substring(0, 24));
        root.put("id", repo.id);
        root.put("sha", snap.id());
        root.put("private", repo.isPrivate || repo.token != null && !repo.gated);
        if (repo.gated) {
            root.put("gated", "manual");
        } else {
            root.put("gated", false);
        }
        ArrayNode siblings = root.putArray("siblings");
        for (FileEntry e : snap.files().values()) {
            ObjectNode s = siblings.addObject();
            s.put("rfilename", e.name());
            if (repo.bareListing) {
                continue;
            }
            s.put("size", e.bytes().length);
            s.put("blobId", e.gitBlobId());
            if (e.lfs()) {
                ObjectNode lfs = s.putObject("lfs");
                lfs.put("sha256", e.sha256());
                lfs.put("size", e.bytes().length);
                lfs.put("pointerSize", 134);
            }
        }
        try {
            return JSON.writeValueAsString(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    public static String gitBlobId(byte[] bytes) {
        MessageDigest md = sha1();
        md.update(("blob " + bytes.length + "\0").getBytes(StandardCharsets.US_ASCII));
        return HexFormat.of().formatHex(md.digest(bytes));
    }

    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static MessageDigest sha1() {
        try {
            return MessageDigest.getInstance("SHA-1");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Runs the server until stopped, for trying the command line by hand:
     * {@code HubTestServer [--gated TOKEN] org/name=DIR ...} serves each DIR as org/name (those after
     * --gated TOKEN as gated models needing that token) and prints the endpoint. For the write side:
     * {@code --token TOKEN:user:read|write}, {@code --multipart THRESHOLD:PART_SIZE} (bytes), {@code --spool DIR}
     * (parts on disk, objects checked but not kept: for measuring uploads of gigabytes).
     */
    public static void main(String[] args) throws Exception {
        HubTestServer server = new HubTestServer();
        String gatedToken = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--gated")) {
                gatedToken = args[++i];
                continue;
            }
            if (args[i].equals("--token")) {
                String[] t = args[++i].split(":");
                server.addToken(t[0], t[1], t[2]);
                continue;
            }
            if (args[i].equals("--spool")) {
                server.writes().spool(Path.of(args[++i]));
                continue;
            }
            if (args[i].equals("--multipart")) {
                String[] m = args[++i].split(":");
                server.writes().multipart(Long.parseLong(m[0]), Long.parseLong(m[1]));
                continue;
            }
            int eq = args[i].indexOf('=');
            Repo repo = server.addRepo(args[i].substring(0, eq), Path.of(args[i].substring(eq + 1)));
            if (gatedToken != null) {
                repo.gated(gatedToken);
            }
        }
        System.out.println(server.endpoint());
        Thread.currentThread().join();
    }

    @Override
    public void close() {
        hub.stop(0);
        cdn.stop(0);
        pool.shutdownNow();
    }
}
