package io.quantflow.core.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.transfer.ETags;
import io.quantflow.core.transfer.ResumableDownload;
import io.quantflow.core.transfer.Secret;
import io.quantflow.core.util.Exceptions;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Hugging Face Hub's HTTP API, as far as fetching a model needs it: resolve a revision to a
 * commit with the file list, read a file's metadata, and open a file's bytes from an offset.
 * Redirects are followed by hand so that the token goes only to the endpoint's own host, never to
 * the storage a download is redirected to. Nothing here logs; no message holds the token.
 */
public final class HubClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
    private static final int MAX_REDIRECTS = 10;
    private static final long MAX_API_ANSWER = 64L << 20;

    private final HubSettings settings;
    private final HttpClient http;
    private final String base;

    /**
     * What the Hub's answer for a file says about it.
     *
     * @param commit     X-Repo-Commit
     * @param linkedEtag X-Linked-Etag: the sha256 of an LFS file
     * @param etag       ETag: the git blob id of a file kept in git (or the linked etag)
     * @param size       X-Linked-Size or Content-Length, or -1
     */
    public record FileMeta(String commit, String linkedEtag, String etag, long size) {
    }

    public HubClient(HubSettings settings) {
        this.settings = settings;
        this.http = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER)
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(settings.stallTimeout())
                .build();
        this.base = settings.endpoint().toString();
    }

    public HubSettings settings() {
        return settings;
    }

    /** The commit a revision points at and the repository's files, retried on network failures and 5xx. */
    public HubRepoInfo repoInfo(ModelLocation.Hub repo) {
        String revision = repo.revisionOrDefault();
        URI uri = URI.create(base + "/api/models/" + repo.repo().id() + "/revision/" + quote(revision, false) + "?blobs=true");
        for (int attempt = 1; ; attempt++) {
            try {
                HttpResponse<InputStream> r = send(request(uri).GET().build());
                try (InputStream body = r.body()) {
                    if (r.statusCode() == 200) {
                        byte[] bytes = body.readNBytes((int) MAX_API_ANSWER + 1);
                        if (bytes.length > MAX_API_ANSWER) {
                            throw QuantflowException.of(Reason.HUB_ANSWER_INVALID, repo.uri() + ": the Hub's answer is larger than 64 MB");
                        }
                        JsonNode root;
                        try {
                            root = JSON.readTree(bytes);
                        } catch (IOException e) {
                            throw QuantflowException.of(Reason.HUB_ANSWER_INVALID, repo.uri() + ": the Hub's answer is not JSON");
                        }
                        return HubRepoInfo.parse(root, repo.uri());
                    }
                    QuantflowException error = HubErrors.of(r.statusCode(), errorCode(r.headers()), repo, revision, null,
                            tokenFor(uri) != null, base);
                    if (error != null) {
                        throw error;
                    }
                    throw new IOException("HTTP " + r.statusCode());
                }
            } catch (IOException e) {
                retryOrFail(attempt, "asking " + base + " about " + repo.uri(), e);
            }
        }
    }

    /** A file's metadata from the Hub's answer to HEAD (its redirect is not followed). */
    public FileMeta head(ModelLocation.Hub repo, String commit, String file) {
        URI uri = resolveUri(repo, commit, file);
        for (int attempt = 1; ; attempt++) {
            try {
                HttpResponse<InputStream> r = send(request(uri).method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
                r.body().close();
                int s = r.statusCode();
                if (s == 200 || s >= 300 && s < 400) {
                    return meta(r.headers());
                }
                QuantflowException error = HubErrors.of(s, errorCode(r.headers()), repo, commit, file, tokenFor(uri) != null, base);
                if (error != null) {
                    throw error;
                }
                throw new IOException("HTTP " + s);
            } catch (IOException e) {
                retryOrFail(attempt, "asking " + base + " about " + repo.repo().id() + "/" + file, e);
            }
        }
    }

    /**
     * Opens a file's bytes from {@code offset} (a Range request), following redirects. An
     * IOException (network, 429, 5xx) is worth retrying; a QuantflowException is not.
     *
     * @param meta receives what the Hub's own answer says about the file, before the body is read
     */
    ResumableDownload.Opened open(ModelLocation.Hub repo, String commit, String file, long offset,
                                  Consumer<FileMeta> meta) throws IOException {
        URI uri = resolveUri(repo, commit, file);
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpRequest.Builder b = request(uri).GET();
            if (offset > 0) {
                b.header("Range", "bytes=" + offset + "-");
            }
            HttpResponse<InputStream> r = send(b.build());
            int s = r.statusCode();
            if (hop == 0 && (s == 200 || s == 206 || isRedirect(s))) {
                meta.accept(meta(r.headers()));
            }
            if (isRedirect(s)) {
                r.body().close();
                String location = r.headers().firstValue("Location").orElseThrow(() -> new IOException("a redirect without Location"));
                uri = uri.resolve(location);
                continue;
            }
            if (s == 200) {
                return new ResumableDownload.Opened(r.body(), 0);
            }
            if (s == 206) {
                Matcher m = CONTENT_RANGE.matcher(r.headers().firstValue("Content-Range").orElse(""));
                if (!m.matches()) {
                    r.body().close();
                    throw new IOException("a partial answer without a valid Content-Range");
                }
                return new ResumableDownload.Opened(r.body(), Long.parseLong(m.group(1)));
            }
            if (s == 416) {
                // the partial file already holds every byte: nothing more to read
                r.body().close();
                return new ResumableDownload.Opened(InputStream.nullInputStream(), offset);
            }
            r.body().close();
            QuantflowException error = HubErrors.of(s, errorCode(r.headers()), repo, commit, file, tokenFor(uri) != null, base);
            if (error != null) {
                throw error;
            }
            throw new IOException("HTTP " + s + " for " + file);
        }
        throw new IOException("more than " + MAX_REDIRECTS + " redirects for " + file);
    }

    private URI resolveUri(ModelLocation.Hub repo, String commit, String file) {
        return URI.create(base + "/" + repo.repo().id() + "/resolve/" + quote(commit, false) + "/" + quote(file, true));
    }

    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri)
                .timeout(settings.stallTimeout())
                .header("User-Agent", "quantflow/" + version() + "; java/" + Runtime.version().feature());
        Secret token = tokenFor(uri);
        if (token != null) {
            b.header("Authorization", "Bearer " + token.reveal());
        }
        return b;
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

    private HttpResponse<InputStream> send(HttpRequest request) throws IOException {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw QuantflowException.of(Reason.INTERRUPTED, "interrupted while talking to " + base, e);
        } catch (IllegalArgumentException e) {
            throw QuantflowException.of(Reason.HUB_UNREACHABLE, "cannot reach the Hub at " + base + ": " + e.getMessage());
        }
    }

    private void retryOrFail(int attempt, String what, IOException e) {
        if (attempt >= settings.backoff().attempts()) {
            throw QuantflowException.of(Reason.RETRIES_EXHAUSTED, what + " failed " + attempt + " times, last: "
                    + Exceptions.describe(e), e);
        }
        try {
            settings.backoff().sleepBefore(attempt + 1);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw QuantflowException.of(Reason.INTERRUPTED, what + " was interrupted", ie);
        }
    }

    private static boolean isRedirect(int s) {
        return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
    }

    private static String errorCode(HttpHeaders h) {
        return h.firstValue("X-Error-Code").orElse(null);
    }

    private static FileMeta meta(HttpHeaders h) {
        long size = h.firstValueAsLong("X-Linked-Size").orElse(-1);
        return new FileMeta(h.firstValue("X-Repo-Commit").orElse(null), ETags.unquote(h.firstValue("X-Linked-Etag").orElse(null)),
                ETags.unquote(h.firstValue("ETag").orElse(null)), size);
    }

    /** Percent-encodes everything but unreserved characters (and '/' when {@code keepSlash}). */
    static String quote(String s, boolean keepSlash) {
        StringBuilder out = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if (c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
                    || c == '~' || keepSlash && c == '/') {
                out.append(c);
            } else {
                out.append('%').append(String.format(Locale.ROOT, "%02X", b & 0xff));
            }
        }
        return out.toString();
    }

    private static String version() {
        String v = HubClient.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
