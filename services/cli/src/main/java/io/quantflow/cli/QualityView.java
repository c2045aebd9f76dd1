package io.quantflow.cli;

import io.quantflow.core.convert.Manifest;
import io.quantflow.core.quality.LayerQuality;
import io.quantflow.core.quality.Quality;
import io.quantflow.core.quality.TensorQuality;
import io.quantflow.core.util.Sizes;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * What every view of a 4-bit output's quality shows, read from its manifest: the grid of layers x
 * modules with each weight's error, the per-layer rows and the headline figures.
 */
record QualityView(Manifest manifest, Quality quality, List<String> modules, List<Integer> layers) {

    static QualityView of(Manifest m) {
        Quality q = m.quality();
        Set<String> modules = new LinkedHashSet<>();
        Set<Integer> layers = new TreeSet<>();
        for (TensorQuality t : q.tensors()) {
            modules.add(t.module());
            layers.add(t.layer());
        }
        List<String> ordered = new ArrayList<>(modules);
        ordered.sort(Comparator.comparingInt(QualityView::rank).thenComparing(x -> x));
        return new QualityView(m, q, List.copyOf(ordered), List.copyOf(layers));
    }

    /** Modules in the order a layer computes them (attention, then MLP), others after by name. */
    private static final List<String> ORDER = List.of("q_proj", "k_proj", "v_proj", "qkv_proj", "o_proj", "c_attn", "gate_proj",
            "up_proj", "gate_up_proj", "w1", "w3", "fc1", "c_fc", "down_proj", "w2", "fc2", "c_proj");

    private static int rank(String module) {
        int i = ORDER.indexOf(module.substring(module.lastIndexOf('.') + 1));
        return i < 0 ? ORDER.size() : i;
    }

    /** The modules of a layer kept in 16 bit. */
    List<String> kept(int layer) {
        return quality.tensors().stream().filter(t -> t.layer() == layer && !t.quantized()).map(TensorQuality::module).toList();
    }

    /** The weight at a cell, or null. */
    TensorQuality cell(int layer, String module) {
        for (TensorQuality t : quality.tensors()) {
            if (t.layer() == layer && t.module().equals(module)) {
                return t;
            }
        }
        return null;
    }

    static String layerName(int layer) {
        return layer < 0 ? "other" : Integer.toString(layer);
    }

    String quantLabel() {
        Manifest.Options o = manifest.options();
        String other = storedAsOtherThanBnb(manifest);
        return other != null ? other : o.quantType() + (o.doubleQuant() ? "+dq" : "");
    }

    /** What the quantized weights are stored as when that is not the 4-bit options' type (compressed-tensors: fp8-e4m3, nvfp4); else null. */
    static String storedAsOtherThanBnb(Manifest m) {
        if (m.quality() == null || m.options() == null) {
            return null;
        }
        return m.quality().tensors().stream().filter(t -> t.quantized()).map(t -> t.storedAs())
                .filter(s -> !s.equals(m.options().quantType())).findFirst().orElse(null);
    }

    /** {@code 75.9M params: 304 MB fp32 / 152 MB bf16 -> 42.6 MB nf4+dq}. */
    String memoryLine() {
        long p = manifest.source().parameters();
        return String.format(Locale.ROOT, "%s params: %s fp32 / %s bf16 -> %s %s", Numbers.count(p),
                Sizes.human(4 * p), Sizes.human(2 * p), Sizes.human(manifest.output().weightBytes()), quantLabel());
    }

    String bitsLine() {
        var d = quality.dynamic();
        return String.format(Locale.ROOT, "%.2f bits/param%s", manifest.output().bitsPerParameter(),
                d == null ? "" : String.format(Locale.ROOT, " (every weight in 4 bit: %.2f)", d.baselineBitsPerParameter()));
    }

    String errorLine() {
        return String.format(Locale.ROOT, "relative RMS error: mean %.4f (parameter-weighted), worst weight %.4f, all values %.4f",
                quality.meanRelativeRms(), quality.maxRelativeRms(), quality.relativeRms());
    }

    /** The dynamic choice in a sentence, or null. */
    String dynamicLine() {
        var d = quality.dynamic();
        if (d == null) {
            return null;
        }
        return String.format(Locale.ROOT, "--dynamic (budget %s) kept %d weight%s in 16 bit: mean error %.4f -> %.4f,"
                        + " %.1f%% of the 4-bit error removed for %.3f extra bits/param = %.1f%% per extra bit/param"
                        + " (the same shapes kept at random: %.4f)",
                d.budget(), d.keptModules().size(), d.keptModules().size() == 1 ? "" : "s", d.baselineMeanRelativeRms(),
                d.meanRelativeRms(), 100 * d.errorRemovedShare(), d.bitsPerParameter() - d.baselineBitsPerParameter(),
                100 * d.errorRemovedSharePerExtraBit(), d.randomSameShapeMeanRelativeRms());
    }

    /** The linear weights sorted by their 4-bit error, worst first. */
    List<TensorQuality> worst(int n) {
        List<TensorQuality> all = new ArrayList<>(quality.tensors());
        all.sort((a, b) -> Double.compare(fourBit(b), fourBit(a)));
        return all.subList(0, Math.min(n, all.size()));
    }

    static double fourBit(TensorQuality t) {
        Double e = t.fourBitError();
        return e == null ? 0 : e;
    }

    List<LayerQuality> layerRows() {
        return quality.layers();
    }
}
