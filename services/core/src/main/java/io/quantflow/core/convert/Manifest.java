package io.quantflow.core.convert;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.quantflow.core.quality.Quality;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code quantflow-manifest.json}, written last into every artifact: what was converted, with which
 * options, and every file with its size and sha256. A reader that sees the manifest sees a complete
 * artifact. A 4-bit output also records its {@link Quality}: what quantization lost, per weight and
 * per layer, and what {@code --dynamic} chose.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Manifest(
        String manifestVersion,
        String format,
        Source source,
        Adapter adapter,
        Options options,
        Output output,
        List<FileEntry> files,
        Timings timings,
        Quality quality) {

    public static final String FILE_NAME = "quantflow-manifest.json";
    public static final String VERSION = "1";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** What was read. {@code weightBytes} counts tensor data; {@code parameters} counts elements. */
    public record Source(String path, long weightBytes, long parameters, String dtype, int shards) {
    }

    /** The LoRA adapter merged or exported: where it came from and its main settings. */
    public record Adapter(String path, int modules, int replacedTensors, int r, double loraAlpha, boolean useRslora,
                          boolean useDora) {
    }

    /** The 4-bit options as the request resolved them. */
    public record Options(String quantType, boolean doubleQuant, int blocksize, String computeDtype,
                          List<String> skipModules, String quantizer) {
    }

    /**
     * What was written. {@code bitsPerParameter} = weight file bytes x 8 / source parameters: what the
     * model costs on disk per parameter, headers and kept 16-bit tensors included.
     * {@code requantizationError}, when the base was already 4-bit and the merged model was quantized
     * again: the relative RMS error of the requantized weights against the exact 16-bit merge.
     */
    public record Output(long bytes, long weightBytes, double bitsPerParameter, int quantizedTensors, int keptTensors,
                         long quantizedParameters, Double requantizationError) {
    }

    public record FileEntry(String path, long bytes, String sha256) {
    }

    public record Timings(long totalMillis) {
    }

    public void write(Path file) throws IOException {
        JSON.writeValue(file.toFile(), this);
    }

    public static Manifest read(Path file) throws IOException {
        return JSON.readValue(file.toFile(), Manifest.class);
    }
}
