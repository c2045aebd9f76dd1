package io.quantflow.cli;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

/**
 * Where the pipeline is: the Kafka bootstrap servers, the S3 endpoint and keys, the work bucket, as
 * {@code scripts/stack up} writes them to {@code .stack/stack.properties}. Options and the AWS_*
 * environment take precedence over the file.
 */
record StackEndpoints(String bootstrap, Map<String, String> s3Environment, String workBucket, Path file) {

    static StackEndpoints resolve(Path file, String bootstrap, Map<String, String> env) {
        Path f = file;
        if (f == null && env.get("QUANTFLOW_STACK_FILE") != null) {
            f = Path.of(env.get("QUANTFLOW_STACK_FILE"));
        }
        if (f == null) {
            Path here = Path.of(".stack", "stack.properties");
            Path home = env.get("QUANTFLOW_HOME") == null ? null : Path.of(env.get("QUANTFLOW_HOME"), ".stack", "stack.properties");
            f = Files.isRegularFile(here) || home == null ? here : home;
        }
        Properties p = new Properties();
        if (Files.isRegularFile(f)) {
            try (Reader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
                p.load(r);
            } catch (IOException e) {
                throw QuantflowException.of(Reason.STACK_UNAVAILABLE, "cannot read " + f + ": " + e.getMessage());
            }
        } else if (file != null) {
            throw QuantflowException.of(Reason.STACK_UNAVAILABLE, file + ": no such file (scripts/stack up writes .stack/stack.properties)");
        }
        String kafka = bootstrap != null ? bootstrap : p.getProperty("kafka.bootstrap");
        if (kafka == null) {
            throw QuantflowException.of(Reason.STACK_UNAVAILABLE, "no Kafka to submit to: start the stack (scripts/stack up) or pass --bootstrap host:port");
        }
        Map<String, String> s3 = new HashMap<>(env);
        if (env.get("AWS_ENDPOINT_URL_S3") == null && env.get("AWS_ENDPOINT_URL") == null && p.getProperty("s3.endpoint") != null) {
            s3.put("AWS_ENDPOINT_URL_S3", p.getProperty("s3.endpoint"));
        }
        if (env.get("AWS_ACCESS_KEY_ID") == null && p.getProperty("s3.accessKey") != null) {
            s3.put("AWS_ACCESS_KEY_ID", p.getProperty("s3.accessKey"));
            s3.put("AWS_SECRET_ACCESS_KEY", p.getProperty("s3.secretKey", ""));
        }
        if (env.get("AWS_REGION") == null && p.getProperty("s3.region") != null) {
            s3.put("AWS_REGION", p.getProperty("s3.region"));
        }
        String bucket = env.getOrDefault("QUANTFLOW_WORK_BUCKET", p.getProperty("work.bucket", "quantflow-work"));
        return new StackEndpoints(kafka, Map.copyOf(s3), bucket, f);
    }
}
