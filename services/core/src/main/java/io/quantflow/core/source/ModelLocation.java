package io.quantflow.core.source;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Where a model (or adapter) is, or where an output goes: a local directory, a Hugging Face Hub
 * repository at a revision, or an S3 prefix. Parsed from what a user types:
 * {@code hf://org/name[@revision]}, {@code s3://bucket/prefix}, {@code file:///dir} or a path.
 */
public sealed interface ModelLocation permits ModelLocation.Local, ModelLocation.Hub, ModelLocation.S3 {

    /** How the location is written, for messages and manifests (never with a credential). */
    String uri();

    /** A directory on this machine. */
    record Local(Path dir) implements ModelLocation {
        @Override
        public String uri() {
            return dir.toString();
        }
    }

    /**
     * A Hub model repository.
     *
     * @param revision a branch, tag or commit as given, or null for the default branch
     */
    record Hub(RepoId repo, String revision) implements ModelLocation {
        public static final String DEFAULT_REVISION = "main";

        public Hub {
            if (revision != null && (revision.isEmpty() || revision.length() > 256 || revision.contains("..")
                    || revision.startsWith("/") || revision.endsWith("/")
                    || revision.chars().anyMatch(c -> c <= ' ' || c == 0x7f || c == '\\'))) {
                throw QuantflowException.of(Reason.LOCATION_INVALID, "'" + revision + "' is not a revision (a branch, tag or commit)");
            }
        }

        /** The revision to resolve: the one given, else {@code main}. */
        public String revisionOrDefault() {
            return revision == null ? DEFAULT_REVISION : revision;
        }

        @Override
        public String uri() {
            return "hf://" + repo.id() + (revision == null ? "" : "@" + revision);
        }
    }

    /**
     * Objects under a prefix of a bucket.
     *
     * @param prefix the key prefix without leading or trailing '/', possibly empty (the bucket's top)
     */
    record S3(String bucket, String prefix) implements ModelLocation {
        private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");

        public S3 {
            if (!BUCKET.matcher(bucket).matches() || bucket.contains("..")) {
                throw QuantflowException.of(Reason.LOCATION_INVALID, "'" + bucket + "' is not an S3 bucket name");
            }
            if (prefix.startsWith("/") || prefix.endsWith("/") || prefix.contains("//")) {
                throw QuantflowException.of(Reason.LOCATION_INVALID, "s3://" + bucket + "/" + prefix + ": the prefix must not start or end with '/' or hold '//'");
            }
            for (String segment : prefix.split("/")) {
                if (segment.equals("..") || segment.equals(".")) {
                    throw QuantflowException.of(Reason.LOCATION_INVALID, "s3://" + bucket + "/" + prefix + ": '.' and '..' are not prefix segments");
                }
            }
        }

        /** The prefix every object key under this location starts with: {@code prefix/}, or nothing. */
        public String keyPrefix() {
            return prefix.isEmpty() ? "" : prefix + "/";
        }

        @Override
        public String uri() {
            return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix);
        }
    }

    /** Reads a location as a user writes it; a string without a scheme is a local path. */
    static ModelLocation parse(String text) {
        if (text == null || text.isBlank()) {
            throw QuantflowException.of(Reason.LOCATION_INVALID, "an empty location");
        }
        String s = text.strip();
        int colon = s.indexOf("://");
        String scheme = colon > 0 ? s.substring(0, colon).toLowerCase(Locale.ROOT) : null;
        if (scheme == null && s.regionMatches(true, 0, "file:", 0, 5)) {
            scheme = "file";
        }
        if (scheme == null) {
            return local(s, text);
        }
        return switch (scheme) {
            case "hf" -> hub(s.substring(colon + 3));
            case "s3" -> s3(s.substring(colon + 3));
            case "file" -> file(s);
            default -> throw QuantflowException.of(Reason.LOCATION_INVALID, "'" + scheme + "://' is not a known location;"
                    + " use hf://org/name[@revision], s3://bucket/prefix, file:///dir or a path");
        };
    }

    private static Hub hub(String rest) {
        int at = rest.indexOf('@');
        String id = at < 0 ? rest : rest.substring(0, at);
        String revision = at < 0 ? null : rest.substring(at + 1);
        if (id.endsWith("/")) {
            id = id.substring(0, id.length() - 1);
        }
        if (id.isEmpty()) {
            throw QuantflowException.of(Reason.LOCATION_INVALID, "hf:// needs a model id: hf://org/name[@revision]");
        }
        if (revision != null && revision.isEmpty()) {
            throw QuantflowException.of(Reason.LOCATION_INVALID, "hf://" + id + "@ names no revision");
        }
        return new Hub(new RepoId(id), revision);
    }

    private static S3 s3(String rest) {
        int slash = rest.indexOf('/');
        String bucket = slash < 0 ? rest : rest.substring(0, slash);
        String prefix = slash < 0 ? "" : rest.substring(slash + 1);
        while (prefix.endsWith("/")) {
            prefix = prefix.substring(0, prefix.length() - 1);
        }
        if (bucket.isEmpty()) {
            throw QuantflowException.of(Reason.LOCATION_INVALID, "s3:// needs a bucket: s3://bucket/prefix");
        }
        return new S3(bucket, prefix);
    }

    private static Local file(String s) {
        try {
            URI uri = new URI(s);
            if (uri.getAuthority() != null && !uri.getAuthority().equalsIgnoreCase("localhost")) {
                throw QuantflowException.of(Reason.LOCATION_INVALID, s + ": file:// names a directory on this machine (file:///dir)");
            }
            if (uri.getPath() == null || !uri.getPath().startsWith("/")) {
                throw QuantflowException.of(Reason.LOCATION_INVALID, s + ": a file URI needs an absolute path (file:///dir)");
            }
            return new Local(Path.of(uri.getPath()));
        } catch (URISyntaxException | InvalidPathException e) {
            throw QuantflowException.of(Reason.LOCATION_INVALID, s + " is not a file URI (file:///dir)");
        }
    }

    private static Local local(String s, String text) {
        try {
            return new Local(Path.of(s));
        } catch (InvalidPathException e) {
            throw QuantflowException.of(Reason.LOCATION_INVALID, "'" + text + "' is not a path");
        }
    }
}
