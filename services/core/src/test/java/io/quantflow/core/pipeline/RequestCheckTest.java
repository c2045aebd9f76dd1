package io.quantflow.core.pipeline;

import io.quantflow.core.Fixtures;
import io.quantflow.core.TensorFileBuilder;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Device;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.lora.LoraAdapter;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.synth.ModelShape;
import io.quantflow.core.synth.SyntheticCheckpoint;
import io.quantflow.core.target.IfExists;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link RequestCheck} refuses what {@link Converter} refuses, with the same code and message, from the
 * shards' headers alone (each opened from its first 8 + N bytes); {@link ShardConversion} leaves the checks
 * that need the whole model to it.
 */
class RequestCheckTest {
    private static final Path ADAPTER = Fixtures.path("tiny-llama/lora-adapter");

    @TempDir
    Path tmp;

    @Test
    void anAdapterOfOtherShapesIsRefusedNamingTheModule() throws IOException {
        Path source = synthetic(new ModelShape("narrow", 128, 344, 2, 4, 2, 1000, false));
        QuantflowException expected = converterRefusal(source, ADAPTER, List.of(Formats.MERGED_16BIT));
        assertEquals(ErrorCode.INVALID_REQUEST, expected.code());
        assertEquals(Reason.ADAPTER_SHAPE_MISMATCH, expected.reason());
        assertTrue(expected.getMessage().contains("model.layers.0."), expected.getMessage());
        assertSameRefusal(expected, source, ADAPTER, List.of(Formats.MERGED_16BIT));
        // a shard holding an adapted weight of the wrong shape is refused too; one holding none is converted
        int refused = 0;
        for (String shard : shardNames(source)) {
            try {
                convertShard(source, shard, ADAPTER, Formats.MERGED_16BIT);
            } catch (QuantflowException e) {
                assertEquals(ErrorCode.INVALID_REQUEST, e.code(), e.getMessage());
                assertEquals(Reason.ADAPTER_SHAPE_MISMATCH, e.reason(), e.getMessage());
                refused++;
            }
        }
        assertTrue(refused > 0 && refused < shardNames(source).size(), refused + " shards refused");
    }

    @Test
    void anAdapterModuleMissingFromTheModelIsRefusedHereNotByTheShards() throws IOException {
        Path source = synthetic(new ModelShape("one-layer", 256, 688, 1, 4, 2, 1000, false));
        QuantflowException expected = converterRefusal(source, ADAPTER, List.of(Formats.MERGED_4BIT));
        assertEquals(ErrorCode.INVALID_REQUEST, expected.code());
        assertEquals(Reason.ADAPTER_MODULE_NOT_IN_BASE, expected.reason());
        assertTrue(expected.getMessage().contains("model.layers.1."), expected.getMessage());
        assertSameRefusal(expected, source, ADAPTER, List.of(Formats.MERGED_4BIT));
        for (String shard : shardNames(source)) {
            ShardResult r = convertShard(source, shard, ADAPTER, Formats.MERGED_4BIT);
            assertEquals(shard, r.fileName());
        }
    }

    @Test
    void aModelWithNothingToQuantizeIsRefused() throws IOException {
        Path source = Files.createDirectories(tmp.resolve("embeddings-only"));
        new TensorFileBuilder()
                .filled("model.embed_tokens.weight", DType.BF16, TensorFileBuilder.shape(16, 8), i -> i * 0.01)
                .filled("model.norm.weight", DType.BF16, TensorFileBuilder.shape(8), i -> 1)
                .write(source.resolve(Checkpoint.SINGLE_FILE));
        Files.writeString(source.resolve(Checkpoint.CONFIG_FILE), "{\"model_type\": \"llama\"}");
        QuantflowException expected = converterRefusal(source, null, List.of(Formats.BNB_4BIT));
        assertEquals(ErrorCode.UNSUPPORTED_MODEL, expected.code());
        assertEquals(Reason.NOTHING_TO_QUANTIZE, expected.reason());
        assertSameRefusal(expected, source, null, List.of(Formats.BNB_4BIT));
    }

    @Test
    void aFourBitModelAskedForBnb4bitIsRefused() throws IOException {
        Path source = Fixtures.path("tiny-llama/base-bnb-nf4-dq");
        QuantflowException expected = converterRefusal(source, null, List.of(Formats.BNB_4BIT));
        assertEquals(ErrorCode.UNSUPPORTED_MODEL, expected.code());
        assertEquals(Reason.ALREADY_4BIT, expected.reason());
        assertSameRefusal(expected, source, null, List.of(Formats.BNB_4BIT));
        QuantflowException shard = assertThrows(QuantflowException.class,
                () -> convertShard(source, Checkpoint.SINGLE_FILE, null, Formats.BNB_4BIT));
        assertEquals(ErrorCode.UNSUPPORTED_MODEL, shard.code());
        assertEquals(Reason.ALREADY_4BIT, shard.reason());
    }

    @Test
    void aTensorInTwoShardsIsRefused() throws IOException {
        Path source = Files.createDirectories(tmp.resolve("twice"));
        String up = "model.layers.0.mlp.up_proj.weight";
        String down = "model.layers.0.mlp.down_proj.weight";
        new TensorFileBuilder().filled(up, DType.BF16, TensorFileBuilder.shape(8, 8), i -> i)
                .write(source.resolve("model-00001-of-00002.safetensors"));
        new TensorFileBuilder().filled(up, DType.BF16, TensorFileBuilder.shape(8, 8), i -> i)
                .filled(down, DType.BF16, TensorFileBuilder.shape(8, 8), i -> i)
                .write(source.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(source.resolve(Checkpoint.INDEX_FILE), "{\"metadata\": {\"total_size\": 384}, \"weight_map\": {\""
                + up + "\": \"model-00001-of-00002.safetensors\", \"" + down + "\": \"model-00002-of-00002.safetensors\"}}");
        Files.writeString(source.resolve(Checkpoint.CONFIG_FILE), "{\"model_type\": \"llama\"}");
        QuantflowException expected = converterRefusal(source, null, List.of(Formats.BNB_4BIT));
        assertEquals(ErrorCode.INVALID_CHECKPOINT, expected.code());
        assertEquals(Reason.SHARDS_INCONSISTENT, expected.reason());
        List<Checkpoint.Shard> shards = new ArrayList<>();
        for (String name : List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")) {
            shards.add(new Checkpoint.Shard(name, headerOnly(source.resolve(name))));
        }
        QuantflowException actual = assertThrows(QuantflowException.class, () -> RequestCheck.check(source.toString(),
                Checkpoint.readConfig(source.resolve(Checkpoint.CONFIG_FILE)), shards, null,
                PipelineRun.outputs(null, List.of(Formats.BNB_4BIT), QuantOptions.defaults(), null)));
        assertEquals(expected.code(), actual.code());
        assertEquals(expected.reason(), actual.reason());
        assertEquals(expected.getMessage(), actual.getMessage());
    }

    @Test
    void aShardIsOpenedFromItsHeaderBytesAsStrictlyAsFromItsFile() throws IOException {
        Path file = Fixtures.path("tiny-llama/base-bf16/model.safetensors");
        try (SafetensorsFile local = SafetensorsFile.open(file); SafetensorsFile remote = headerOnly(file)) {
            assertEquals(local.dataStart(), remote.dataStart());
            assertEquals(local.header().tensors(), remote.header().tensors());
            assertThrows(IOException.class, () -> remote.read(remote.header().tensors().get(0), 0, ByteBuffer.allocate(2)));
        }
        byte[] head = Arrays.copyOf(Files.readAllBytes(file), 8);
        QuantflowException e = assertThrows(QuantflowException.class,
                () -> SafetensorsFile.open("model.safetensors", 100, SafetensorsFile.RangeReader.ofPrefix(head)));
        assertEquals(ErrorCode.INVALID_CHECKPOINT, e.code());
        assertEquals(Reason.FILE_TOO_SHORT, e.reason());
        assertTrue(e.getMessage().startsWith("model.safetensors: "), e.getMessage());
    }

    /** RequestCheck, on shards opened from their header bytes only, refuses as Converter did. */
    private static void assertSameRefusal(QuantflowException expected, Path source, Path adapterDir, List<OutputFormat> formats)
            throws IOException {
        List<OutputSpec> outputs = PipelineRun.outputs(adapterDir, formats, QuantOptions.defaults(), null);
        List<Checkpoint.Shard> shards = new ArrayList<>();
        for (String name : shardNames(source)) {
            shards.add(new Checkpoint.Shard(name, headerOnly(source.resolve(name))));
        }
        try (LoraAdapter adapter = adapterDir == null ? null : LoraAdapter.open(adapterDir)) {
            QuantflowException actual = assertThrows(QuantflowException.class, () -> RequestCheck.check(source.toString(),
                    Checkpoint.readConfig(source.resolve(Checkpoint.CONFIG_FILE)), shards, adapter, outputs));
            assertEquals(expected.code(), actual.code());
            assertEquals(expected.reason(), actual.reason());
            assertEquals(expected.getMessage(), actual.getMessage());
        } finally {
            shards.forEach(s -> s.file().close());
        }
    }

    /** A shard opened from its first 8 + N bytes, as a fetcher reads them. */
    private static SafetensorsFile headerOnly(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        int headerEnd = (int) (8 + ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong());
        return SafetensorsFile.open(file.getFileName().toString(), all.length,
                SafetensorsFile.RangeReader.ofPrefix(Arrays.copyOf(all, headerEnd)));
    }

    private QuantflowException converterRefusal(Path source, Path adapter, List<OutputFormat> formats) {
        Converter.Request r = new Converter.Request(source, adapter, tmp.resolve("never"), formats, QuantOptions.defaults(), null,
                IfExists.FAIL, 2, Device.CPU);
        QuantflowException e = assertThrows(QuantflowException.class, () -> new Converter().convert(r, Converter.Listener.NONE));
        assertTrue(Files.notExists(tmp.resolve("never")));
        return e;
    }

    private ShardResult convertShard(Path source, String shard, Path adapter, OutputFormat format) throws IOException {
        OutputSpec output = PipelineRun.outputs(adapter, List.of(format), QuantOptions.defaults(), null).get(0);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Path out = Files.createDirectories(tmp.resolve("shards")).resolve(shard);
            Files.deleteIfExists(out);
            return ShardConversion.run(new ShardConversion.Input(source.resolve(Checkpoint.CONFIG_FILE), source.resolve(shard),
                    shard, adapter), output, out, null, pool);
        } finally {
            pool.shutdownNow();
        }
    }

    /** A synthetic model of {@code shape} in shards of about 300 KB. */
    private Path synthetic(ModelShape shape) {
        Path dir = tmp.resolve(shape.name());
        SyntheticCheckpoint.write(shape, DType.BF16, 5, dir, 300_000, IfExists.FAIL, n -> {
        });
        return dir;
    }

    private static List<String> shardNames(Path source) {
        try (Checkpoint c = Checkpoint.open(source)) {
            return c.shards().stream().map(Checkpoint.Shard::fileName).toList();
        }
    }
}
