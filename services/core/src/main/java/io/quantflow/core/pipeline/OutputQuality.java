package io.quantflow.core.pipeline;

import io.quantflow.core.convert.OutputTensor;
import io.quantflow.core.convert.QualityBuilder;
import io.quantflow.core.quality.MeasuredTensor;
import io.quantflow.core.quality.Quality;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The quality section of a 4-bit output put together from its shards' results: the one
 * {@code Converter} writes for the same model and options (the same {@link QualityBuilder}, fed the
 * tensors and errors each shard's conversion recorded).
 */
public final class OutputQuality {
    private OutputQuality() {
    }

    /**
     * The output's quality section, or null when a result carries no tensors (a 16-bit output, or a
     * result written by a quantizer older than {@link ShardResult#tensors}).
     *
     * @param shardsInOrder the output's shard results, in the source's shard order
     */
    public static Quality of(List<ShardResult> shardsInOrder) {
        if (shardsInOrder.isEmpty() || shardsInOrder.stream().anyMatch(r -> r.tensors().isEmpty())) {
            return null;
        }
        List<OutputTensor> tensors = new ArrayList<>();
        Map<String, MeasuredTensor> measured = new HashMap<>();
        for (ShardResult r : shardsInOrder) {
            tensors.addAll(r.tensors());
            r.weightErrors().forEach(e -> measured.put(e.name(), e.measured()));
        }
        return QualityBuilder.build(tensors, measured);
    }
}
