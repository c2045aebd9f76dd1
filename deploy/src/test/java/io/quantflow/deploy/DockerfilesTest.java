package io.quantflow.deploy;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each service's src/main/docker/Dockerfile.jvm passes {@link DockerfileChecks}, and broken copies do not. */
class DockerfilesTest {
    private static final Repo REPO = Repo.locate();

    private static String dockerfile(String service) {
        return REPO.read("services/" + service + "/src/main/docker/Dockerfile.jvm");
    }

    @TestFactory
    Stream<DynamicTest> everyServiceHasAGoodDockerfile() {
        return Pipeline.SERVICES.stream().map(s -> DynamicTest.dynamicTest(s.name(), () -> {
            List<String> problems = DockerfileChecks.check(s.name(), dockerfile(s.name()));
            assertTrue(problems.isEmpty(), problems.toString());
        }));
    }

    record Broken(String service, String says, UnaryOperator<String> change) {
    }

    @TestFactory
    Stream<DynamicTest> brokenCopiesFail() {
        List<Broken> broken = List.of(
                new Broken("fetcher", "is not pinned", t -> t.replace("openjdk-21-runtime:1.24", "openjdk-21-runtime:latest")),
                new Broken("merger", "not registry.access.redhat.com/ubi9/openjdk-21-runtime",
                        t -> t.replace("registry.access.redhat.com/ubi9/openjdk-21-runtime:1.24", "eclipse-temurin:21.0.8_9-jre-noble")),
                new Broken("publisher", "not a non-root USER", t -> t.replace("USER 185", "USER root")),
                new Broken("publisher", "does not EXPOSE 8080", t -> t.replace("EXPOSE 8080", "EXPOSE 8081")),
                new Broken("fetcher", "does not copy the fast-jar's lib/", t -> t.replace("target/quarkus-app/lib/ /deployments/lib/", "target/lib/ /deployments/lib/")),
                new Broken("quantizer", "not nvidia/cuda", t -> t.replace("nvidia/cuda:12.6.3-base-ubuntu24.04", "ubuntu:24.04")),
                new Broken("quantizer", "not nvidia/cuda", t -> t.replace("nvidia/cuda:12.6.3-base-ubuntu24.04", "nvidia/cuda:11.8.0-base-ubuntu22.04")),
                new Broken("quantizer", "no Java 21 runtime", t -> t.replace("COPY --from=jre /opt/java/openjdk /opt/java/openjdk", "")),
                new Broken("quantizer", "is not pinned", t -> t.replace("eclipse-temurin:21.0.8_9-jre-noble", "eclipse-temurin")),
                new Broken("quantizer", "not a non-root USER", t -> t.replace("USER 185", "")),
                new Broken("merger", "jdk.incubator.vector", t -> t.replace("--add-modules=jdk.incubator.vector ", "")));
        return broken.stream().map(b -> DynamicTest.dynamicTest(b.service() + ": " + b.says(), () -> {
            String original = dockerfile(b.service());
            String changed = b.change().apply(original);
            assertTrue(!changed.equals(original), "the change did not apply: the broken copy is out of date");
            List<String> problems = DockerfileChecks.check(b.service(), changed);
            assertTrue(problems.stream().anyMatch(p -> p.contains(b.says())), "not rejected for " + b.says() + ": " + problems);
        }));
    }
}
