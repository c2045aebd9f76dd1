package io.quantflow.core.format.bnb8bit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.Fixtures;
import io.quantflow.core.convert.ConversionOptions;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.format.EncodedWeight;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.TensorSink;
import io.quantflow.core.format.WeightEncoding;
import io.quantflow.core.quality.TensorQuality;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.safetensors.TensorSpec;
import io.quantflow.core.target.IfExists;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * bnb-8bit against scripts/reference/bnb8bit_reference.py's CPU restatement of bitsandbytes' int8_vectorwise_quant
 * (the GPU comparison with transformers + bitsandbytes is that script's {@code gpu} mode, to be run on a CUDA
 * machine): the CPU arithmetic's int8 weights and SCB byte for byte, the GPU arithmetic (what conversions use)
 * within rounding ties of them, the tensors and config transformers writes, the dequantized
 * weights within int8's error.
 */
class Bnb8bitTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    static Path file(String name) {
        try {
            return Path.of(Bnb8bitTest.class.getResource("/format/bnb8bit/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void randomWeightsMatchTheReference() throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(file("random-int8.safetensors"))) {
            for (DType dtype : new DType[] {DType.BF16, DType.F16, DType.F32}) {
                String tag = switch (dtype) {
                    case BF16 -> "bf16";
                    case F16 -> "f16";
                    default -> "f32";
                };
                TensorInfo t = f.header().tensor(tag + ".weight");
                byte[] raw = Fixtures.bytes(f, t.name());
                float[] x = new float[(int) t.elements()];
                HalfFloats.decode(dtype, raw, 0, x.length, x, 0);
                for (long preferred : new long[] {1, 5000, 1 << 18}) {
                    Map<String, byte[]> out = encode(x, dtype, t.shape(), preferred, false);
                    assertArrayEquals(Fixtures.bytes(f, tag + ".int8"), out.get("w.weight"), tag + " near " + preferred);
                    assertArrayEquals(Fixtures.bytes(f, tag + ".SCB"), out.get("w.SCB"), tag);
                    assertArrayEquals(new byte[] {0}, out.get("w.weight_format"));
                    // the GPU's division moves a code only where the product sat on a rounding tie
                    Map<String, byte[]> gpu = encode(x, dtype, t.shape(), preferred, true);
                    assertArrayEquals(Fixtures.bytes(f, tag + ".SCB"), gpu.get("w.SCB"), tag);
                    assertFewTies(Fixtures.bytes(f, tag + ".int8"), gpu.get("w.weight"), tag);
                }
            }
        }
    }

    /** Codes of the GPU arithmetic against the CPU reference's: at most one apart, and in at most 1 value in 1000. */
    static void assertFewTies(byte[] cpu, byte[] gpu, String what) {
        int differing = 0;
        for (int i = 0; i < cpu.length; i++) {
            if (cpu[i] != gpu[i]) {
                differing++;
                assertTrue(Math.abs(cpu[i] - gpu[i]) == 1, what + " code " + i);
            }
        }
        assertTrue(differing <= Math.max(1, cpu.length / 1000), what + ": " + differing + " codes differ");
    }

    private static Map<String, byte[]> encode(float[] x, DType dtype, long[] shape, long preferred, boolean gpu) throws Exception {
        EncodedWeight w = new Bnb8bitCodec(gpu).weight("w.weight", dtype, shape);
        Map<String, byte[]> out = new HashMap<>();
        for (TensorSpec s : w.specs(0)) {
            out.put(s.name(), new byte[(int) s.byteSize()]);
        }
        TensorSink sink = (tensor, at, bytes) -> bytes.get(out.get(tensor), (int) at, bytes.remaining());
        WeightEncoding e = w.start();
        long chunk = w.chunkElements(preferred);
        ErrorSums total = new ErrorSums();
        for (long s = (x.length - 1) / chunk * chunk; s >= 0; s -= chunk) {
            int n = (int) Math.min(chunk, x.length - s);
            total.add(e.encode(new WeightEncoding.Chunk(s, n, Arrays.copyOfRange(x, (int) s, (int) s + n), null, k -> new byte[k]), sink));
        }
        e.finish(total, m -> {
        }, sink, null, new java.util.ArrayList<>());
        return out;
    }

    @Test
    void tinyLlamaIsWhatTransformersSaves() throws Exception {
        Path out = tmp.resolve("int8");
        new Converter().convert(new Converter.Request(Fixtures.path("tiny-llama/base-bf16"), null, out,
                ConversionOptions.of(List.of(Formats.parse("bnb-8bit")), QuantOptions.defaults(), null), IfExists.FAIL, 2),
                Converter.Listener.NONE);
        Map<String, byte[]> ours = new HashMap<>();
        try (SafetensorsFile o = SafetensorsFile.open(out.resolve("model.safetensors"));
             SafetensorsFile ref = SafetensorsFile.open(file("tiny-llama-int8.safetensors"));
             SafetensorsFile src = SafetensorsFile.open(Fixtures.path("tiny-llama/base-bf16/model.safetensors"))) {
            Set<String> expected = new TreeSet<>();
            ref.header().tensors().forEach(t -> expected.add(t.name()));
            src.header().tensors().forEach(t -> expected.add(t.name()));
            Set<String> names = new TreeSet<>();
            o.header().tensors().forEach(t -> names.add(t.name()));
            assertEquals(expected, names);
            for (TensorInfo t : o.header().tensors()) {
                SafetensorsFile theirs = ref.header().tensors().stream().anyMatch(r -> r.name().equals(t.name())) ? ref : src;
                TensorInfo r = theirs.header().tensor(t.name());
                assertEquals(r.dtype(), t.dtype(), t.name());
                assertArrayEquals(r.shape(), t.shape(), t.name());
                byte[] b = Fixtures.bytes(o, t.name());
                if (t.dtype() == DType.I8) {
                    // the conversion takes the GPU's division, the reference the CPU's
                    assertFewTies(Fixtures.bytes(theirs, t.name()), b, t.name());
                } else {
                    assertArrayEquals(Fixtures.bytes(theirs, t.name()), b, t.name());
                }
                ours.put(t.name(), b);
            }
            // the decoder: W ~ int8 * SCB / 127, within int8's error of the bf16 weights
            Manifest m = Manifest.read(out.resolve(Manifest.FILE_NAME));
            assertEquals(14, m.output().quantizedTensors());
            for (TensorQuality tq : m.quality().tensors()) {
                if (!tq.quantized()) {
                    continue;
                }
                assertEquals("int8", tq.storedAs());
                TensorInfo s = src.header().tensor(tq.name());
                float[] x = new float[(int) s.elements()];
                HalfFloats.decode(DType.BF16, Fixtures.bytes(src, tq.name()), 0, x.length, x, 0);
                byte[] q = ours.get(tq.name());
                float[] scb = new float[(int) s.dim(0)];
                java.nio.ByteBuffer.wrap(ours.get(tq.name().replace(".weight", ".SCB"))).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                        .asFloatBuffer().get(scb);
                double e = 0;
                double v = 0;
                int cols = (int) s.dim(1);
                for (int i = 0; i < x.length; i++) {
                    // bitsandbytes' int8_vectorwise_dequant: q * SCB * 7.874015718698502e-3 in float32, to the weight's dtype
                    double d = io.quantflow.core.quant.DtypeEncoding.round(DType.BF16, q[i] * scb[i / cols] * 7.874015718698502e-3f) - (double) x[i];
                    e += d * d;
                    v += (double) x[i] * x[i];
                }
                double rms = Math.sqrt(e / v);
                assertTrue(rms < 0.02, tq.name() + " " + rms);
                assertEquals(rms, tq.relativeRms(), 1e-6 * rms, tq.name());
            }
        }
        ObjectNode config = (ObjectNode) JSON.readTree(out.resolve("config.json").toFile());
        JsonNode q = config.remove("quantization_config");
        // transformers' BitsAndBytesConfig(load_in_8bit=True).to_dict(): the 4-bit fields at their defaults
        ObjectNode expectedQ = (ObjectNode) JSON.readTree(Fixtures.path("tiny-llama/base-bnb-fp4/config.json").toFile()).get("quantization_config");
        expectedQ.put("_load_in_4bit", false).put("_load_in_8bit", true).put("load_in_4bit", false).put("load_in_8bit", true)
                .put("bnb_4bit_compute_dtype", "float32");
        assertEquals(expectedQ, q);
        assertEquals(JSON.readTree(Fixtures.path("tiny-llama/base-bf16/config.json").toFile()), config);
    }

    @Test
    void skippedModulesAreListedWithLmHead() {
        JsonNode q = Bnb8bitFormat.quantizationConfig(new QuantOptions(QuantType.NF4, true, 64, DType.BF16, List.of("mlp.down_proj")));
        assertEquals("[\"mlp.down_proj\",\"lm_head\"]", q.get("llm_int8_skip_modules").toString());
    }
}
