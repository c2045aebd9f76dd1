package io.quantflow.core.job;

import io.quantflow.core.source.HubSettings;
import io.quantflow.core.source.VariantMap;
import io.quantflow.core.storage.S3Settings;

import java.nio.file.Path;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Where conversions keep their caches and how they reach remote sources.
 *
 * @param cacheRoot  {@code hub/} (Hub downloads), {@code s3/} (S3 downloads), {@code artifacts/}
 *                   (the conversion cache) and {@code tmp/} (uploads being staged) live below it
 * @param s3         asked only when a location is on S3
 * @param variants   the pre-quantized variants the operator allows ({@link VariantMap#NONE} for none)
 */
public record JobSettings(Path cacheRoot, HubSettings hub, Supplier<S3Settings> s3, VariantMap variants) {

    /**
     * The cache folder: {@code dir} when given, else QUANTFLOW_CACHE, else
     * {@code $XDG_CACHE_HOME/quantflow}, else {@code ~/.cache/quantflow}.
     */
    public static Path cacheRoot(Path dir, Map<String, String> env) {
        if (dir != null) {
            return dir.toAbsolutePath().normalize();
        }
        String v = env.get("QUANTFLOW_CACHE");
        if (v != null && !v.isBlank()) {
            return Path.of(v).toAbsolutePath().normalize();
        }
        String xdg = env.get("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "quantflow").toAbsolutePath().normalize();
        }
        return Path.of(System.getProperty("user.home"), ".cache", "quantflow");
    }
}
