package io.quantflow.core.storage;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.transfer.Backoff;
import io.quantflow.core.transfer.Secret;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/**
 * How to reach S3 (or an S3-compatible store).
 *
 * @param endpoint  the service URL, or null for AWS itself
 * @param pathStyle {@code http://host/bucket/key} rather than {@code http://bucket.host/key}
 * @param partSize  bytes per multipart-upload part (at least 5 MiB, as S3 requires)
 * @param parallel  objects transferred at once
 */
public record S3Settings(URI endpoint, String region, S3Credentials credentials, boolean pathStyle, long partSize,
                         int parallel, Backoff backoff, Duration stallTimeout) {
    public static final long MIN_PART_SIZE = 5L << 20;
    public static final long DEFAULT_PART_SIZE = 64L << 20;
    public static final String DEFAULT_REGION = "us-east-1";

    public S3Settings {
        if (partSize < MIN_PART_SIZE || partSize > (5L << 30)) {
            throw QuantflowException.of(Reason.SETTINGS_INVALID, "the S3 part size must be from 5 MiB to 5 GiB");
        }
        if (parallel < 1) {
            throw QuantflowException.of(Reason.SETTINGS_INVALID, "parallel S3 transfers must be at least 1");
        }
    }

    /**
     * Settings from the command line (each may be null) and the environment.
     * Endpoint: {@code endpoint}, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS. Region:
     * {@code region}, AWS_REGION, AWS_DEFAULT_REGION, else us-east-1. Credentials: AWS_ACCESS_KEY_ID
     * and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN), else the profile {@code profile} or
     * AWS_PROFILE or {@code default} of AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, else
     * none. Path-style addressing: {@code pathStyle}, else on exactly when an endpoint is set.
     */
    public static S3Settings from(String endpoint, String region, String profile, Boolean pathStyle, Map<String, String> env,
                                  int parallel) {
        String e = firstSet(endpoint, env.get("AWS_ENDPOINT_URL_S3"), env.get("AWS_ENDPOINT_URL"));
        URI uri = e == null ? null : parseEndpoint(e);
        String r = firstSet(region, env.get("AWS_REGION"), env.get("AWS_DEFAULT_REGION"));
        return new S3Settings(uri, r == null ? DEFAULT_REGION : r, credentials(profile, env),
                pathStyle != null ? pathStyle : uri != null, DEFAULT_PART_SIZE, parallel, Backoff.defaults(), Duration.ofSeconds(60));
    }

    /** Settings from the environment alone: {@link #from} with nothing given on the command line. */
    public static S3Settings fromEnvironment(Map<String, String> env, int parallel) {
        return from(null, null, null, null, env, parallel);
    }

    public S3Settings withPartSize(long bytes) {
        return new S3Settings(endpoint, region, credentials, pathStyle, bytes, parallel, backoff, stallTimeout);
    }

    public S3Settings withBackoff(Backoff b) {
        return new S3Settings(endpoint, region, credentials, pathStyle, partSize, parallel, b, stallTimeout);
    }

    static S3Credentials credentials(String profile, Map<String, String> env) {
        Secret id = Secret.of(env.get("AWS_ACCESS_KEY_ID"));
        Secret key = Secret.of(env.get("AWS_SECRET_ACCESS_KEY"));
        if (id != null && key != null) {
            Secret session = Secret.of(env.get("AWS_SESSION_TOKEN"));
            if (!id.isPrintableWord() || !key.isPrintableWord() || session != null && !session.isPrintableWord()) {
                throw QuantflowException.of(Reason.CREDENTIALS_INVALID, "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN holds spaces"
                        + " or characters a key cannot have");
            }
            return new S3Credentials.Keys(id, key, session);
        }
        if (id != null || key != null) {
            throw QuantflowException.of(Reason.CREDENTIALS_INVALID, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
        }
        String name = firstSet(profile, env.get("AWS_PROFILE"));
        String fileVar = env.get("AWS_SHARED_CREDENTIALS_FILE");
        Path file = fileVar != null && !fileVar.isBlank() ? Path.of(fileVar)
                : Path.of(env.getOrDefault("HOME", System.getProperty("user.home")), ".aws", "credentials");
        if (Files.isRegularFile(file)) {
            return new S3Credentials.Profile(file, name == null ? "default" : name);
        }
        if (name != null) {
            throw QuantflowException.of(Reason.CREDENTIALS_INVALID, "the AWS profile '" + name + "' was asked for, but there is no credentials file at " + file);
        }
        return new S3Credentials.Anonymous();
    }

    static URI parseEndpoint(String text) {
        URI uri;
        try {
            uri = new URI(text.strip());
        } catch (URISyntaxException ex) {
            throw QuantflowException.of(Reason.SETTINGS_INVALID, "the S3 endpoint is not a URL");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null) {
            throw QuantflowException.of(Reason.SETTINGS_INVALID, "the S3 endpoint must be an http:// or https:// URL");
        }
        if (uri.getRawUserInfo() != null) {
            throw QuantflowException.of(Reason.SETTINGS_INVALID, "the S3 endpoint must not hold credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        }
        return uri;
    }

    private static String firstSet(String... values) {
        for (String v : values) {
            if (v != null && !v.isBlank()) {
                return v.strip();
            }
        }
        return null;
    }
}
