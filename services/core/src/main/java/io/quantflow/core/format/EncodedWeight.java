package io.quantflow.core.format;

import io.quantflow.core.safetensors.TensorSpec;

import java.util.List;

/**
 * One weight as a {@link WeightCodec} writes it: the output tensors it becomes. One of them may have a length
 * known only once the weight is encoded (a JSON quant state whose length depends on a computed number): the
 * core reserves its longest length in the header until then (docs/adr/0001).
 */
public interface EncodedWeight {

    /** The source weight's name. */
    String name();

    /** Values of the weight. */
    long elements();

    /** The output tensors, the {@link #lateTensor} (if any) at {@code lateLength} bytes. */
    List<TensorSpec> specs(int lateLength);

    /** The output tensor whose length is known only once the weight is encoded, or null. */
    String lateTensor();

    /** The longest the late tensor can be (0 when there is none). */
    int maxLateLength();

    /** Values per chunk near {@code preferred}: whole blocks, so that chunks encode independently and in any order. */
    long chunkElements(long preferred);

    /** Starts encoding the weight's values: one encoding per weight per output. */
    WeightEncoding start();
}
