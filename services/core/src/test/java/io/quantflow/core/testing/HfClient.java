package io.quantflow.core.testing;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The real {@code huggingface_hub} client, run from the virtual environment that
 * {@code scripts/hf-client-venv.sh} creates (.venv-hf at the checkout's top; QF_HF_PYTHON names another
 * interpreter). Without it the tests that need it fail under CI=true and are skipped, saying so, elsewhere.
 */
public final class HfClient {
    private final Path python;
    private final Path script;

    /** What a run printed. */
    public record Result(int exit, String out, String err) {
        public String lastLine() {
            String[] lines = out.strip().split("\n");
            return lines[lines.length - 1].strip();
        }
    }

    private HfClient(Path python, Path script) {
        this.python = python;
        this.script = script;
    }

    /** The client, or the test is failed (CI=true) or skipped with a message saying how to get it. */
    public static HfClient require() {
        String env = System.getenv("QF_HF_PYTHON");
        Path python = env != null && !env.isBlank() ? Path.of(env) : top().resolve(".venv-hf/bin/python");
        Path script = top().resolve("services/core/src/test/resources/hub/hf_client.py");
        String why = null;
        if (!Files.isExecutable(python)) {
            why = "the real huggingface_hub client is missing: no " + python + "; run scripts/hf-client-venv.sh (.ci/run does)";
        } else {
            HfClient c = new HfClient(python, script);
            Result check = c.run(Map.of(), "check");
            if (check.exit() != 0) {
                why = "the huggingface_hub venv " + python + " is not usable: " + check.err().strip();
            }
        }
        if (why == null) {
            return new HfClient(python, script);
        }
        System.err.println("WARNING: " + why);
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            Assertions.fail(why);
        }
        Assumptions.abort("SKIPPED: " + why);
        throw new IllegalStateException();
    }

    private static Path top() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("run-tests"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("not inside the quantflow checkout: " + Path.of("").toAbsolutePath());
        }
        return p;
    }

    /** Runs {@code hf_client.py ARGS} with the environment's additions (HF_ENDPOINT, HF_TOKEN). */
    public Result run(Map<String, String> env, String... args) {
        List<String> cmd = new ArrayList<>(List.of(python.toString(), script.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().keySet().removeIf(k -> k.startsWith("HF_") || k.startsWith("HUGGINGFACE_"));
        pb.environment().put("HF_HUB_DISABLE_TELEMETRY", "1");
        pb.environment().put("HF_HUB_DISABLE_PROGRESS_BARS", "1");
        pb.environment().put("HF_HOME", System.getProperty("java.io.tmpdir") + "/quantflow-hf-home-" + ProcessHandle.current().pid());
        pb.environment().putAll(env);
        try {
            Process p = pb.start();
            p.getOutputStream().close();
            byte[][] outs = new byte[2][];
            Thread t = Thread.ofVirtual().start(() -> outs[1] = readAll(p.getErrorStream()));
            outs[0] = readAll(p.getInputStream());
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException("hf_client.py " + String.join(" ", args) + " did not end in 10 minutes");
            }
            t.join();
            return new Result(p.exitValue(), new String(outs[0], StandardCharsets.UTF_8), new String(outs[1], StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + python, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static byte[] readAll(InputStream in) {
        try (in) {
            return in.readAllBytes();
        } catch (IOException e) {
            return new byte[0];
        }
    }
}
