package io.quantflow.deploy;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks of the services' Dockerfile.jvm (they are not built here): pinned base images, the Quarkus
 * fast-jar layout, port 8080, a non-root user; the quantizer on a CUDA base image with a Java 21
 * runtime copied in.
 */
final class DockerfileChecks {
    private DockerfileChecks() {
    }

    static final String UBI_RUNTIME = "registry.access.redhat.com/ubi9/openjdk-21-runtime";
    private static final Pattern FROM = Pattern.compile("(?im)^\\s*FROM\\s+(?:--platform=\\S+\\s+)?(\\S+)(?:\\s+AS\\s+(\\S+))?\\s*$");
    private static final Pattern CUDA = Pattern.compile("nvidia/cuda:1[23]\\.[0-9]+(\\.[0-9]+)?-base-ubuntu24\\.04");

    /** The instructions of a Dockerfile with continuation lines joined and comments dropped. */
    static List<String> instructions(String text) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (String line : text.split("\n")) {
            String t = line.strip();
            if (cur.isEmpty() && (t.isEmpty() || t.startsWith("#"))) {
                continue;
            }
            if (t.startsWith("#")) {
                continue;
            }
            if (t.endsWith("\\")) {
                cur.append(t, 0, t.length() - 1).append(' ');
            } else {
                cur.append(t);
                out.add(cur.toString());
                cur.setLength(0);
            }
        }
        if (!cur.isEmpty()) {
            out.add(cur.toString());
        }
        return out;
    }

    static List<String> check(String service, String text) {
        List<String> problems = new ArrayList<>();
        List<String> ins = instructions(text);
        List<String> stages = new ArrayList<>();
        List<String> images = new ArrayList<>();
        Matcher m = FROM.matcher(String.join("\n", ins));
        while (m.find()) {
            images.add(m.group(1));
            if (m.group(2) != null) {
                stages.add(m.group(2));
            }
        }
        if (images.isEmpty()) {
            return List.of(service + ": no FROM");
        }
        for (String image : images) {
            if (stages.contains(image)) {
                continue;
            }
            String tag = image.contains("@") ? "digest" : image.lastIndexOf(':') > image.lastIndexOf('/') ? image.substring(image.lastIndexOf(':') + 1) : "";
            if (tag.isEmpty() || tag.equals("latest")) {
                problems.add(service + ": base image " + image + " is not pinned to a tag");
            }
        }
        String last = images.get(images.size() - 1);
        boolean gpu = Pipeline.service(service).gpu();
        if (gpu) {
            if (!CUDA.matcher(last).matches()) {
                problems.add(service + ": runs on " + last + ", not nvidia/cuda:<12.x|13.x>-base-ubuntu24.04");
            }
            boolean javaCopied = ins.stream().anyMatch(i -> i.matches("(?i)COPY\\s+--from=\\S+\\s+/opt/java/openjdk\\s+/opt/java/openjdk.*"));
            boolean temurin21 = images.stream().anyMatch(i -> i.startsWith("eclipse-temurin:21"));
            if (!javaCopied || !temurin21) {
                problems.add(service + ": no Java 21 runtime copied in from eclipse-temurin:21 (/opt/java/openjdk)");
            }
        } else if (!last.startsWith(UBI_RUNTIME + ":")) {
            problems.add(service + ": runs on " + last + ", not " + UBI_RUNTIME);
        }
        for (String dir : List.of("lib/", "app/", "quarkus/")) {
            if (ins.stream().noneMatch(i -> i.matches("(?i)COPY\\s+.*target/quarkus-app/" + dir + "\\s+/deployments/" + dir + ".*"))) {
                problems.add(service + ": does not copy the fast-jar's " + dir + " to /deployments/" + dir);
            }
        }
        if (ins.stream().noneMatch(i -> i.matches("(?i)COPY\\s+.*target/quarkus-app/\\*\\.jar\\s+/deployments/.*"))) {
            problems.add(service + ": does not copy quarkus-run.jar to /deployments/");
        }
        if (ins.stream().noneMatch(i -> i.matches("(?i)EXPOSE\\s+(.*\\s)?8080(/tcp)?(\\s.*)?"))) {
            problems.add(service + ": does not EXPOSE 8080");
        }
        String user = null;
        for (String i : ins) {
            if (i.toUpperCase(Locale.ROOT).startsWith("FROM ")) {
                user = null;
            } else if (i.toUpperCase(Locale.ROOT).startsWith("USER ")) {
                user = i.substring(5).strip();
            }
        }
        if (user == null || user.equals("root") || user.equals("0") || user.startsWith("0:") || user.startsWith("root:")) {
            problems.add(service + ": the final stage runs as " + (user == null ? "the base image's user" : user) + ", not a non-root USER");
        }
        if (ins.stream().noneMatch(i -> i.toUpperCase(Locale.ROOT).startsWith("ENTRYPOINT ") || i.toUpperCase(Locale.ROOT).startsWith("CMD "))) {
            problems.add(service + ": no ENTRYPOINT or CMD");
        }
        if (!text.contains("quarkus-run.jar")) {
            problems.add(service + ": does not run quarkus-run.jar");
        }
        if (!text.contains("jdk.incubator.vector")) {
            problems.add(service + ": the JVM is not given --add-modules=jdk.incubator.vector (the quantizer core's Vector API)");
        }
        return problems;
    }
}
