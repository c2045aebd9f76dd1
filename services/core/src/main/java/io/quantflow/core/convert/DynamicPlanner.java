package io.quantflow.core.convert;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.EncodedWeight;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.format.TensorRole;
import io.quantflow.core.model.SourceShard;
import io.quantflow.core.model.SourceTensor;
import io.quantflow.core.quality.DynamicSelection;
import io.quantflow.core.quality.ModuleNames;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.util.Sizes;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Chooses the weights {@code --dynamic} keeps in 16 bit (docs/adr/0008): from the measured error of
 * every weight, greedily by the error each removes per extra byte (parameters x relative RMS error /
 * (16-bit bytes - 4-bit bytes)), keeping each that still fits the budget. For weights of one dtype
 * the extra bytes are proportional to the parameters, so this is the worst relative error first.
 */
final class DynamicPlanner {
    private DynamicPlanner() {
    }

    /**
     * One weight that could stay in 16 bit.
     *
     * @param quantizedBytes data bytes of its 4-bit tensors; {@code keptBytes} of its 16-bit values
     */
    record Candidate(String name, long[] shape, String dtype, long parameters, double relativeRms, long quantizedBytes,
                     long keptBytes) {
        long extraBytes() {
            return Math.max(1, keptBytes - quantizedBytes);
        }

        double score() {
            return parameters * relativeRms / extraBytes();
        }

        String shapeKey() {
            return dtype + Arrays.toString(shape);
        }
    }

    /** The outputs and plan once {@code --dynamic} has chosen, with what it chose and the errors it measured. */
    record Planned(List<OutputSpec> outputs, ConversionPlan plan, DynamicSelection selection,
                                 Map<String, ErrorSums> measured) {
    }

    /**
     * {@code --dynamic}: checks that the budget holds the smallest output, measures the error of every
     * weight the output would quantize (a pass over those weights, nothing written), chooses the weights
     * to keep in 16 bit ({@link DynamicPlanner}) and plans the output again with them skipped.
     */
    static Planned plan(DynamicBudget budget, long parameters, List<SourceShard> shards, List<OutputSpec> outputs,
                        ConversionPlan plan, ExecutorService pool, Converter.Listener listener) throws IOException {
        List<OutputSpec> quantizing = outputs.stream().filter(OutputSpec::quantizes).toList();
        if (quantizing.size() != 1) {
            throw QuantflowException.of(Reason.DYNAMIC_NEEDS_4BIT_OUTPUT, "--dynamic chooses which weights of a 4-bit output stay in 16 bit:"
                    + " it needs exactly one output that quantizes ("
                    + String.join(" or ", Formats.all().stream().filter(OutputFormat::quantizes).map(OutputFormat::id).toList()) + ")");
        }
        OutputSpec q = quantizing.get(0);
        long budgetBytes = budget.bytes(parameters);
        long baseline = plan.weightBytesBound(q);
        if (baseline > budgetBytes) {
            throw QuantflowException.of(Reason.DYNAMIC_BUDGET_TOO_SMALL, String.format(Locale.ROOT,
                    "the budget %s (%d bytes of weight files) is below the smallest possible output, every weight in 4 bit:"
                            + " %d bytes (%s, %.3f bits/param)", budget.describe(), budgetBytes, baseline,
                    Sizes.human(baseline), baseline * 8.0 / parameters));
        }
        AtomicLong done = new AtomicLong();
        listener.started(plan.plans(q).stream().mapToLong(p -> p.shard().tensors().stream()
                .filter(t -> p.role(t.name()) == TensorRole.QUANTIZE).mapToLong(SourceTensor::sourceBytes).sum()).sum());
        Map<String, ErrorSums> measured = ErrorSurvey.measure(plan.plans(q), pool,
                n -> listener.progress(done.addAndGet(n)));
        List<DynamicPlanner.Candidate> candidates = DynamicPlanner.candidates(plan.plans(q), measured);
        List<DynamicPlanner.Candidate> kept = new ArrayList<>(DynamicPlanner.choose(candidates, budgetBytes - baseline));
        while (true) {
            List<String> skip = new ArrayList<>(q.quant().skipModules());
            kept.forEach(c -> skip.add(ModuleNames.fullModule(c.name())));
            QuantOptions o = q.quant();
            OutputSpec q2 = q.withQuant(new QuantOptions(o.quantType(), o.doubleQuant(), o.blocksize(), o.computeDtype(), skip));
            List<OutputSpec> outputs2 = outputs.stream().map(x -> x == q ? q2 : x).toList();
            ConversionPlan plan2 = ConversionPlan.of(shards, outputs2);
            long planned = plan2.weightBytesBound(q2);
            // the choice estimated each weight's bytes from its data; the header decides the last few bytes
            if (planned <= budgetBytes || kept.isEmpty()) {
                DynamicSelection selection = DynamicPlanner.selection(budget, budgetBytes, candidates, kept,
                        baseline, planned, parameters);
                return new Planned(outputs2, plan2, selection, measured);
            }
            kept.remove(kept.size() - 1);
        }
    }

    /** The candidates of an output's plans, each with its measured error. */
    static List<Candidate> candidates(List<ShardPlan> plans, Map<String, ErrorSums> measured) {
        List<Candidate> out = new ArrayList<>();
        for (ShardPlan plan : plans) {
            for (SourceTensor t : plan.shard().tensors()) {
                EncodedWeight q = plan.encoded(t.name());
                if (q == null) {
                    continue;
                }
                long quantBytes = q.specs(q.maxLateLength()).stream().mapToLong(s -> s.byteSize()).sum();
                long keptBytes = t.elements() * plan.target(t).size();
                double err = measured.get(t.name()).relativeRms();
                out.add(new Candidate(t.name(), t.shape(), plan.target(t).torchName(), t.elements(),
                        Double.isFinite(err) ? err : Double.MAX_VALUE, quantBytes, keptBytes));
            }
        }
        return out;
    }

    /** The weights to keep, in the order chosen, whose estimated extra bytes fit in {@code room}. */
    static List<Candidate> choose(List<Candidate> candidates, long room) {
        List<Candidate> ranked = new ArrayList<>(candidates);
        ranked.sort(Comparator.comparingDouble(Candidate::score).reversed().thenComparing(Candidate::name));
        List<Candidate> kept = new ArrayList<>();
        long used = 0;
        for (Candidate c : ranked) {
            if (kept.size() == candidates.size() - 1) {
                break; // a 4-bit output keeps at least one weight in 4 bit
            }
            if (used + c.extraBytes() <= room) {
                kept.add(c);
                used += c.extraBytes();
            }
        }
        return kept;
    }

    /** Parameter-weighted mean relative RMS error of {@code all}, those in {@code kept} counting 0. */
    static double meanError(List<Candidate> all, Set<String> kept) {
        double num = 0;
        long params = 0;
        for (Candidate c : all) {
            params += c.parameters();
            if (!kept.contains(c.name())) {
                num += c.parameters() * c.relativeRms();
            }
        }
        return params == 0 ? 0 : num / params;
    }

    /**
     * The expected mean error when as many weights of each shape as were kept are kept, chosen at
     * random among the weights of that shape: the same sizes, no knowledge of the errors.
     */
    static double randomSameShapeError(List<Candidate> all, List<Candidate> kept) {
        Map<String, List<Candidate>> groups = new HashMap<>();
        all.forEach(c -> groups.computeIfAbsent(c.shapeKey(), k -> new ArrayList<>()).add(c));
        Map<String, Integer> keptPerGroup = new HashMap<>();
        kept.forEach(c -> keptPerGroup.merge(c.shapeKey(), 1, Integer::sum));
        double num = 0;
        long params = 0;
        for (Candidate c : all) {
            params += c.parameters();
            num += c.parameters() * c.relativeRms();
        }
        for (Map.Entry<String, Integer> e : keptPerGroup.entrySet()) {
            List<Candidate> g = groups.get(e.getKey());
            double meanRemoved = g.stream().mapToDouble(c -> c.parameters() * c.relativeRms()).average().orElse(0);
            num -= e.getValue() * meanRemoved;
        }
        return params == 0 ? 0 : num / params;
    }

    static DynamicSelection selection(DynamicBudget budget, long budgetBytes, List<Candidate> all, List<Candidate> kept,
                                      long baselineBytes, long plannedBytes, long parameters) {
        Set<String> keptNames = new HashSet<>();
        kept.forEach(c -> keptNames.add(c.name()));
        double base = meanError(all, Set.of());
        double after = meanError(all, keptNames);
        double baseBits = baselineBytes * 8.0 / parameters;
        double bits = plannedBytes * 8.0 / parameters;
        double removed = base == 0 ? 0 : 1 - after / base;
        double perBit = kept.isEmpty() || bits <= baseBits ? 0 : removed / (bits - baseBits);
        return new DynamicSelection(budget.describe(), budgetBytes, DynamicSelection.RULE,
                kept.stream().map(c -> ModuleNames.fullModule(c.name())).toList(), baselineBytes, plannedBytes,
                baseBits, bits, base, after, removed, perBit, randomSameShapeError(all, kept));
    }
}
