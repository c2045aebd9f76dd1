package io.quantflow.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The quantflow command as a user runs it: arguments in, files, stdout, stderr and an exit code out. */
class CliTest {
    @TempDir
    Path tmp;

    record Run(int exit, String out, String err) {
    }

    static synchronized Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = QuantflowCommand.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static Path fixture(String rel) {
        String prop = System.getProperty("quantflow.fixtures");
        Path p = prop != null ? Path.of(prop) : Path.of("../../../shared/fixtures");
        Assumptions.assumeTrue(Files.isDirectory(p), "reference fixtures not found at " + p + ": skipping");
        return p.resolve(rel).toAbsolutePath().normalize();
    }

    private Path tinyModel() {
        Path src = tmp.resolve("tiny");
        Run r = run("synth", "--shape", "tiny-llama", "--out", src.toString(), "--seed", "7");
        assertEquals(0, r.exit(), r.err());
        return src;
    }

    @Test
    void convertsTheFixtureAndWritesAManifest() throws IOException {
        Path out = tmp.resolve("nf4");
        Run r = run("convert", fixture("tiny-llama/base-bf16").toString(), "--out", out.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("14 tensors quantized"), r.out());
        Manifest m = Manifest.read(out.resolve(Manifest.FILE_NAME));
        assertEquals("nf4", m.options().quantType());
        assertTrue(m.options().doubleQuant());
        assertEquals(List.of(), leftovers());
    }

    @Test
    void convertsToCompressedTensorsForVllmAndReportsIt() throws IOException {
        Path out = tmp.resolve("ct");
        Run r = run("convert", fixture("tiny-llama/base-bf16").toString(), "--out", out.toString(),
                "--format", "ct-fp8-dynamic,ct-nvfp4a16", "--skip-modules", "mlp.down_proj");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("(ct-fp8-dynamic, weights in fp8-e4m3)"), r.out());
        assertTrue(r.out().contains("(ct-nvfp4a16, weights in nvfp4)"), r.out());
        assertTrue(r.out().contains("12 tensors quantized"), r.out());
        String config = Files.readString(out.resolve("ct-nvfp4a16/config.json"));
        assertTrue(config.contains("\"quant_method\": \"compressed-tensors\"") && config.contains("mlp\\\\.down_proj"), config);
        assertTrue(Files.readString(out.resolve("ct-fp8-dynamic/README.md")).contains("python -m sglang.launch_server"));
        Run report = run("report", out.resolve("ct-nvfp4a16").toString(), "--html", tmp.resolve("r.html").toString(),
                "--png", tmp.resolve("r.png").toString());
        assertEquals(0, report.exit(), report.err());
        assertTrue(report.out().contains("nvfp4"), report.out());
        assertEquals(List.of(), leftovers());
    }

    @Test
    void aNonEmptyTargetIsRefusedAndLeftUntouched() throws IOException {
        Path src = tinyModel();
        Path out = Files.createDirectories(tmp.resolve("taken"));
        Files.writeString(out.resolve("keep.txt"), "mine");
        Run r = run("convert", src.toString(), "--out", out.toString());
        assertEquals(3, r.exit());
        assertOneLineError(r, "TARGET_EXISTS");
        try (Stream<Path> s = Files.list(out)) {
            assertEquals(List.of(out.resolve("keep.txt")), s.toList());
        }
        assertEquals("mine", Files.readString(out.resolve("keep.txt")));

        Run again = run("convert", src.toString(), "--out", out.toString(), "--if-exists", "overwrite");
        assertEquals(0, again.exit(), again.err());
        assertFalse(Files.exists(out.resolve("keep.txt")));
        assertTrue(Files.exists(out.resolve(Manifest.FILE_NAME)));
        assertEquals(List.of(), leftovers());
    }

    @Test
    void anEmptyTargetDirectoryIsUsed() throws IOException {
        Path src = tinyModel();
        Path out = Files.createDirectories(tmp.resolve("empty"));
        assertEquals(0, run("convert", src.toString(), "--out", out.toString()).exit());
        assertTrue(Files.exists(out.resolve("model.safetensors")));
    }

    @Test
    void malformedWeightsGetOneLineAndNoOutput() throws IOException {
        Path src = tinyModel();
        Path weights = src.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(weights);
        Files.write(weights, Arrays.copyOf(all, all.length - 100));
        Path out = tmp.resolve("never");
        Run r = run("convert", src.toString(), "--out", out.toString());
        assertEquals(3, r.exit());
        assertOneLineError(r, "INVALID_CHECKPOINT");
        assertTrue(r.err().contains("model.safetensors"), r.err());
        assertFalse(Files.exists(out));
        assertEquals(List.of(), leftovers());
    }

    @Test
    void picklesAreRefused() throws IOException {
        Path src = Files.createDirectories(tmp.resolve("pickled"));
        Files.writeString(src.resolve("config.json"), "{}");
        Files.write(src.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2});
        Run r = run("convert", src.toString(), "--out", tmp.resolve("x").toString());
        assertEquals(3, r.exit());
        assertOneLineError(r, "UNSUPPORTED_MODEL");
        assertTrue(r.err().contains("pickle"), r.err());
    }

    @Test
    void missingSourceAndGpuWithoutCudaAreErrors() {
        Run r = run("convert", tmp.resolve("nothing").toString(), "--out", tmp.resolve("x").toString());
        assertEquals(3, r.exit());
        assertOneLineError(r, "SOURCE_NOT_FOUND");
        Run gpu = run("convert", tmp.resolve("nothing").toString(), "--out", tmp.resolve("x").toString(), "--device", "gpu");
        assertEquals(3, gpu.exit());
        assertOneLineError(gpu, "INVALID_REQUEST");
        assertTrue(gpu.err().contains("no CUDA device"), gpu.err());
        assertEquals(1, gpu.err().strip().lines().count(), "one line: " + gpu.err());
    }

    @Test
    void usageMistakesExitTwo() {
        for (String[] args : List.of(
                new String[] {"convert", "x", "--out", "y", "--blocksize", "100"},
                new String[] {"convert", "x", "--out", "y", "--quant-type", "int3"},
                new String[] {"convert", "x"},
                new String[] {"convert", "x", "--out", "y", "--if-exists", "maybe"},
                new String[] {"convert", "x", "--out", "y", "--device", "tpu"},
                new String[] {"frobnicate"})) {
            Run r = run(args);
            assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.err());
            assertTrue(r.err().startsWith("error: "), r.err());
            assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        }
    }

    @Test
    void shardedModelsKeepTheirShardsAndIndex() throws IOException {
        Path src = tmp.resolve("sharded");
        Run s = run("synth", "--shape", "tiny-llama", "--out", src.toString(), "--max-shard-size", "1000000");
        assertEquals(0, s.exit(), s.err());
        List<String> shards;
        try (Stream<Path> l = Files.list(src)) {
            shards = l.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".safetensors")).sorted().toList();
        }
        assertTrue(shards.size() >= 3, "synth made " + shards);
        Path out = tmp.resolve("sharded-nf4");
        Run c = run("convert", src.toString(), "--out", out.toString());
        assertEquals(0, c.exit(), c.err());
        JsonNode index = new ObjectMapper().readTree(out.resolve("model.safetensors.index.json").toFile());
        long total = 0;
        int tensors = 0;
        for (String shard : shards) {
            try (SafetensorsFile f = SafetensorsFile.open(out.resolve(shard))) {
                for (TensorInfo t : f.header().tensors()) {
                    assertEquals(shard, index.get("weight_map").get(t.name()).asText(), t.name());
                    tensors++;
                }
                total += f.header().dataLength();
            }
        }
        assertEquals(tensors, index.get("weight_map").size());
        assertEquals(total, index.get("metadata").get("total_size").asLong());

        // the same request writes the same bytes
        Path again = tmp.resolve("sharded-nf4-again");
        assertEquals(0, run("convert", src.toString(), "--out", again.toString(), "--threads", "1").exit());
        assertEquals(Manifest.read(out.resolve(Manifest.FILE_NAME)).files(), Manifest.read(again.resolve(Manifest.FILE_NAME)).files());
    }

    @Test
    void skippedModulesStayIn16BitAndAreListedWithLmHead() throws IOException {
        Path src = tinyModel();
        Path out = tmp.resolve("skip");
        Run r = run("convert", src.toString(), "--out", out.toString(), "--skip-modules", "mlp.down_proj,model.layers.1.self_attn.q_proj");
        assertEquals(0, r.exit(), r.err());
        try (SafetensorsFile f = SafetensorsFile.open(out.resolve("model.safetensors"))) {
            assertEquals(DType.BF16, f.header().tensor("model.layers.0.mlp.down_proj.weight").dtype());
            assertEquals(DType.BF16, f.header().tensor("model.layers.1.self_attn.q_proj.weight").dtype());
            assertEquals(DType.U8, f.header().tensor("model.layers.0.self_attn.q_proj.weight").dtype());
            assertFalse(f.header().contains("model.layers.0.mlp.down_proj.weight.absmax"));
        }
        JsonNode q = new ObjectMapper().readTree(out.resolve("config.json").toFile()).get("quantization_config");
        assertEquals("[\"mlp.down_proj\",\"model.layers.1.self_attn.q_proj\",\"lm_head\"]", q.get("llm_int8_skip_modules").toString());
    }

    @Test
    void inspectShowsTensorsAndSizes() {
        Run r = run("inspect", fixture("tiny-llama/base-bf16").toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("model.layers.1.mlp.down_proj.weight"), r.out());
        assertTrue(r.out().contains("1.96M parameters") || r.out().contains("2.0M parameters"), r.out());
        assertTrue(r.out().contains("bnb-4bit nf4+double quant"), r.out());
    }

    private static void assertOneLineError(Run r, String code) {
        String err = r.err().strip();
        assertEquals(1, err.lines().count(), "one line: " + err);
        assertTrue(err.startsWith("error: " + code + ": "), err);
    }

    /** Staging directories left beside targets (there must be none). */
    private List<String> leftovers() throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(tmp)) {
            s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).forEach(out::add);
        }
        return out;
    }
}
