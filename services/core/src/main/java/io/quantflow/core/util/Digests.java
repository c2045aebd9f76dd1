package io.quantflow.core.util;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Every digest quantflow computes, in one place: sha256 in lower-case hex (manifests, caches, content
 * hashes, request ids), the git blob id of a file (sha1 of {@code "blob <size>\0"} and the content, as the
 * Hub names files kept in git) and the base64 MD5 that S3 takes as Content-MD5.
 */
public final class Digests {
    private static final int BUFFER = 1 << 20;

    private Digests() {
    }

    /** A new SHA-256 digest, to feed bytes as they arrive (a download). */
    public static MessageDigest sha256() {
        return digest("SHA-256");
    }

    /** The sha256 of a file's bytes. */
    public static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return sha256(in);
        }
    }

    /** The sha256 of what a stream holds from here to its end (the stream is read, not closed). */
    public static String sha256(InputStream in) throws IOException {
        MessageDigest md = sha256();
        update(md, in);
        return hex(md);
    }

    public static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(sha256().digest(bytes));
    }

    /** The sha256 of a string's UTF-8 bytes. */
    public static String sha256(String text) {
        return sha256(text.getBytes(StandardCharsets.UTF_8));
    }

    /** A digest's value in lower-case hex (the digest is reset). */
    public static String hex(MessageDigest md) {
        return HexFormat.of().formatHex(md.digest());
    }

    /** The git blob id of a file: sha1 of {@code "blob <size>\0"} and the content. */
    public static String gitBlobId(Path file) throws IOException {
        MessageDigest md = digest("SHA-1");
        md.update(("blob " + Files.size(file) + "\0").getBytes(StandardCharsets.US_ASCII));
        try (InputStream in = Files.newInputStream(file)) {
            update(md, in);
        }
        return hex(md);
    }

    /** The MD5 of the bytes, base64 (an HTTP Content-MD5). */
    public static String md5Base64(byte[] bytes) {
        return Base64.getEncoder().encodeToString(digest("MD5").digest(bytes));
    }

    /** The MD5 of what a stream holds from here to its end, base64 (the stream is read, not closed). */
    public static String md5Base64(InputStream in) throws IOException {
        MessageDigest md = digest("MD5");
        update(md, in);
        return Base64.getEncoder().encodeToString(md.digest());
    }

    private static void update(MessageDigest md, InputStream in) throws IOException {
        byte[] buf = new byte[BUFFER];
        int r;
        while ((r = in.read(buf)) > 0) {
            md.update(buf, 0, r);
        }
    }

    private static MessageDigest digest(String algorithm) {
        try {
            return MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
