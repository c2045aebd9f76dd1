package io.quantflow.core.convert;

import io.quantflow.core.Fixtures;
import io.quantflow.core.format.bnb4bit.Bnb4bitCodec;
import io.quantflow.core.quant.DoubleQuantizer;
import io.quantflow.core.quant.DynamicMap;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantState;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.quant.ScalarBlockwiseQuantizer;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.SafetensorsLayout;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.safetensors.TensorSpec;
import io.quantflow.core.target.IfExists;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The whole converter (parallel chunks, Vector API, parallel double quantization, streaming layout)
 * against the scalar reference applied tensor by tensor, on awkward shapes: odd element counts,
 * partial blocks, tensors spanning several chunks and several double-quant tasks.
 */
class ConverterReferenceTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} {1} dq={2} bs={3}")
    @CsvSource({"BF16, NF4, true, 64", "F16, FP4, true, 128", "F32, NF4, false, 32", "BF16, FP4, false, 4096"})
    void outputEqualsTheScalarReference(DType dtype, QuantType type, boolean dq, int blocksize) throws IOException {
        List<TensorSpec> specs = List.of(
                new TensorSpec("model.layers.0.mlp.down_proj.weight", dtype, new long[] {4096, 1100}),
                new TensorSpec("model.layers.0.self_attn.q_proj.weight", dtype, new long[] {33, 77}),
                new TensorSpec("model.layers.0.self_attn.k_proj.weight", dtype, new long[] {7, 64}),
                new TensorSpec("model.layers.0.input_layernorm.weight", dtype, new long[] {77}),
                new TensorSpec("model.embed_tokens.weight", dtype, new long[] {50, 77}),
                new TensorSpec("model.layers.0.position_ids", DType.I64, new long[] {5}));
        Path src = Files.createDirectories(tmp.resolve("src"));
        writeRandom(src.resolve("model.safetensors"), specs, new Random(42));
        Files.writeString(src.resolve("config.json"), "{\"model_type\": \"llama\"}");
        Files.writeString(src.resolve("tokenizer.json"), "{\"version\": \"1.0\"}");

        QuantOptions options = new QuantOptions(type, dq, blocksize, DType.BF16, List.of());
        Path out = tmp.resolve("out");
        new Converter().convert(Converter.Request.bnb4bit(src, out, options, IfExists.FAIL, 2),
                Converter.Listener.NONE);
        assertEquals("{\"version\": \"1.0\"}", Files.readString(out.resolve("tokenizer.json")));

        try (SafetensorsFile in = SafetensorsFile.open(src.resolve("model.safetensors"));
             SafetensorsFile result = SafetensorsFile.open(out.resolve("model.safetensors"))) {
            for (TensorInfo t : in.header().tensors()) {
                boolean quantized = t.rank() == 2 && !t.name().contains("embed");
                if (!quantized) {
                    assertArrayEquals(Fixtures.bytes(in, t.name()), Fixtures.bytes(result, t.name()), t.name());
                    continue;
                }
                int n = (int) t.elements();
                float[] x = new float[n];
                HalfFloats.decode(t.dtype(), Fixtures.bytes(in, t.name()), 0, n, x, 0);
                int blocks = (n + blocksize - 1) / blocksize;
                byte[] packed = new byte[(n + 1) / 2];
                float[] absmax = new float[blocks];
                new ScalarBlockwiseQuantizer(type).quantize(x, 0, n, blocksize, packed, 0, absmax, 0);
                assertArrayEquals(packed, Fixtures.bytes(result, t.name()), t.name() + " packed");
                assertArrayEquals(bytes(type.codebook()), Fixtures.bytes(result, t.name() + ".quant_map"));
                float offset = 0f;
                if (dq) {
                    DoubleQuantizer.Result r = DoubleQuantizer.quantize(absmax, blocks);
                    offset = r.offset();
                    assertArrayEquals(r.codes(), Fixtures.bytes(result, t.name() + ".absmax"), t.name() + " absmax codes");
                    assertArrayEquals(bytes(r.nestedAbsmax()), Fixtures.bytes(result, t.name() + ".nested_absmax"));
                    assertArrayEquals(bytes(DynamicMap.signed()), Fixtures.bytes(result, t.name() + ".nested_quant_map"));
                } else {
                    assertArrayEquals(bytes(absmax), Fixtures.bytes(result, t.name() + ".absmax"), t.name() + " absmax");
                }
                assertArrayEquals(new QuantState(type, blocksize, t.dtype(), t.shape(), dq, offset).toJson(),
                        Fixtures.bytes(result, t.name() + "." + QuantState.tensorSuffix(type)));
            }
        }
    }

    static void writeRandom(Path file, List<TensorSpec> specs, Random rnd) throws IOException {
        SafetensorsLayout layout = SafetensorsLayout.of(Map.of("format", "pt"), specs);
        try (SafetensorsOutput o = SafetensorsOutput.create(file, layout.paddedHeaderLength())) {
            for (TensorInfo t : layout.entries()) {
                ByteBuffer b = ByteBuffer.allocate((int) t.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
                for (long i = 0; i < t.elements(); i++) {
                    float v = (float) (rnd.nextGaussian() * 0.02);
                    switch (t.dtype()) {
                        case BF16 -> b.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
                        case F16 -> b.putShort(Float.floatToFloat16(v));
                        case F32 -> b.putFloat(v);
                        case I64 -> b.putLong(i);
                        default -> throw new IllegalArgumentException(t.dtype().name());
                    }
                }
                b.flip();
                o.write(t.begin(), b);
            }
            o.finish(layout);
        }
    }

    static byte[] bytes(float[] f) {
        return Bnb4bitCodec.littleEndian(f).array();
    }
}
