package io.quantflow.core.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.convert.ConversionOptions;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.format.lora.LoraExport;
import io.quantflow.core.lora.LoraAdapter;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * A conversion done as the pipeline does it, on one machine: the request checked from headers read
 * through ranged reads, each shard converted on its own (its result sent through JSON), then each
 * output's index, config and other files written by a publisher.
 */
final class PipelineRun {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Bytes read past the shards' headers by the last {@link #check}. */
    static final AtomicLong dataBytesRead = new AtomicLong();

    private PipelineRun() {
    }

    /** The outputs of a request, as Converter makes them. */
    static List<OutputSpec> outputs(Path adapter, List<OutputFormat> formats, QuantOptions quant, DType dtype) {
        return ConversionOptions.of(formats, quant, dtype).outputs(adapter != null);
    }

    /** {@link RequestCheck} on the source's shards opened over ranged reads, counting the bytes read past each header. */
    static RequestCheck.Summary check(Path source, Path adapterDir, List<OutputSpec> outputs) {
        dataBytesRead.set(0);
        List<Checkpoint.Shard> shards = new ArrayList<>();
        try (Checkpoint listing = Checkpoint.open(source);
             LoraAdapter adapter = adapterDir == null ? null : LoraAdapter.open(adapterDir)) {
            for (Checkpoint.Shard s : listing.shards()) {
                byte[] bytes = Files.readAllBytes(source.resolve(s.fileName()));
                long headerEnd = 8 + ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
                SafetensorsFile.RangeReader all = SafetensorsFile.RangeReader.ofPrefix(bytes);
                shards.add(new Checkpoint.Shard(s.fileName(), SafetensorsFile.open(s.fileName(), bytes.length, (position, dst) -> {
                    if (position >= headerEnd) {
                        dataBytesRead.addAndGet(dst.remaining());
                    }
                    all.readFully(position, dst);
                })));
            }
            return RequestCheck.check(source.toString(), listing.config(), shards, adapter, outputs);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            shards.forEach(s -> s.file().close());
        }
    }

    /**
     * Converts the source into {@code target} (each output in its subdirectory when there are several, as
     * Converter lays them out); returns each output's shard results.
     */
    static Map<OutputSpec, List<ShardResult>> convert(Path source, Path adapterDir, List<OutputSpec> outputs, Path target)
            throws IOException {
        Map<OutputSpec, List<ShardResult>> results = new LinkedHashMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (Checkpoint listing = Checkpoint.open(source)) {
            for (OutputSpec o : outputs) {
                Path dir = target.resolve(o.subdir());
                Files.createDirectories(dir);
                if (o.format() == Formats.LORA) {
                    try (LoraAdapter adapter = LoraAdapter.open(adapterDir)) {
                        LoraExport.write(adapter, dir);
                    }
                    continue;
                }
                List<ShardResult> shards = new ArrayList<>();
                for (Checkpoint.Shard s : listing.shards()) {
                    ShardConversion.Input in = new ShardConversion.Input(source.resolve(Checkpoint.CONFIG_FILE),
                            source.resolve(s.fileName()), s.fileName(), adapterDir);
                    QuantOptions q = o.quant() != null ? o.quant() : QuantOptions.defaults();
                    ShardResult r = ShardConversion.run(in, o, dir.resolve(s.fileName()), null, pool);
                    shards.add(JSON.readValue(JSON.writeValueAsString(r), ShardResult.class));
                }
                ModelFiles.writeIndexAndConfig(Checkpoint.readConfig(source.resolve(Checkpoint.CONFIG_FILE)), listing.indexed(),
                        o, shards, dir);
                try (Stream<Path> files = Files.list(source)) {
                    for (Path p : files.filter(Files::isRegularFile).toList()) {
                        if (ModelFiles.copiedFromSource(p.getFileName().toString())) {
                            try (InputStream in = Files.newInputStream(p)) {
                                Files.copy(in, dir.resolve(p.getFileName().toString()));
                            }
                        }
                    }
                }
                ModelFiles.writeModelCard(Checkpoint.readConfig(source.resolve(Checkpoint.CONFIG_FILE)), o, dir);
                results.put(o, shards);
            }
        } finally {
            pool.shutdownNow();
        }
        return results;
    }
}
