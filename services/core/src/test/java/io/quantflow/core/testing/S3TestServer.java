package io.quantflow.core.testing;

import io.quantflow.core.storage.S3Settings;
import io.quantflow.core.transfer.Backoff;
import org.junit.jupiter.api.Assumptions;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * S3Proxy (a real S3 server) on 127.0.0.1 for tests, run as a separate JVM from the jar the build
 * copies to {@code target/s3proxy/s3proxy.jar}, with a filesystem blobstore in a temporary folder
 * and AWS signature checks on. Tests that need it are skipped, saying so, when the jar is missing.
 */
public final class S3TestServer implements AutoCloseable {
    public static final String IDENTITY = "local-identity";
    public static final String CREDENTIAL = "local-credential-secret";

    private final Process process;
    private final int port;
    private final Path dir;
    private S3Client admin;

    private S3TestServer(Process process, int port, Path dir) {
        this.process = process;
        this.port = port;
        this.dir = dir;
    }

    public static S3TestServer start() throws IOException, InterruptedException {
        String jarProp = System.getProperty("quantflow.s3proxy.jar");
        Path jar = jarProp == null ? null : Path.of(jarProp);
        Assumptions.assumeTrue(jar != null && Files.isRegularFile(jar),
                "S3Proxy jar not found at " + jar + " (the build copies it there): skipping S3 tests");
        Path dir = Files.createTempDirectory("s3proxy-");
        Files.createDirectories(dir.resolve("data"));
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            int port;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            Path conf = dir.resolve("s3proxy.conf");
            Files.writeString(conf, String.join("\n",
                    "s3proxy.endpoint=http://127.0.0.1:" + port,
                    "s3proxy.authorization=aws-v2-or-v4",
                    "s3proxy.identity=" + IDENTITY,
                    "s3proxy.credential=" + CREDENTIAL,
                    "jclouds.provider=filesystem",
                    "jclouds.filesystem.basedir=" + dir.resolve("data"),
                    ""));
            Path java = Path.of(System.getProperty("java.home"), "bin", "java");
            Process p = new ProcessBuilder(List.of(java.toString(), "-Xmx256m", "-jar", jar.toString(), "--properties", conf.toString()))
                    .redirectErrorStream(true)
                    .redirectOutput(dir.resolve("s3proxy.log").toFile())
                    .start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline && p.isAlive()) {
                try (Socket ignored = new Socket(InetAddress.getLoopbackAddress(), port)) {
                    return new S3TestServer(p, port, dir);
                } catch (IOException e) {
                    last = e;
                    Thread.sleep(100);
                }
            }
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        throw new IOException("S3Proxy did not start; see " + dir.resolve("s3proxy.log"), last);
    }

    public String endpoint() {
        return "http://127.0.0.1:" + port;
    }

    /** The environment a conversion needs to reach this server with its credentials. */
    public Map<String, String> environment() {
        Map<String, String> env = new HashMap<>();
        env.put("AWS_ACCESS_KEY_ID", IDENTITY);
        env.put("AWS_SECRET_ACCESS_KEY", CREDENTIAL);
        env.put("AWS_REGION", "us-east-1");
        env.put("AWS_ENDPOINT_URL_S3", endpoint());
        return env;
    }

    /** A plain SDK client for setting up and checking the store in tests. */
    public S3Client client() {
        return S3Client.builder()
                .httpClient(UrlConnectionHttpClient.builder().socketTimeout(Duration.ofSeconds(60)).build())
                .endpointOverride(URI.create(endpoint()))
                .region(Region.US_EAST_1)
                .forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(IDENTITY, CREDENTIAL)))
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .build();
    }

    /**
     * Settings that reach this server for the code under test: the smallest part size, so that multipart paths run
     * on small objects, and retries that give up within milliseconds.
     */
    public S3Settings quickSettings(Map<String, String> env) {
        return S3Settings.fromEnvironment(env, 2).withPartSize(S3Settings.MIN_PART_SIZE)
                .withBackoff(new Backoff(3, Duration.ofMillis(1), Duration.ofMillis(5)));
    }

    /** {@link #quickSettings(Map)} with this server's own environment. */
    public S3Settings quickSettings() {
        return quickSettings(environment());
    }

    /** A new bucket with a random name, for one test's objects. */
    public synchronized String newBucket() {
        if (admin == null) {
            admin = client();
        }
        String b = "qf-" + UUID.randomUUID().toString().substring(0, 8);
        admin.createBucket(r -> r.bucket(b));
        return b;
    }

    public Path log() {
        return dir.resolve("s3proxy.log");
    }

    @Override
    public void close() throws InterruptedException {
        if (admin != null) {
            admin.close();
        }
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary folder
        }
    }
}
