package io.quantflow.core.convert;

import io.quantflow.core.Fixtures;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.util.Digests;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tiny Llama converted by quantflow against what transformers + bitsandbytes saved for it
 * (fixtures/tiny-llama/base-bnb-*): same tensors, same bytes, same quant states, same config.
 */
public class FixtureConversionTest {
    @TempDir
    Path tmp;

    @Test
    void nf4WithDoubleQuantMatchesTransformers() throws IOException {
        Path out = convert(new QuantOptions(QuantType.NF4, true, 64, DType.BF16, List.of()));
        compareWeights(out.resolve("model.safetensors"), Fixtures.path("tiny-llama/base-bnb-nf4-dq/model.safetensors"), QuantType.NF4);
        compareText(out, "base-bnb-nf4-dq", "config.json");
        compareText(out, "base-bnb-nf4-dq", "generation_config.json");
        Manifest m = Manifest.read(out.resolve(Manifest.FILE_NAME));
        assertEquals(14, m.output().quantizedTensors());
        // what transformers writes, and quantflow's model card
        assertEquals(Set.of("README.md", "config.json", "generation_config.json", "model.safetensors"),
                new TreeSet<>(m.files().stream().map(Manifest.FileEntry::path).toList()));
        for (Manifest.FileEntry f : m.files()) {
            assertEquals(Files.size(out.resolve(f.path())), f.bytes());
            assertEquals(Digests.sha256(out.resolve(f.path())), f.sha256());
        }
    }

    @Test
    void fp4WithoutDoubleQuantMatchesTransformers() throws IOException {
        Path out = convert(new QuantOptions(QuantType.FP4, false, 64, DType.BF16, List.of()));
        Path ours = out.resolve("model.safetensors");
        Path theirs = Fixtures.path("tiny-llama/base-bnb-fp4/model.safetensors");
        compareWeights(ours, theirs, QuantType.FP4);
        // without double quantization every size is known up front: the header is the reference writer's, byte for byte
        assertArrayEquals(head(theirs), head(ours));
        compareText(out, "base-bnb-fp4", "config.json");
    }

    private Path convert(QuantOptions options) {
        Path out = tmp.resolve("out-" + options.quantType().id());
        new Converter().convert(Converter.Request.bnb4bit(Fixtures.path("tiny-llama/base-bf16"), out, options, IfExists.FAIL, 2),
                Converter.Listener.NONE);
        return out;
    }

    private static byte[] head(Path p) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            byte[] all = Files.readAllBytes(p);
            return Arrays.copyOf(all, (int) f.dataStart());
        }
    }

    private static void compareText(Path out, String fixture, String file) throws IOException {
        assertEquals(Files.readString(Fixtures.path("tiny-llama/" + fixture + "/" + file), StandardCharsets.UTF_8),
                Files.readString(out.resolve(file), StandardCharsets.UTF_8), file);
    }

    public static void compareWeights(Path oursPath, Path theirsPath, QuantType type) {
        try (SafetensorsFile ours = SafetensorsFile.open(oursPath); SafetensorsFile theirs = SafetensorsFile.open(theirsPath)) {
            assertEquals(theirs.header().metadata(), ours.header().metadata());
            assertEquals(names(theirs), names(ours), "tensor names");
            for (TensorInfo t : theirs.header().tensors()) {
                TensorInfo o = ours.header().tensor(t.name());
                assertEquals(t.dtype(), o.dtype(), t.name());
                if (!t.name().contains(".quant_state.")) {
                    assertArrayEquals(t.shape(), o.shape(), t.name());
                }
                byte[] a = Fixtures.bytes(theirs, t.name());
                byte[] b = Fixtures.bytes(ours, t.name());
                if (t.name().contains(".quant_state.")) {
                    compareQuantState(t.name(), new String(a, StandardCharsets.US_ASCII), new String(b, StandardCharsets.US_ASCII));
                } else if (t.name().endsWith(".nested_absmax")) {
                    float[] x = Fixtures.floats(theirs, t.name());
                    float[] y = Fixtures.floats(ours, t.name());
                    for (int i = 0; i < x.length; i++) {
                        assertEquals(x[i], y[i], Math.abs(x[i]) * 1e-5f, t.name());
                    }
                } else if (t.name().endsWith(".absmax") && t.dtype() == DType.U8) {
                    int differing = 0;
                    for (int i = 0; i < a.length; i++) {
                        if (a[i] != b[i]) {
                            differing++;
                            assertTrue(Math.abs((a[i] & 0xFF) - (b[i] & 0xFF)) <= 1, t.name() + " code " + i);
                        }
                    }
                    // codes can only move where the last bit of the offset moved a value across a midpoint
                    assertTrue(differing <= Math.max(1, a.length / 500), t.name() + ": " + differing + " codes differ");
                } else {
                    assertArrayEquals(a, b, t.name());
                }
            }
        }
    }

    private static void compareQuantState(String name, String theirs, String ours) {
        String key = "\"nested_offset\": ";
        int i = theirs.indexOf(key);
        if (i < 0) {
            assertEquals(theirs, ours, name);
            return;
        }
        assertEquals(theirs.substring(0, i), ours.substring(0, ours.indexOf(key)), name);
        float a = Float.parseFloat(theirs.substring(i + key.length(), theirs.length() - 1));
        float b = Float.parseFloat(ours.substring(ours.indexOf(key) + key.length(), ours.length() - 1));
        assertEquals(a, b, Math.abs(a) * 1e-6f, name + " nested_offset");
    }

    private static Set<String> names(SafetensorsFile f) {
        Set<String> s = new TreeSet<>();
        f.header().tensors().forEach(t -> s.add(t.name()));
        return s;
    }
}
