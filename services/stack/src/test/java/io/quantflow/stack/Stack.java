package io.quantflow.stack;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The whole pipeline for a test: {@code scripts/stack up} in a folder of its own (Kafka, S3Proxy, and
 * each of the four services that is built), read back from its {@code stack.properties}; closing it
 * runs {@code scripts/stack down --purge}.
 *
 * <pre>
 *   try (Stack stack = Stack.start()) {
 *       producer on stack.bootstrap; stack.s3Client() on stack.workBucket; stack.serviceUrls.get("fetcher") ...
 *   }
 * </pre>
 *
 * {@link #kill} and {@link #restart} crash and start one service ({@code scripts/stack kill}, {@code restart}).
 * {@link #start()} never builds: the stack module's own build has made its libraries, and a service
 * whose jar is not built is left out (so {@link #serviceUrls} holds those that run). The logs of the
 * stack are copied to {@code target/stack-logs/<run>/} before the folder is deleted when {@code up}
 * failed, when a process had died by the time of {@link #close()}, when {@code down} failed, when
 * {@link #keepLogs()} was called (a test that failed: see StackSmokeTest), or always with
 * {@code -Dquantflow.stack.keepLogs=true}.
 */
public final class Stack implements AutoCloseable {
    private static final Duration UP_TIMEOUT = Duration.ofMinutes(4);
    private static final Duration DOWN_TIMEOUT = Duration.ofMinutes(2);

    /** The stack's folder (data, logs, pids, stack.properties). */
    public final Path dir;
    /** {@code kafka.bootstrap}: host:port of the broker. */
    public final String bootstrap;
    /** {@code s3.endpoint}: the S3 server (path-style addressing). */
    public final URI s3Endpoint;
    /** {@code s3.region}. */
    public final String s3Region;
    /** {@code s3.accessKey}. */
    public final String accessKey;
    /** {@code s3.secretKey}. */
    public final String secretKey;
    /** {@code work.bucket}: the bucket of the pipeline's intermediate objects. */
    public final String workBucket;
    /** {@code service.<name>.url} by name (fetcher, merger, quantizer, publisher), those that run. */
    public final Map<String, URI> serviceUrls;
    /** All of stack.properties. */
    public final Properties properties;

    private final Path root;
    private final Path target;
    private final Thread shutdownHook;
    private volatile boolean keepLogs = Boolean.getBoolean("quantflow.stack.keepLogs");
    private boolean closed;

    private Stack(Path root, Path target, Path dir, Properties p, Thread shutdownHook) {
        this.root = root;
        this.target = target;
        this.dir = dir;
        this.properties = p;
        this.shutdownHook = shutdownHook;
        this.bootstrap = required(p, "kafka.bootstrap");
        this.s3Endpoint = URI.create(required(p, "s3.endpoint"));
        this.s3Region = required(p, "s3.region");
        this.accessKey = required(p, "s3.accessKey");
        this.secretKey = required(p, "s3.secretKey");
        this.workBucket = required(p, "work.bucket");
        Map<String, URI> urls = new TreeMap<>();
        for (String key : p.stringPropertyNames()) {
            if (key.startsWith("service.") && key.endsWith(".url")) {
                urls.put(key.substring("service.".length(), key.length() - ".url".length()), URI.create(p.getProperty(key)));
            }
        }
        this.serviceUrls = Collections.unmodifiableMap(urls);
    }

    /** A stack in a new folder under target/stack-runs, from what is built (nothing is built). */
    public static Stack start() throws IOException, InterruptedException {
        Path target = targetDir(repoRoot());
        Files.createDirectories(target.resolve("stack-runs"));
        Path dir = Files.createTempDirectory(target.resolve("stack-runs"), "run-");
        return start(dir, "--no-build");
    }

    /**
     * A stack in DIR, which must hold no running stack of another test; {@code upOptions} go to
     * {@code scripts/stack up} ({@code --no-build}, {@code --build}, or none: build what is missing).
     */
    public static Stack start(Path dir, String... upOptions) throws IOException, InterruptedException {
        Path root = repoRoot();
        Path target = targetDir(root);
        Path abs = dir.toAbsolutePath().normalize();
        List<String> args = new ArrayList<>(List.of("up", "--dir", abs.toString()));
        args.addAll(List.of(upOptions));
        // stopped even when the test JVM ends without closing (not when it is killed)
        Thread hook = new Thread(() -> {
            try {
                script(root, List.of("down", "--dir", abs.toString(), "--purge"), DOWN_TIMEOUT);
            } catch (IOException | InterruptedException ignored) {
                // the JVM ends either way
            }
        }, "stack-down");
        Runtime.getRuntime().addShutdownHook(hook);
        Result up = script(root, args, UP_TIMEOUT);
        if (up.exitCode() != 0) {
            Path logs = copyLogs(abs, target);
            Result down = script(root, List.of("down", "--dir", abs.toString(), "--purge"), DOWN_TIMEOUT);
            removeHook(hook);
            throw new IOException("scripts/stack up failed (exit " + up.exitCode() + ")"
                    + (logs == null ? "" : "; logs copied to " + logs) + "\n--- up:\n" + up.output() + (down.exitCode() == 0 ? "" : "\n--- down:\n" + down.output()));
        }
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(abs.resolve("stack.properties"))) {
            p.load(in);
        }
        return new Stack(root, target, abs, p, hook);
    }

    /** What {@code scripts/stack status} says, and its exit status (0: every process runs and answers). */
    public Result status() throws IOException, InterruptedException {
        return script(root, List.of("status", "--dir", dir.toString()), Duration.ofSeconds(30));
    }

    /**
     * Kills a service with SIGKILL, as a crash would ({@code scripts/stack kill SERVICE}): no shutdown
     * hook runs, nothing is committed or aborted. It stays stopped until {@link #restart}; a stack
     * closed with a service stopped throws from {@link #close()}.
     */
    public void kill(String service) throws IOException, InterruptedException {
        check(script(root, List.of("kill", service, "--dir", dir.toString()), Duration.ofMinutes(1)), "kill " + service);
    }

    /**
     * Stops a service if it runs (SIGTERM, SIGKILL after 20 s) and starts it again as {@code up} did,
     * waiting until it is ready ({@code scripts/stack restart SERVICE}).
     */
    public void restart(String service) throws IOException, InterruptedException {
        restart(service, false);
    }

    /** {@link #restart(String)}; with {@code kill}, SIGKILL at once ({@code restart --kill}: a crash, then a start). */
    public void restart(String service, boolean kill) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("restart", service, "--dir", dir.toString()));
        if (kill) {
            args.add("--kill");
        }
        check(script(root, args, Duration.ofMinutes(4)), "restart " + service);
    }

    private static void check(Result r, String what) throws IOException {
        if (r.exitCode() != 0) {
            throw new IOException("scripts/stack " + what + " failed (exit " + r.exitCode() + ")\n" + r.output());
        }
    }

    /** The logs are copied to target/stack-logs when this stack is closed (call it when a test fails). */
    public void keepLogs() {
        keepLogs = true;
    }

    public Path logs() {
        return dir.resolve("logs");
    }

    /** The environment scripts/stack gives each service (less its own port and work folder). */
    public Map<String, String> environment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("KAFKA_BOOTSTRAP_SERVERS", bootstrap);
        env.put("AWS_ENDPOINT_URL_S3", s3Endpoint.toString());
        env.put("AWS_ACCESS_KEY_ID", accessKey);
        env.put("AWS_SECRET_ACCESS_KEY", secretKey);
        env.put("AWS_REGION", s3Region);
        env.put("QUANTFLOW_WORK_BUCKET", workBucket);
        return env;
    }

    /** A client of the stack's S3 server (path-style, over url-connection-client, as services/core builds its own). */
    public S3Client s3Client() {
        return S3Client.builder()
                .httpClient(UrlConnectionHttpClient.builder().socketTimeout(Duration.ofSeconds(60)).build())
                .endpointOverride(s3Endpoint)
                .region(Region.of(s3Region))
                .forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey, secretKey)))
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .build();
    }

    /** What a run of the quantflow command printed, and its exit status. */
    public record Run(int exit, String out, String err) {
    }

    /**
     * The quantflow command as users run it: its jar (built by services/cli before this module) in its
     * own JVM, pointed at this stack by QUANTFLOW_STACK_FILE, with its cache under the stack's folder.
     */
    public Run quantflow(String... args) throws IOException, InterruptedException {
        Path jar = Path.of(System.getProperty("quantflow.cli.jar", "../cli/target/quantflow.jar"));
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("the quantflow command is built first: " + jar);
        }
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-jar", jar.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("QUANTFLOW_STACK_FILE", dir.resolve("stack.properties").toString());
        pb.environment().put("QUANTFLOW_CACHE", dir.resolve("cli-cache").toString());
        Path out = Files.createTempFile(dir, "qf-out", ".txt");
        Path err = Files.createTempFile(dir, "qf-err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("quantflow " + String.join(" ", args) + " ran past 5 minutes");
        }
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    /** The keys under a prefix of one of the stack's buckets, sorted (every page of the listing). */
    public List<String> keys(String bucket, String prefix) {
        try (S3Client s3 = s3Client()) {
            return s3.listObjectsV2Paginator(r -> r.bucket(bucket).prefix(prefix)).contents().stream().map(S3Object::key).sorted().toList();
        }
    }

    /** Sends one record to a topic of the stack's broker and waits until the broker has it. */
    public void send(String topic, String key, String value) throws Exception {
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        try (var producer = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>(topic, key, value)).get(30, TimeUnit.SECONDS);
        }
    }

    /** The sha256 of a stream's bytes, in hex. */
    public static String sha256(InputStream in) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            int r;
            while ((r = in.read(buf)) > 0) {
                md.update(buf, 0, r);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Stops the stack and deletes its folder, first copying its logs when they are to be kept. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while stopping the stack in " + dir, e);
        }
    }

    private void stop() throws IOException, InterruptedException {
        Result status = status();
        Path logs = status.exitCode() != 0 || keepLogs ? copyLogs(dir, target) : null;
        Result down = script(root, List.of("down", "--dir", dir.toString(), "--purge"), DOWN_TIMEOUT);
        removeHook(shutdownHook);
        if (down.exitCode() != 0) {
            logs = Files.isDirectory(dir) ? copyLogs(dir, target) : logs;
            throw new IOException("scripts/stack down failed (exit " + down.exitCode() + ")"
                    + (logs == null ? "" : "; logs copied to " + logs) + "\n" + down.output());
        }
        if (status.exitCode() != 0) {
            throw new IOException("a process of the stack had stopped before close"
                    + (logs == null ? "" : "; logs copied to " + logs) + "\n" + status.output());
        }
    }

    /** The exit status and output (stdout and stderr together) of one run of scripts/stack. */
    public record Result(int exitCode, String output) {
    }

    // ------------------------------------------------------------------------------------------

    private static Result script(Path root, List<String> args, Duration timeout) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add("bash");
        command.add(root.resolve("scripts/stack").toString());
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).directory(root.toFile()).redirectErrorStream(true);
        // the JDK that runs the tests runs the stack too
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        p.getOutputStream().close();
        // read on another thread: the script's output is small, but waitFor must be able to time out
        StringBuilder out = new StringBuilder();
        Thread reader = new Thread(() -> {
            try (InputStream in = p.getInputStream()) {
                String s = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                synchronized (out) {
                    out.append(s);
                }
            } catch (IOException e) {
                synchronized (out) {
                    out.append("\n(reading the output failed: ").append(e).append(')');
                }
            }
        }, "stack-output");
        reader.setDaemon(true);
        reader.start();
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
            p.waitFor(30, TimeUnit.SECONDS);
            reader.join(5000);
            synchronized (out) {
                return new Result(124, out + "\n(scripts/stack " + args.get(0) + " timed out after " + timeout + ")");
            }
        }
        reader.join(10_000);
        synchronized (out) {
            return new Result(p.exitValue(), out.toString());
        }
    }

    /** Copies DIR/logs to target/stack-logs/<DIR's name>/ and says where, or returns null when there are none. */
    private static Path copyLogs(Path dir, Path target) throws IOException {
        Path from = dir.resolve("logs");
        Path to = target.resolve("stack-logs").resolve(dir.getFileName().toString());
        if (!Files.isDirectory(from)) {
            return null;
        }
        Files.createDirectories(to);
        try (Stream<Path> s = Files.walk(from)) {
            for (Path f : (Iterable<Path>) s.sorted(Comparator.naturalOrder())::iterator) {
                Path dest = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(dest);
                } else {
                    Files.copy(f, dest, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        return to;
    }

    private static void removeHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException ignored) {
            // the JVM is ending: the hook runs anyway
        }
    }

    private static String required(Properties p, String key) {
        String v = p.getProperty(key);
        if (v == null || v.isBlank()) {
            throw new IllegalStateException("stack.properties has no " + key);
        }
        return v.trim();
    }

    /** The checkout: the nearest folder above the working directory that holds mvnw. */
    static Path repoRoot() {
        Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path d = p; d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("mvnw")) && Files.isRegularFile(d.resolve("scripts/stack"))) {
                return d;
            }
        }
        throw new IllegalStateException("no folder with mvnw and scripts/stack above " + p);
    }

    /** services/stack/target (surefire says where), where runs and kept logs go. */
    private static Path targetDir(Path root) {
        String t = System.getProperty("quantflow.stack.target");
        return t != null ? Path.of(t) : root.resolve("services/stack/target");
    }
}
