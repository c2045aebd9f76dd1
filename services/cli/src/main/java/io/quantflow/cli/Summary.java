package io.quantflow.cli;

import io.quantflow.core.convert.Manifest;
import io.quantflow.core.quality.DynamicSelection;
import io.quantflow.core.quality.Quality;
import io.quantflow.core.quality.TensorQuality;
import io.quantflow.core.util.Sizes;

import java.io.PrintStream;
import java.util.Locale;

/** The lines {@code convert} and {@code submit} print for each output, from its manifest. */
final class Summary {
    private Summary() {
    }

    /** What a conversion made: the format and options, the error, the adapter, the sizes and how long it took. */
    static void print(PrintStream out, Object source, Object target, Manifest m) {
        Manifest.Options o = m.options();
        if (o != null) {
            String other = QualityView.storedAsOtherThanBnb(m);
            if (other != null) {
                out.printf(Locale.ROOT, "converted %s -> %s (%s, weights in %s)%n", source, target, m.format(), other);
            } else {
                out.printf(Locale.ROOT, "converted %s -> %s (%s %s%s, blocksize %d)%n", source, target,
                        m.format(), o.quantType(), o.doubleQuant() ? "+double quant" : "", o.blocksize());
            }
            out.printf(Locale.ROOT, "  %d tensors quantized (%s parameters), %d kept in 16 bit%n",
                    m.output().quantizedTensors(), Numbers.count(m.output().quantizedParameters()), m.output().keptTensors());
        } else {
            out.printf(Locale.ROOT, "converted %s -> %s (%s)%n", source, target, m.format());
        }
        if (m.quality() != null) {
            Quality q = m.quality();
            out.printf(Locale.ROOT, "  error: mean relative RMS %.4f (parameter-weighted), worst weight %.4f; see quantflow report%n",
                    q.meanRelativeRms(), q.maxRelativeRms());
            DynamicSelection d = q.dynamic();
            if (d != null) {
                printDynamic(out, d, q);
            }
        }
        if (m.adapter() != null) {
            out.printf(Locale.ROOT, "  adapter %s: %d LoRA modules (r=%d, alpha=%s%s%s)%s%n", m.adapter().path(), m.adapter().modules(),
                    m.adapter().r(), Numbers.plain(m.adapter().loraAlpha()), m.adapter().useRslora() ? ", rslora" : "",
                    m.adapter().useDora() ? ", DoRA" : "",
                    m.adapter().replacedTensors() > 0 ? ", " + m.adapter().replacedTensors() + " tensors replaced" : "");
        }
        if (m.output().requantizationError() != null) {
            out.printf(Locale.ROOT, "  warning: the base was already 4-bit; quantizing the merged weights again adds %.2f%% relative RMS error%n",
                    m.output().requantizationError() * 100);
        }
        out.printf(Locale.ROOT, "  %s %s -> %s, %.2f bits/param%n", m.source().dtype(), Sizes.human(m.source().weightBytes()),
                Sizes.human(m.output().weightBytes()), m.output().bitsPerParameter());
        double secs = Math.max(1, m.timings().totalMillis()) / 1000.0;
        if (Boolean.TRUE.equals(m.cached()) || m.variant() != null) {
            out.printf(Locale.ROOT, "  %d files + manifest in %.1f s%n", m.files().size(), secs);
        } else {
            out.printf(Locale.ROOT, "  %d files + manifest in %.1f s (%s/s of source)%n", m.files().size(), secs,
                    Sizes.human((long) (m.source().weightBytes() / secs)));
        }
    }

    /** What --dynamic kept in 16 bit, and what that bought. */
    private static void printDynamic(PrintStream out, DynamicSelection d, Quality q) {
        out.printf(Locale.ROOT, "  dynamic (budget %s): %d weight%s kept in 16 bit%s%n", d.budget(), d.keptModules().size(),
                d.keptModules().size() == 1 ? "" : "s", d.keptModules().isEmpty() ? " (the budget holds no more than 4 bits everywhere)" : ":");
        for (String module : d.keptModules()) {
            Double e = q.tensors().stream().filter(t -> t.name().equals(module + ".weight")).findFirst()
                    .map(TensorQuality::relativeRmsIfQuantized).orElse(null);
            out.printf(Locale.ROOT, "    %s%s%n", module, e == null ? "" : String.format(Locale.ROOT, "  (4-bit error %.4f)", e));
        }
        out.printf(Locale.ROOT, "    planned %.3f bits/param (every weight in 4 bit: %.3f); mean error %.4f -> %.4f,"
                        + " %.1f%% removed, %.1f%% per extra bit/param (same shapes at random: %.4f)%n",
                d.bitsPerParameter(), d.baselineBitsPerParameter(), d.baselineMeanRelativeRms(), d.meanRelativeRms(),
                100 * d.errorRemovedShare(), 100 * d.errorRemovedSharePerExtraBit(), d.randomSameShapeMeanRelativeRms());
    }
}
