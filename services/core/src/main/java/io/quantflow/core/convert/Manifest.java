package io.quantflow.core.convert;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.quantflow.core.quality.Quality;
import io.quantflow.core.quant.QuantOptions;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

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
        String cacheKey,
        Boolean cached,
        Variant variant,
        Quality quality) {

    public static final String FILE_NAME = "quantflow-manifest.json";
    public static final String VERSION = "1";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** A manifest without provenance: what a conversion of local directories writes. */
    public Manifest(String manifestVersion, String format, Source source, Adapter adapter, Options options, Output output,
                    List<FileEntry> files, Timings timings) {
        this(manifestVersion, format, source, adapter, options, output, files, timings, null, null, null, null);
    }

    /**
     * What was read. {@code weightBytes} counts tensor data; {@code parameters} counts elements.
     * {@code path} is the local directory read; {@code uri} the source as requested
     * ({@code hf://org/name@rev}, {@code s3://bucket/prefix}, a path); {@code revision} the commit a
     * Hub revision was pinned to; {@code contentHash} what the content is ({@code git:COMMIT} or
     * {@code sha256:...} of the files).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Source(String path, long weightBytes, long parameters, String dtype, int shards, String uri, String revision,
                         String contentHash) {
        public Source(String path, long weightBytes, long parameters, String dtype, int shards) {
            this(path, weightBytes, parameters, dtype, shards, null, null, null);
        }
    }

    /** The LoRA adapter merged or exported: where it came from and its main settings. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Adapter(String path, int modules, int replacedTensors, int r, double loraAlpha, boolean useRslora,
                          boolean useDora, String uri, String contentHash) {
        public Adapter(String path, int modules, int replacedTensors, int r, double loraAlpha, boolean useRslora, boolean useDora) {
            this(path, modules, replacedTensors, r, loraAlpha, useRslora, useDora, null, null);
        }
    }

    /**
     * A pre-quantized model that was copied instead of quantizing the one asked for.
     *
     * @param requested    the model the request named
     * @param used         the variant that was copied, with the commit it was pinned to
     * @param variantsFile the operator's file that maps one to the other
     */
    public record Variant(String requested, String used, String variantsFile) {
    }

    /** The 4-bit options as the request resolved them. */
    public record Options(String quantType, boolean doubleQuant, int blocksize, String computeDtype,
                          List<String> skipModules, String quantizer) {

        /** The options of a 4-bit output, or null for an output that quantizes nothing. */
        public static Options of(QuantOptions q, String quantizer) {
            return q == null ? null : new Options(q.quantType().id(), q.doubleQuant(), q.blocksize(), q.computeDtype().torchName(),
                    q.skipModules(), quantizer);
        }
    }

    /**
     * What was written. {@code bitsPerParameter} = weight file bytes x 8 / source parameters: what the
     * model costs on disk per parameter, headers and kept 16-bit tensors included.
     * {@code requantizationError}, when the base was already 4-bit and the merged model was quantized
     * again: the relative RMS error of the requantized weights against the exact 16-bit merge.
     */
    public record Output(long bytes, long weightBytes, double bitsPerParameter, int quantizedTensors, int keptTensors,
                         long quantizedParameters, Double requantizationError) {

        /**
         * The figures of an output from its files (every {@code .safetensors} file counts as weights) and the
         * source's parameters: the one place bits/param is computed, rounded to three decimals.
         */
        public static Output of(List<FileEntry> files, long parameters, int quantizedTensors, int keptTensors,
                                long quantizedParameters, Double requantizationError) {
            long bytes = files.stream().mapToLong(FileEntry::bytes).sum();
            long weightBytes = files.stream().filter(f -> f.path().endsWith(".safetensors")).mapToLong(FileEntry::bytes).sum();
            return new Output(bytes, weightBytes, bitsPerParameter(weightBytes, parameters), quantizedTensors, keptTensors,
                    quantizedParameters, requantizationError);
        }

        /** Weight bytes x 8 / parameters, to three decimals (0 for a model without parameters). */
        public static double bitsPerParameter(long weightBytes, long parameters) {
            return parameters == 0 ? 0 : Math.round(weightBytes * 8.0 / parameters * 1000) / 1000.0;
        }
    }

    public record FileEntry(String path, long bytes, String sha256) {
    }

    /** How long the conversion took; in the pipeline, also the time spent in each stage (fetch, merge, quantize, publish). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Timings(long totalMillis, Map<String, Long> stages) {
        public Timings(long totalMillis) {
            this(totalMillis, null);
        }
    }

    /**
     * This manifest as served from the conversion cache for a new request: {@code cached} true,
     * the request's own spelling of the source and adapter, and the time the new request took.
     */
    public Manifest servedFromCache(Source requestSource, Adapter requestAdapter, long totalMillis) {
        Source s = new Source(requestSource.path(), source.weightBytes(), source.parameters(), source.dtype(), source.shards(),
                requestSource.uri(), source.revision(), source.contentHash());
        Adapter a = adapter == null || requestAdapter == null ? adapter : new Adapter(requestAdapter.path(), adapter.modules(),
                adapter.replacedTensors(), adapter.r(), adapter.loraAlpha(), adapter.useRslora(), adapter.useDora(),
                requestAdapter.uri(), adapter.contentHash());
        return new Manifest(manifestVersion, format, s, a, options, output, files, new Timings(totalMillis), cacheKey, true, variant,
                quality);
    }

    public void write(Path file) throws IOException {
        JSON.writeValue(file.toFile(), this);
    }

    public static Manifest read(Path file) throws IOException {
        return JSON.readValue(file.toFile(), Manifest.class);
    }
}
