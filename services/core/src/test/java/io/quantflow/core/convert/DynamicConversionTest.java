package io.quantflow.core.convert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quantflow.core.Fixtures;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.Formats;
import io.quantflow.core.quality.DynamicSelection;
import io.quantflow.core.quality.ModuleNames;
import io.quantflow.core.quality.Quality;
import io.quantflow.core.quality.TensorQuality;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.synth.ModelShape;
import io.quantflow.core.synth.SyntheticCheckpoint;
import io.quantflow.core.target.IfExists;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --dynamic} end to end: the weights with planted outliers are the ones kept, the budget holds,
 * the measuring pass measures what the conversion measures, and at the same size the choice beats
 * keeping weights of the same shapes chosen at random.
 */
class DynamicConversionTest {
    /**
     * Two measurements of the same weights agree to this relative bound, not bit for bit: the error
     * sums are float lane sums whose order differs between the interpreter and compiled code
     * (QuantErrors.sumTolerance bounds the sums to about 2.6e-6 relative at blocksize 64 on 16 lanes;
     * a root of their ratio moves by no more).
     */
    private static final double SAME_MEASURE = 1e-5;

    @TempDir
    Path tmp;

    private Path planted(int outliers) {
        Path src = tmp.resolve("planted-" + outliers);
        ModelShape shape = ModelShape.named("tiny-llama");
        SyntheticCheckpoint.write(shape, DType.BF16, 11, src, SyntheticCheckpoint.DEFAULT_MAX_SHARD_BYTES, IfExists.FAIL,
                Set.copyOf(shape.outlierTensors(outliers)), n -> {
                });
        return src;
    }

    private Manifest convert(Path src, String name, DynamicBudget budget, List<String> skip) throws IOException {
        Path out = tmp.resolve(name);
        Converter.Request r = Converter.Request.bnb4bit(src, out, new QuantOptions(QuantOptions.defaults().quantType(), true, 64,
                DType.BF16, skip), IfExists.FAIL, 2).withDynamic(budget);
        new Converter().convert(r, Converter.Listener.NONE);
        return Manifest.read(out.resolve(Manifest.FILE_NAME));
    }

    private static TensorQuality tensor(Manifest m, String name) {
        return m.quality().tensors().stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow();
    }

    /** The extra bytes of keeping {@code name} in 16 bit, from an all-4-bit manifest. */
    private static long extra(Manifest all, String name) {
        TensorQuality t = tensor(all, name);
        return t.parameters() * 2 - t.bytes();
    }

    @Test
    void keepsThePlantedWeightsWithinTheBudget() throws IOException {
        Path src = planted(2);
        List<String> planted = ModelShape.named("tiny-llama").outlierTensors(2);
        Manifest all = convert(src, "all", null, List.of());
        Quality q = all.quality();
        // every linear weight measured; the planted ones have outlier blocks (a quarter) and the worst errors
        assertEquals(14, q.tensors().size());
        double worstOther = 0;
        for (TensorQuality t : q.tensors()) {
            assertTrue(t.quantized() && t.relativeRms() > 0.05 && t.maxAbsError() > 0, t.toString());
            if (planted.contains(t.name())) {
                assertEquals(0.25, t.outlierBlockShare(), 0.01, t.name());
            } else {
                assertEquals(0.0, t.outlierBlockShare(), 0.0, t.name());
                worstOther = Math.max(worstOther, t.relativeRms());
            }
        }
        for (String p : planted) {
            assertTrue(tensor(all, p).relativeRms() > 1.5 * worstOther, p);
        }
        long budget = all.output().weightBytes() + extra(all, planted.get(0)) + extra(all, planted.get(1))
                + extra(all, "model.layers.0.self_attn.k_proj.weight") / 2;
        Manifest dyn = convert(src, "dyn", DynamicBudget.ofBytes(budget), List.of());
        DynamicSelection d = dyn.quality().dynamic();
        assertEquals(Set.copyOf(planted.stream().map(ModuleNames::fullModule).toList()), Set.copyOf(d.keptModules()));
        assertTrue(dyn.output().weightBytes() <= budget, dyn.output().weightBytes() + " > " + budget);
        assertTrue(d.plannedBytes() >= dyn.output().weightBytes() && d.plannedBytes() - dyn.output().weightBytes() < 200,
                "planned " + d.plannedBytes() + ", written " + dyn.output().weightBytes());
        JsonNode config = new ObjectMapper().readTree(tmp.resolve("dyn/config.json").toFile());
        List<String> skip = new ArrayList<>();
        config.get("quantization_config").get("llm_int8_skip_modules").forEach(n -> skip.add(n.asText()));
        assertEquals(Set.of("model.layers.0.self_attn.o_proj", "model.layers.1.self_attn.o_proj", "lm_head"), Set.copyOf(skip));
        assertEquals(12, dyn.output().quantizedTensors());
        // the measuring pass measures exactly what writing measures
        for (String p : planted) {
            TensorQuality kept = tensor(dyn, p);
            assertFalse(kept.quantized());
            assertEquals("bfloat16", kept.storedAs());
            assertEquals(tensor(all, p).relativeRms(), kept.relativeRmsIfQuantized(), SAME_MEASURE * tensor(all, p).relativeRms(), p);
        }
        assertEquals(all.quality().meanRelativeRms(), d.baselineMeanRelativeRms(), 1e-12);
        assertEquals(dyn.quality().meanRelativeRms(), d.meanRelativeRms(), 1e-12);
        assertTrue(d.errorRemovedShare() > 0.1, "removed " + d.errorRemovedShare());
    }

    @Test
    void aBudgetBelowTheSmallestOutputIsRefusedBeforeAnythingIsWritten() throws IOException {
        Path src = planted(0);
        Manifest all = convert(src, "all", null, List.of());
        long tooSmall = all.output().weightBytes() - 1;
        QuantflowException e = assertThrows(QuantflowException.class,
                () -> convert(src, "dyn", DynamicBudget.ofBytes(tooSmall), List.of()));
        assertEquals(ErrorCode.INVALID_REQUEST, e.code());
        assertEquals(Reason.DYNAMIC_BUDGET_TOO_SMALL, e.reason());
        assertTrue(e.getMessage().contains("bits/param"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("dyn")));
        QuantflowException bits = assertThrows(QuantflowException.class,
                () -> convert(src, "dyn", DynamicBudget.ofBitsPerParameter(4.5), List.of()));
        assertEquals(ErrorCode.INVALID_REQUEST, bits.code());
        assertEquals(Reason.DYNAMIC_BUDGET_TOO_SMALL, bits.reason());
    }

    /** Sharded sources: the budget is over all shards, each shard's weights are measured, the index agrees. */
    @Test
    void shardedSourcesAndMergedOutputs() throws IOException {
        Path src = tmp.resolve("sharded");
        ModelShape shape = ModelShape.named("tiny-llama");
        SyntheticCheckpoint.write(shape, DType.BF16, 3, src, 1_500_000, IfExists.FAIL, Set.copyOf(shape.outlierTensors(2)), n -> {
        });
        Manifest all = convert(src, "sharded-all", null, List.of());
        assertTrue(all.source().shards() > 1, "shards: " + all.source().shards());
        List<String> planted = shape.outlierTensors(2);
        long budget = all.output().weightBytes() + extra(all, planted.get(0)) + extra(all, planted.get(1)) + 1000;
        Manifest dyn = convert(src, "sharded-dyn", DynamicBudget.ofBytes(budget), List.of());
        assertEquals(Set.copyOf(planted.stream().map(ModuleNames::fullModule).toList()), Set.copyOf(dyn.quality().dynamic().keptModules()));
        assertTrue(dyn.output().weightBytes() <= budget);
        JsonNode index = new ObjectMapper().readTree(tmp.resolve("sharded-dyn/model.safetensors.index.json").toFile());
        assertEquals(String.format("model-00001-of-%05d.safetensors", all.source().shards()),
                index.get("weight_map").get("model.embed_tokens.weight").asText());

        // merged-4bit: the measuring pass reads the merged values, as the conversion does
        Path out = tmp.resolve("merged-dyn");
        Path base = Fixtures.path("tiny-llama/base-bf16");
        Converter.Request plain = new Converter.Request(base, Fixtures.path("tiny-llama/lora-adapter"), tmp.resolve("merged-all"),
                List.of(Formats.MERGED_4BIT), QuantOptions.defaults(), null, IfExists.FAIL, 2);
        Manifest mergedAll = new Converter().convert(plain, Converter.Listener.NONE).manifest();
        long room = mergedAll.output().weightBytes() + 2 * extra(mergedAll, "model.layers.0.self_attn.q_proj.weight");
        Converter.Request r = new Converter.Request(base, Fixtures.path("tiny-llama/lora-adapter"), out,
                List.of(Formats.MERGED_4BIT), QuantOptions.defaults(), null, IfExists.FAIL, 2).withDynamic(DynamicBudget.ofBytes(room));
        Manifest merged = new Converter().convert(r, Converter.Listener.NONE).manifest();
        DynamicSelection d = merged.quality().dynamic();
        assertFalse(d.keptModules().isEmpty());
        assertTrue(merged.output().weightBytes() <= room);
        for (String m : d.keptModules()) {
            assertEquals(tensor(mergedAll, m + ".weight").relativeRms(), tensor(merged, m + ".weight").relativeRmsIfQuantized(),
                    SAME_MEASURE * tensor(mergedAll, m + ".weight").relativeRms(), m);
        }
        // a format that quantizes nothing cannot be dynamic: refused when the options are built, before any work
        QuantflowException quantizesNothing = assertThrows(QuantflowException.class, () -> new Converter.Request(base,
                Fixtures.path("tiny-llama/lora-adapter"), tmp.resolve("x"), List.of(Formats.MERGED_16BIT), null, null, IfExists.FAIL, 2)
                .withDynamic(DynamicBudget.ofBytes(room)));
        assertEquals(ErrorCode.INVALID_REQUEST, quantizesNothing.code());
        assertEquals(Reason.DYNAMIC_NEEDS_4BIT_OUTPUT, quantizesNothing.reason());
        assertFalse(Files.exists(tmp.resolve("x")));
    }

    @Test
    void beatsKeepingWeightsOfTheSameShapesChosenAtRandom() throws IOException {
        compareWithRandom(planted(2), 3);
        compareWithRandom(Fixtures.path("tiny-llama/base-bf16"), 3);
    }

    /** Budget for about {@code n} of the 256x256 weights; then the choice against random ones of the same shapes. */
    private void compareWithRandom(Path src, int n) throws IOException {
        String tag = src.getFileName().toString();
        Manifest all = convert(src, tag + "-all", null, List.of());
        long budget = all.output().weightBytes() + n * extra(all, "model.layers.0.self_attn.q_proj.weight")
                + extra(all, "model.layers.0.self_attn.k_proj.weight") / 2;
        Manifest dyn = convert(src, tag + "-dyn", DynamicBudget.ofBytes(budget), List.of());
        DynamicSelection d = dyn.quality().dynamic();
        assertFalse(d.keptModules().isEmpty());
        double chosen = dyn.quality().meanRelativeRms();

        // the same number of weights of each size, chosen at random: many draws from the measured errors
        Map<Long, List<TensorQuality>> bySize = all.quality().tensors().stream()
                .collect(Collectors.groupingBy(TensorQuality::parameters));
        Map<Long, Integer> keptBySize = new HashMap<>();
        for (String m : d.keptModules()) {
            keptBySize.merge(tensor(all, m + ".weight").parameters(), 1, Integer::sum);
        }
        Random rnd = new Random(42);
        double sum = 0;
        double best = Double.MAX_VALUE;
        Set<String> bestSet = null;
        int draws = 500;
        List<String> oneDraw = null;
        for (int i = 0; i < draws; i++) {
            Set<String> kept = new HashSet<>();
            for (Map.Entry<Long, Integer> e : keptBySize.entrySet()) {
                List<TensorQuality> group = new ArrayList<>(bySize.get(e.getKey()));
                Collections.shuffle(group, rnd);
                group.subList(0, e.getValue()).forEach(t -> kept.add(t.name()));
            }
            double num = 0;
            long params = 0;
            for (TensorQuality t : all.quality().tensors()) {
                params += t.parameters();
                num += kept.contains(t.name()) ? 0 : t.parameters() * t.relativeRms();
            }
            double err = num / params;
            sum += err;
            if (err < best) {
                best = err;
                bestSet = kept;
            }
            Set<String> dynamicSet = d.keptModules().stream().map(m -> m + ".weight").collect(Collectors.toSet());
            if (oneDraw == null && !kept.equals(dynamicSet)) {
                oneDraw = kept.stream().map(ModuleNames::fullModule).sorted().toList();
            }
        }
        double mean = sum / draws;
        assertTrue(chosen <= best * (1 + SAME_MEASURE), tag + ": dynamic " + chosen + " keeping " + d.keptModules()
                + ", best random draw " + best + " keeping " + bestSet);
        assertTrue(chosen < mean, tag + ": dynamic " + chosen + ", random draws' mean " + mean);
        assertEquals(mean, d.randomSameShapeMeanRelativeRms(), 0.02 * mean, tag + ": the manifest's expectation");

        // and one random choice converted for real: the same size, a larger error
        assertNotNull(oneDraw);
        Manifest random = convert(src, tag + "-random", null, oneDraw);
        assertTrue(Math.abs(random.output().weightBytes() - dyn.output().weightBytes()) <= 64,
                random.output().weightBytes() + " vs " + dyn.output().weightBytes());
        assertTrue(chosen < random.quality().meanRelativeRms(), tag + ": dynamic " + chosen + ", random "
                + random.quality().meanRelativeRms() + " keeping " + oneDraw);
        System.out.printf(Locale.ROOT, "%s: kept %d, mean error %.5f -> %.5f (random same shapes %.5f),"
                        + " %.3f -> %.3f bits/param, %.1f%% of the error removed per extra bit/param%n", tag,
                d.keptModules().size(), d.baselineMeanRelativeRms(), chosen, mean, d.baselineBitsPerParameter(),
                d.bitsPerParameter(), 100 * d.errorRemovedSharePerExtraBit());
    }
}
