package io.quantflow.core.pipeline;

import io.quantflow.core.Fixtures;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Device;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.quality.TensorQuality;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.synth.ModelShape;
import io.quantflow.core.synth.SyntheticCheckpoint;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.util.Digests;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pipeline's pieces put together ({@link RequestCheck}, {@link ShardConversion} per shard,
 * {@link ModelFiles}) write the same files as {@link Converter}, byte for byte, and {@link OutputQuality}
 * makes the same quality section, for every format: the tiny Llama of the fixtures as one file and in
 * one shard per layer, its 4-bit base (as one file and in shards, one of which holds no 4-bit weight),
 * and a synthetic model in 1 MB shards.
 */
class PipelineEquivalenceTest {
    @TempDir
    static Path sources;
    @TempDir
    Path tmp;

    private static final Map<String, Path> SOURCES = new TreeMap<>();

    private static final QuantOptions NF4_DQ = QuantOptions.defaults();
    private static final QuantOptions FP4 = new QuantOptions(QuantType.FP4, false, 64, DType.BF16, List.of());
    private static final QuantOptions NF4_BS128_SKIP = new QuantOptions(QuantType.NF4, true, 128, DType.BF16, List.of("down_proj"));
    private static final QuantOptions FP4_BS128 = new QuantOptions(QuantType.FP4, true, 128, DType.F16, List.of());

    /** A source by name, written once for the class. */
    private static synchronized Path source(String name) {
        return SOURCES.computeIfAbsent(name, n -> switch (n) {
            case "tiny" -> Fixtures.path("tiny-llama/base-bf16");
            case "tiny-sharded" -> Resharded.write(Fixtures.path("tiny-llama/base-bf16"), sources.resolve(n));
            case "tiny-4bit" -> Fixtures.path("tiny-llama/base-bnb-nf4-dq");
            case "tiny-4bit-sharded" -> Resharded.write(Fixtures.path("tiny-llama/base-bnb-nf4-dq"), sources.resolve(n));
            case "tiny-fp4" -> Fixtures.path("tiny-llama/base-bnb-fp4");
            case "synthetic-sharded" -> {
                Path dir = sources.resolve(n);
                SyntheticCheckpoint.write(ModelShape.named("tiny-llama"), DType.BF16, 11, dir, 1_000_000, IfExists.FAIL, x -> {
                });
                yield dir;
            }
            default -> throw new IllegalArgumentException(n);
        });
    }

    static Stream<Arguments> bnb4bit() {
        return Stream.of("tiny", "tiny-sharded", "synthetic-sharded").flatMap(s -> Stream.of(
                Arguments.of(s, NF4_DQ), Arguments.of(s, FP4), Arguments.of(s, NF4_BS128_SKIP)));
    }

    static Stream<Arguments> merged() {
        List<OutputFormat> all = List.of(Formats.MERGED_16BIT, Formats.MERGED_4BIT, Formats.LORA);
        List<OutputFormat> merged = List.of(Formats.MERGED_16BIT, Formats.MERGED_4BIT);
        return Stream.of("tiny", "tiny-sharded", "synthetic-sharded", "tiny-4bit", "tiny-4bit-sharded", "tiny-fp4")
                .flatMap(s -> Stream.of(
                        Arguments.of(s, all, NF4_DQ, null),
                        Arguments.of(s, merged, FP4_BS128, DType.F16),
                        Arguments.of(s, List.of(Formats.MERGED_4BIT), FP4, null)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource
    void bnb4bit(String source, QuantOptions quant) throws IOException {
        assertSameFiles(source(source), null, List.of(Formats.BNB_4BIT), quant, null);
    }

    static Stream<Arguments> compressedTensors() {
        return Stream.of("tiny", "tiny-sharded", "synthetic-sharded").flatMap(s -> Stream.of(
                Arguments.of(s, Formats.CT_FP8_DYNAMIC), Arguments.of(s, Formats.CT_FP8_BLOCK), Arguments.of(s, Formats.CT_NVFP4A16)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource
    void compressedTensors(String source, OutputFormat format) throws IOException {
        assertSameFiles(source(source), null, List.of(format), NF4_BS128_SKIP, null);
    }

    @ParameterizedTest(name = "{0} {1} {2} dtype {3}")
    @MethodSource
    void merged(String source, List<OutputFormat> formats, QuantOptions quant, DType dtype) throws IOException {
        assertSameFiles(source(source), Fixtures.path("tiny-llama/lora-adapter"), formats, quant, dtype);
    }

    private void assertSameFiles(Path source, Path adapter, List<OutputFormat> formats, QuantOptions quant, DType dtype)
            throws IOException {
        Path expected = tmp.resolve("converter");
        Converter.Result result = new Converter().convert(new Converter.Request(source, adapter, expected, formats, quant, dtype,
                IfExists.FAIL, 2, Device.CPU), Converter.Listener.NONE);

        List<OutputSpec> outputs = PipelineRun.outputs(adapter, formats, quant, dtype);
        RequestCheck.Summary summary = PipelineRun.check(source, adapter, outputs);
        Path actual = tmp.resolve("pipeline");
        Map<OutputSpec, List<ShardResult>> shards = PipelineRun.convert(source, adapter, outputs, actual);

        assertEquals(hashes(expected), hashes(actual));
        // the check reads a 16-bit model's headers only; a 4-bit model's quant states and maps besides
        boolean base4bit = Checkpoint.readConfig(source.resolve(Checkpoint.CONFIG_FILE)).has("quantization_config");
        long read = PipelineRun.dataBytesRead.get();
        assertTrue(base4bit ? read > 0 && read < 16 * 1024 : read == 0, read + " bytes of tensor data read");
        for (int i = 0; i < outputs.size(); i++) {
            Manifest m = result.manifests().get(i);
            assertSummary(m, summary, i);
            List<ShardResult> results = shards.getOrDefault(outputs.get(i), List.of());
            assertEquals(m.output().quantizedTensors(), results.stream().mapToInt(ShardResult::quantizedCount).sum());
            assertEquals(m.output().keptTensors(), results.stream().mapToInt(ShardResult::keptCount).sum());
            assertEquals(m.output().quantizedParameters(), results.stream().mapToLong(ShardResult::quantizedParameters).sum());
            for (ShardResult r : results) {
                assertEquals(Digests.sha256(actual.resolve(outputs.get(i).subdir()).resolve(r.fileName())), r.sha256());
            }
            if (m.quality() != null) {
                assertSameErrors(m.quality().tensors(), results);
            }
            // the quality section a publisher makes from the results is the converter's
            QualityAssertions.assertSameQuality(m.quality(), outputs.get(i).quantizes() ? OutputQuality.of(results) : null);
        }
    }

    /** The summary the request check gives is what Converter's manifest says of the source and the output. */
    private static void assertSummary(Manifest m, RequestCheck.Summary s, int output) {
        assertEquals(m.source().parameters(), s.parameters());
        assertEquals(m.source().weightBytes(), s.weightBytes());
        assertEquals(m.source().dtype(), s.dtype());
        assertEquals(m.source().shards(), s.shards());
        RequestCheck.OutputCounts c = s.outputs().get(output);
        assertEquals(m.format(), c.format());
        assertEquals(m.output().quantizedTensors(), c.quantizedCount());
        assertEquals(m.output().keptTensors(), c.keptCount());
        assertEquals(m.output().quantizedParameters(), c.quantizedParameters());
    }

    /**
     * Each quantized weight's error as the shard results carry it is the manifest's, to the bound two
     * measurements of the same weights agree within (their last digits move between JIT tiers).
     */
    private static void assertSameErrors(List<TensorQuality> expected, List<ShardResult> results) {
        Map<String, ShardResult.WeightError> errors = new TreeMap<>();
        results.forEach(r -> r.weightErrors().forEach(e -> errors.put(e.name(), e)));
        List<TensorQuality> quantized = expected.stream().filter(TensorQuality::quantized).toList();
        assertEquals(quantized.size(), errors.size());
        for (TensorQuality t : quantized) {
            ShardResult.WeightError e = errors.get(t.name());
            assertEquals(t.parameters(), e.values(), t.name());
            assertEquals(t.relativeRms(), Math.sqrt(e.squaredError() / e.squaredValue()), 1e-6 * t.relativeRms(), t.name());
            assertEquals(t.maxAbsError(), e.maxAbsError(), 1e-6 * t.maxAbsError(), t.name());
            assertEquals(t.outlierBlockShare(), (double) e.outlierBlocks() / e.blocks(), 1e-12, t.name());
        }
    }

    /** Every file under {@code dir} but the manifests, by relative path, with its sha256. */
    private static Map<String, String> hashes(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.filter(Files::isRegularFile).toList()) {
                if (!p.getFileName().toString().equals(Manifest.FILE_NAME)) {
                    out.put(dir.relativize(p).toString(), Digests.sha256(p));
                }
            }
        }
        assertTrue(out.size() >= 3, "files in " + dir + ": " + out.keySet());
        return out;
    }
}
