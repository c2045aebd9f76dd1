package io.quantflow.core.format.lora;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.quantflow.core.json.PythonJson;
import io.quantflow.core.lora.LoraAdapter;
import io.quantflow.core.safetensors.SafetensorsLayout;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.safetensors.TensorSpec;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The {@code lora} output: the adapter alone, validated against the base, normalised: its config as
 * PEFT writes it ({@code indent=2, sort_keys=True}), its tensors rewritten in the reference writer's
 * order (bytes unchanged), and the files that travel with it (model card).
 */
public final class LoraExport {
    private LoraExport() {
    }

    /** Writes the adapter's config, weights and other files into {@code dir}. */
    public static void write(LoraAdapter adapter, Path dir) throws IOException {
        Path config = adapter.dir().resolve(LoraAdapter.CONFIG_FILE);
        Files.writeString(dir.resolve(LoraAdapter.CONFIG_FILE),
                PythonJson.toIndentedSorted(new ObjectMapper().readTree(config.toFile())), StandardCharsets.UTF_8);
        List<TensorSpec> specs = new ArrayList<>();
        for (TensorInfo t : adapter.file().header().tensors()) {
            specs.add(new TensorSpec(t.name(), t.dtype(), t.shape()));
        }
        SafetensorsLayout layout = SafetensorsLayout.of(Map.of("format", "pt"), specs);
        try (SafetensorsOutput out = SafetensorsOutput.create(dir.resolve(LoraAdapter.WEIGHTS_FILE), layout.paddedHeaderLength())) {
            for (TensorInfo t : adapter.file().header().tensors()) {
                long at = layout.entry(t.name()).begin();
                ByteBuffer buf = ByteBuffer.allocate((int) Math.min(t.byteSize(), 8 << 20));
                for (long off = 0; off < t.byteSize(); off += buf.capacity()) {
                    buf.clear().limit((int) Math.min(buf.capacity(), t.byteSize() - off));
                    adapter.file().read(t, off, buf);
                    buf.flip();
                    out.write(at + off, buf);
                }
            }
            out.finish(layout);
            out.channel().force(true);
        }
        try (Stream<Path> files = Files.list(adapter.dir())) {
            for (Path p : files.filter(Files::isRegularFile).sorted().toList()) {
                String n = p.getFileName().toString();
                if (!n.equals(LoraAdapter.CONFIG_FILE) && !n.endsWith(".safetensors") && !n.endsWith(".bin") && !n.startsWith(".")) {
                    try (InputStream in = Files.newInputStream(p)) {
                        Files.copy(in, dir.resolve(n));
                    }
                }
            }
        }
    }
}
