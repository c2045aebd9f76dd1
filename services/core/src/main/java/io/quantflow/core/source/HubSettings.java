package io.quantflow.core.source;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.transfer.Backoff;
import io.quantflow.core.transfer.Secret;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/**
 * How to reach the Hugging Face Hub.
 *
 * @param endpoint     the Hub's base URL (HF_ENDPOINT; https://huggingface.co by default)
 * @param token        the access token (HF_TOKEN), or null; sent only to the endpoint's own host
 * @param parallel     files downloaded at once
 * @param backoff      retries of each request and download
 * @param stallTimeout a download that receives nothing for this long is dropped and resumed
 */
public record HubSettings(URI endpoint, Secret token, int parallel, Backoff backoff, Duration stallTimeout) {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

    public HubSettings {
        if (parallel < 1) {
            throw QuantflowException.of(Reason.SETTINGS_INVALID, "parallel downloads must be at least 1");
        }
        if (token != null && !token.isPrintableWord()) {
            throw QuantflowException.of(Reason.CREDENTIALS_INVALID, "HF_TOKEN holds spaces or characters a Hub token cannot have");
        }
    }

    /**
     * Settings from the command line and the environment: {@code endpoint} if given, else
     * HF_ENDPOINT, else the public Hub; the token from HF_TOKEN.
     */
    public static HubSettings from(String endpoint, Map<String, String> env, int parallel) {
        String e = endpoint != null && !endpoint.isBlank() ? endpoint : env.getOrDefault("HF_ENDPOINT", "");
        return new HubSettings(parseEndpoint(e.isBlank() ? DEFAULT_ENDPOINT : e), Secret.of(env.get("HF_TOKEN")),
                parallel, Backoff.defaults(), Duration.ofSeconds(60));
    }

    public HubSettings withBackoff(Backoff b) {
        return new HubSettings(endpoint, token, parallel, b, stallTimeout);
    }

    public HubSettings withToken(Secret t) {
        return new HubSettings(endpoint, t, parallel, backoff, stallTimeout);
    }

    /** An http(s) base URL without credentials, query or fragment; a trailing '/' is dropped. */
    public static URI parseEndpoint(String text) {
        String s = text.strip();
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        URI uri;
        try {
            uri = new URI(s);
        } catch (URISyntaxException e) {
            throw QuantflowException.of(Reason.SETTINGS_INVALID, "the Hub endpoint is not a URL");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null) {
            throw QuantflowException.of(Reason.SETTINGS_INVALID, "the Hub endpoint must be an http:// or https:// URL");
        }
        if (uri.getRawUserInfo() != null) {
            throw QuantflowException.of(Reason.SETTINGS_INVALID, "the Hub endpoint must not hold credentials; set HF_TOKEN instead");
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw QuantflowException.of(Reason.SETTINGS_INVALID, "the Hub endpoint must not have a query or fragment");
        }
        return uri;
    }
}
