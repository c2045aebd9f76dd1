package io.quantflow.stack;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.TopicExistsException;

import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The steps of {@code scripts/stack up} that bash cannot do well, each a subcommand run in one
 * short-lived JVM on the broker's classpath (so the Kafka client is the broker's own version):
 *
 * <pre>
 *   ports N                                     N distinct free TCP ports on 127.0.0.1, one a line
 *   kafka PID BOOTSTRAP TIMEOUT_S [TOPIC:PARTITIONS]...
 *                                               waits for the broker to answer, creates the topics it
 *                                               lacks (replication 1), waits until every partition
 *                                               of them has a leader
 *   s3 PID ENDPOINT TIMEOUT_S BUCKET...         waits for the S3 server to answer, creates each bucket
 *                                               it lacks and checks that it is there (signed requests;
 *                                               the keys come from QUANTFLOW_S3_ACCESS_KEY and
 *                                               QUANTFLOW_S3_SECRET_KEY, never the command line)
 *   ready TIMEOUT_S NAME,PID,URL...             waits until each URL answers 200, or its process
 *                                               ends; prints one line per name
 * </pre>
 *
 * PID is the server's process: the wait ends as soon as it has ended (0: no process to watch).
 *
 * Exit status 0 when the step succeeded, 1 when it failed (the reason on stderr), 2 on a usage error.
 */
public final class StackAdmin {
    private StackAdmin() {
    }

    public static void main(String[] args) {
        int status;
        try {
            status = run(args, System.out, System.err);
        } catch (UsageException e) {
            System.err.println("stack-admin: " + e.getMessage());
            status = 2;
        } catch (Exception e) {
            System.err.println("stack-admin: " + e);
            status = 1;
        }
        System.out.flush();
        // the Kafka admin client's threads are daemons, but exit at once either way
        Runtime.getRuntime().halt(status);
    }

    static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        if (args.length == 0) {
            throw new UsageException("usage: ports N | kafka PID BOOTSTRAP TIMEOUT_S [TOPIC:PARTITIONS]... | "
                    + "s3 PID ENDPOINT TIMEOUT_S BUCKET... | ready TIMEOUT_S NAME,PID,URL...");
        }
        List<String> rest = List.of(args).subList(1, args.length);
        return switch (args[0]) {
            case "ports" -> ports(rest, out);
            case "kafka" -> kafka(rest, out, err);
            case "s3" -> s3(rest, out, err);
            case "ready" -> ready(rest, out, err);
            default -> throw new UsageException("unknown command " + args[0]);
        };
    }

    // ---------------------------------------------------------------- ports

    static int ports(List<String> args, PrintStream out) throws IOException {
        if (args.size() != 1) {
            throw new UsageException("usage: ports N");
        }
        int n = positive(args.get(0), "N");
        // all held open together, so that the N are distinct; the caller binds them moments later
        List<ServerSocket> sockets = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket();
                s.setReuseAddress(false);
                s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1);
                sockets.add(s);
            }
            for (ServerSocket s : sockets) {
                out.println(s.getLocalPort());
            }
        } finally {
            for (ServerSocket s : sockets) {
                s.close();
            }
        }
        return 0;
    }

    // ---------------------------------------------------------------- kafka

    static int kafka(List<String> args, PrintStream out, PrintStream err) throws Exception {
        if (args.size() < 3) {
            throw new UsageException("usage: kafka PID BOOTSTRAP TIMEOUT_S [TOPIC:PARTITIONS]...");
        }
        long pid = pid(args.get(0));
        String bootstrap = args.get(1);
        long deadline = deadline(positive(args.get(2), "TIMEOUT_S"));
        Map<String, Integer> wanted = new LinkedHashMap<>();
        for (String spec : args.subList(3, args.size())) {
            int colon = spec.lastIndexOf(':');
            if (colon <= 0) {
                throw new UsageException("topic " + spec + ": expected NAME:PARTITIONS");
            }
            wanted.put(spec.substring(0, colon), positive(spec.substring(colon + 1), "PARTITIONS of " + spec));
        }

        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "quantflow-stack");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 5000);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 10000);
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, 100);
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
        try (Admin admin = Admin.create(props)) {
            // 1. the broker answers, and knows itself and its controller
            Exception last = null;
            while (true) {
                try {
                    var cluster = admin.describeCluster();
                    int nodes = cluster.nodes().get(2, TimeUnit.SECONDS).size();
                    String id = cluster.clusterId().get(2, TimeUnit.SECONDS);
                    if (nodes > 0 && id != null) {
                        break;
                    }
                } catch (ExecutionException | TimeoutException e) {
                    last = e;
                }
                if (!alive(pid)) {
                    err.println("stack-admin: the broker (pid " + pid + ") ended before it answered");
                    return 1;
                }
                if (System.nanoTime() > deadline) {
                    err.println("stack-admin: the broker at " + bootstrap + " did not answer in time"
                            + (last == null ? "" : ": " + cause(last)));
                    return 1;
                }
                Thread.sleep(200);
            }

            // 2. the topics it lacks
            Set<String> existing = admin.listTopics().names().get(10, TimeUnit.SECONDS);
            List<NewTopic> create = new ArrayList<>();
            for (var e : wanted.entrySet()) {
                if (!existing.contains(e.getKey())) {
                    create.add(new NewTopic(e.getKey(), e.getValue(), (short) 1));
                }
            }
            if (!create.isEmpty()) {
                for (var e : admin.createTopics(create).values().entrySet()) {
                    try {
                        e.getValue().get(30, TimeUnit.SECONDS);
                    } catch (ExecutionException x) {
                        if (!(x.getCause() instanceof TopicExistsException)) {
                            err.println("stack-admin: creating topic " + e.getKey() + ": " + cause(x));
                            return 1;
                        }
                    }
                }
            }

            // 3. every partition of them led (a producer's first send then goes through at once)
            while (!wanted.isEmpty()) {
                List<String> pending = new ArrayList<>();
                try {
                    Map<String, TopicDescription> d = admin.describeTopics(wanted.keySet()).allTopicNames()
                            .get(5, TimeUnit.SECONDS);
                    for (var e : wanted.entrySet()) {
                        TopicDescription t = d.get(e.getKey());
                        if (t == null || t.partitions().size() < e.getValue()
                                || t.partitions().stream().map(TopicPartitionInfo::leader).anyMatch(l -> l == null || l.isEmpty())) {
                            pending.add(e.getKey());
                        } else if (t.partitions().size() != e.getValue()) {
                            err.println("stack-admin: topic " + e.getKey() + " has " + t.partitions().size()
                                    + " partitions, not " + e.getValue() + " (made by someone else?)");
                        }
                    }
                } catch (ExecutionException | TimeoutException e) {
                    pending.add(String.valueOf(cause(e)));
                }
                if (pending.isEmpty()) {
                    break;
                }
                if (System.nanoTime() > deadline) {
                    err.println("stack-admin: topics without a leader in time: " + pending);
                    return 1;
                }
                Thread.sleep(200);
            }
            out.println("kafka: " + bootstrap + ", " + wanted.size() + " topics ready ("
                    + create.size() + " created)");
        }
        return 0;
    }

    // ---------------------------------------------------------------- s3

    static int s3(List<String> args, PrintStream out, PrintStream err) throws Exception {
        if (args.size() < 3) {
            throw new UsageException("usage: s3 PID ENDPOINT TIMEOUT_S BUCKET...");
        }
        long pid = pid(args.get(0));
        String endpoint = args.get(1).replaceAll("/+$", "");
        long deadline = deadline(positive(args.get(2), "TIMEOUT_S"));
        String access = System.getenv("QUANTFLOW_S3_ACCESS_KEY");
        String secret = System.getenv("QUANTFLOW_S3_SECRET_KEY");
        if (access == null || secret == null) {
            throw new UsageException("QUANTFLOW_S3_ACCESS_KEY and QUANTFLOW_S3_SECRET_KEY must be set");
        }
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        List<String> buckets = args.subList(3, args.size());
        for (String bucket : buckets) {
            int code;
            while (true) {
                try {
                    code = signed(http, "HEAD", endpoint, bucket, access, secret).statusCode();
                    break;
                } catch (ConnectException e) {
                    if (!alive(pid)) {
                        err.println("stack-admin: the S3 server (pid " + pid + ") ended before it answered");
                        return 1;
                    }
                    if (System.nanoTime() > deadline) {
                        err.println("stack-admin: the S3 server at " + endpoint + " did not answer in time");
                        return 1;
                    }
                    Thread.sleep(200);
                }
            }
            if (code == 404) {
                HttpResponse<String> put = signed(http, "PUT", endpoint, bucket, access, secret);
                if (put.statusCode() / 100 != 2) {
                    err.println("stack-admin: creating bucket " + bucket + ": HTTP " + put.statusCode() + " " + put.body());
                    return 1;
                }
                code = signed(http, "HEAD", endpoint, bucket, access, secret).statusCode();
            }
            if (code != 200) {
                err.println("stack-admin: bucket " + bucket + " at " + endpoint + ": HTTP " + code
                        + (code == 403 ? " (the keys are not the server's)" : ""));
                return 1;
            }
        }
        out.println("s3: " + endpoint + ", buckets " + String.join(", ", buckets) + " ready");
        return 0;
    }

    /** A path-style request on a bucket, signed with AWS signature version 2 (S3Proxy's aws-v2-or-v4 takes it). */
    private static HttpResponse<String> signed(HttpClient http, String method, String endpoint, String bucket,
                                               String access, String secret) throws IOException, InterruptedException {
        String date = DateTimeFormatter.RFC_1123_DATE_TIME.withLocale(Locale.ROOT)
                .format(ZonedDateTime.now(ZoneOffset.UTC));
        String toSign = method + "\n\n\n\nx-amz-date:" + date + "\n/" + bucket;
        String signature;
        try {
            Mac mac = Mac.getInstance("HmacSHA1");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA1"));
            signature = Base64.getEncoder().encodeToString(mac.doFinal(toSign.getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        HttpRequest request = HttpRequest.newBuilder(URI.create(endpoint + "/" + bucket))
                .timeout(Duration.ofSeconds(10))
                .header("x-amz-date", date)
                .header("Authorization", "AWS " + access + ":" + signature)
                .method(method, HttpRequest.BodyPublishers.noBody())
                .build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    // ---------------------------------------------------------------- ready

    static int ready(List<String> args, PrintStream out, PrintStream err) throws Exception {
        if (args.isEmpty()) {
            throw new UsageException("usage: ready TIMEOUT_S NAME,PID,URL...");
        }
        long start = System.nanoTime();
        long deadline = deadline(positive(args.get(0), "TIMEOUT_S"));
        record Target(String name, long pid, URI url) {
        }
        List<Target> pending = new ArrayList<>();
        for (String spec : args.subList(1, args.size())) {
            String[] p = spec.split(",", 3);
            if (p.length != 3) {
                throw new UsageException(spec + ": expected NAME,PID,URL");
            }
            pending.add(new Target(p[0], pid(p[1]), URI.create(p[2])));
        }
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        int failed = 0;
        while (!pending.isEmpty()) {
            for (var it = pending.iterator(); it.hasNext(); ) {
                Target t = it.next();
                int code = -1;
                try {
                    code = http.send(HttpRequest.newBuilder(t.url()).timeout(Duration.ofSeconds(5)).GET().build(),
                            HttpResponse.BodyHandlers.discarding()).statusCode();
                } catch (IOException e) {
                    // not listening yet
                }
                if (code == 200) {
                    out.printf(Locale.ROOT, "%s: ready after %.1f s%n", t.name(), (System.nanoTime() - start) / 1e9);
                    it.remove();
                } else if (!alive(t.pid())) {
                    err.println("stack-admin: " + t.name() + " (pid " + t.pid() + ") ended before it was ready");
                    failed++;
                    it.remove();
                }
            }
            if (pending.isEmpty()) {
                break;
            }
            if (System.nanoTime() > deadline) {
                for (Target t : pending) {
                    err.println("stack-admin: " + t.name() + " not ready in time: " + t.url() + " never answered 200");
                    failed++;
                }
                break;
            }
            Thread.sleep(250);
        }
        return failed == 0 ? 0 : 1;
    }

    // ---------------------------------------------------------------- helpers

    private static long pid(String s) {
        try {
            long pid = Long.parseLong(s);
            if (pid >= 0) {
                return pid;
            }
        } catch (NumberFormatException ignored) {
            // below
        }
        throw new UsageException("PID must be a process id or 0, not " + s);
    }

    /** Does the process still run (0: no process is watched)? */
    private static boolean alive(long pid) {
        return pid == 0 || ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    private static long deadline(int seconds) {
        return System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    }

    private static int positive(String s, String what) {
        try {
            int n = Integer.parseInt(s);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // below
        }
        throw new UsageException(what + " must be a positive number, not " + s);
    }

    private static Object cause(Exception e) {
        return e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
    }

    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }
}
