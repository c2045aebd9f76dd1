package io.quantflow.core.convert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.checkpoint.Checkpoint;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.Formats;
import io.quantflow.core.model.SourceModel;
import io.quantflow.core.quant.Bnb4bitWeight;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.target.LocalTarget;
import io.quantflow.core.util.Digests;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A bitsandbytes 4-bit model that already exists (a pre-quantized variant of the model asked for)
 * used as the bnb-4bit output: validated as a 4-bit checkpoint, copied file for file, and given a
 * manifest that says which model it really is.
 */
public final class PrequantizedCopy {
    private PrequantizedCopy() {
    }

    /**
     * Why a model with this config.json cannot stand in for a bnb-4bit conversion with these
     * options, or null when it can.
     */
    public static String mismatch(ObjectNode config, QuantOptions asked) {
        JsonNode q = config == null ? null : config.get("quantization_config");
        if (q == null || !q.isObject() || !"bitsandbytes".equals(q.path("quant_method").asText())
                || !(q.path("load_in_4bit").asBoolean(false) || q.path("_load_in_4bit").asBoolean(false))) {
            return "it is not a bitsandbytes 4-bit model";
        }
        String type = q.path("bnb_4bit_quant_type").asText("fp4");
        boolean dq = q.path("bnb_4bit_use_double_quant").asBoolean(false);
        String has = type + (dq ? " with" : " without") + " double quantization";
        if (!type.equals(asked.quantType().id()) || dq != asked.doubleQuant()) {
            return "it is " + has + ", not " + asked.quantType().id() + (asked.doubleQuant() ? " with" : " without")
                    + " double quantization as asked";
        }
        if (asked.blocksize() != 64) {
            return "it has bitsandbytes' blocksize 64, not " + asked.blocksize() + " as asked";
        }
        if (!asked.skipModules().isEmpty()) {
            return "--skip-modules was given";
        }
        return null;
    }

    /** Copies the 4-bit model at {@code dir} to {@code target} with its manifest, atomically. */
    public static Manifest copy(Path dir, Path target, IfExists ifExists, Provenance provenance, Manifest.Variant variant) {
        long t0 = System.nanoTime();
        Path abs = target.toAbsolutePath().normalize();
        LocalTarget.check(abs, ifExists);
        try (Checkpoint checkpoint = Checkpoint.open(dir)) {
            ObjectNode config = checkpoint.config();
            if (config == null || !SourceModel.isBnb4bit(config)) {
                throw QuantflowException.of(Reason.VARIANT_NOT_4BIT, variant.used() + " is not a bitsandbytes 4-bit model;"
                        + " fix the variants file " + variant.variantsFile() + " or pass --exact-model-name");
            }
            List<Bnb4bitWeight> weights = new ArrayList<>();
            Set<String> companions = new HashSet<>();
            for (Checkpoint.Shard s : checkpoint.shards()) {
                Map<String, Bnb4bitWeight> found = Bnb4bitWeight.find(s.file());
                weights.addAll(found.values());
                for (TensorInfo t : s.file().header().tensors()) {
                    for (Bnb4bitWeight w : found.values()) {
                        if (t.name().startsWith(w.name() + ".")) {
                            companions.add(t.name());
                        }
                    }
                }
            }
            if (weights.isEmpty()) {
                throw QuantflowException.of(Reason.NO_4BIT_WEIGHTS, variant.used() + ": config.json says bitsandbytes 4-bit but no shard holds a 4-bit weight");
            }
            Bnb4bitWeight first = weights.get(0);
            long quantizedParams = weights.stream().mapToLong(Bnb4bitWeight::elements).sum();
            long keptParams = 0;
            int kept = 0;
            for (Checkpoint.Shard s : checkpoint.shards()) {
                for (TensorInfo t : s.file().header().tensors()) {
                    boolean isWeight = weights.stream().anyMatch(w -> w.packed().name().equals(t.name()));
                    if (!isWeight && !companions.contains(t.name())) {
                        kept++;
                        keptParams += t.elements();
                    }
                }
            }
            try (LocalTarget out = LocalTarget.prepare(abs, ifExists)) {
                List<Path> files;
                try (Stream<Path> st = Files.list(dir)) {
                    files = st.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith("."))
                            .filter(p -> !p.getFileName().toString().equals(Manifest.FILE_NAME)).sorted().toList();
                }
                long bytes = 0;
                for (Path p : files) {
                    bytes += Files.size(p);
                }
                out.requireSpace(bytes);
                List<Manifest.FileEntry> entries = new ArrayList<>();
                for (Path p : files) {
                    Path to = out.staging().resolve(p.getFileName().toString());
                    try (InputStream in = Files.newInputStream(p)) {
                        Files.copy(in, to);
                    }
                    entries.add(new Manifest.FileEntry(p.getFileName().toString(), Files.size(to), Digests.sha256(to)));
                }
                long params = quantizedParams + keptParams;
                JsonNode q = config.get("quantization_config");
                List<String> skip = new ArrayList<>();
                q.path("llm_int8_skip_modules").forEach(n -> skip.add(n.asText()));
                Manifest m = new Manifest(Manifest.VERSION, Formats.BNB_4BIT.id(),
                        new Manifest.Source(checkpoint.dir().toString(), checkpoint.weightBytes(), params, first.dtype().torchName(),
                                checkpoint.shards().size(), provenance.sourceUri(), provenance.sourceRevision(),
                                provenance.sourceContentHash()),
                        null,
                        new Manifest.Options(first.type().id(), first.doubleQuant(), first.blocksize(),
                                q.path("bnb_4bit_compute_dtype").asText(first.dtype().torchName()), skip, "pre-quantized variant (copied)"),
                        Manifest.Output.of(entries, params, weights.size(), kept, quantizedParams, null),
                        entries,
                        new Manifest.Timings((System.nanoTime() - t0) / 1_000_000),
                        provenance.cacheKey(), false, variant, null);
                m.write(out.staging().resolve(Manifest.FILE_NAME));
                out.commit();
                return m;
            } catch (IOException e) {
                throw QuantflowException.ioFailure("writing " + abs, e);
            }
        }
    }
}
