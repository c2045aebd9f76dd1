package io.quantflow.core.pipeline;

import io.quantflow.core.convert.OutputTensor;
import io.quantflow.core.quality.AbsmaxOutliers;
import io.quantflow.core.quality.MeasuredTensor;
import io.quantflow.core.quant.ErrorSums;

import java.util.List;

/**
 * What converting one source shard for one output wrote: what a publisher needs to index the file and
 * describe it. A plain record, sent as JSON between services.
 *
 * @param fileName            the output file's name (the source shard's)
 * @param bytes               the file's size
 * @param sha256              the file's SHA-256, in hex
 * @param dataLength          the bytes of its data section (what the index's total_size adds up)
 * @param tensorNames         the tensors it holds, in file order (the index's weight_map)
 * @param quantizedCount      weights quantized to 4 bit
 * @param keptCount           source tensors kept as they are or in 16 bit
 * @param quantizedParameters elements of the quantized weights
 * @param weightErrors        what each weight quantized lost, in name order; a weight that a GPU quantized
 *                            has none (that backend does not measure)
 * @param tensors             of a 4-bit output, every source tensor as the quality section counts it, in name
 *                            order; empty for a 16-bit output (and in a result written before this field existed)
 */
public record ShardResult(String fileName, long bytes, String sha256, long dataLength, List<String> tensorNames,
                          int quantizedCount, int keptCount, long quantizedParameters, List<WeightError> weightErrors,
                          List<OutputTensor> tensors) {

    public ShardResult {
        tensorNames = List.copyOf(tensorNames);
        weightErrors = List.copyOf(weightErrors);
        tensors = tensors == null ? List.of() : List.copyOf(tensors);
    }

    /**
     * What quantizing one weight cost, as the manifest's quality section is computed from: the sums of
     * {@code io.quantflow.core.quant.ErrorSums} and the absmax outliers of
     * {@code io.quantflow.core.quality.AbsmaxOutliers.Result}.
     */
    public record WeightError(String name, long values, double squaredError, double squaredValue, float maxAbsError,
                              int blocks, int outlierBlocks, float medianAbsmax) {

        static WeightError of(String name, MeasuredTensor m) {
            return new WeightError(name, m.error().values(), m.error().squaredError(), m.error().squaredValue(),
                    m.error().maxAbsError(), m.outliers().blocks(), m.outliers().outlierBlocks(), m.outliers().medianAbsmax());
        }

        /** The measurement this was made from, with the same sums. */
        public MeasuredTensor measured() {
            ErrorSums sums = new ErrorSums();
            sums.add(values, squaredError, squaredValue, maxAbsError);
            return new MeasuredTensor(sums, new AbsmaxOutliers.Result(blocks, outlierBlocks, medianAbsmax));
        }
    }
}
