package io.quantflow.core.pipeline.events;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;

/**
 * One output of a request with the options of {@code quantflow convert}; absent fields take the
 * CLI's defaults. In a shard work item, {@code index} is its position in the request's outputs.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record OutputRequest(Integer index, String format, String quantType, Boolean doubleQuant, Integer blocksize,
                            String computeDtype, List<String> skipModules, String dtype, DynamicRequest dynamic,
                            String device) {

    /** An output of this format with every option left to the defaults. */
    public static OutputRequest of(String format) {
        return new OutputRequest(null, format, null, null, null, null, null, null, null, null);
    }

    public OutputRequest withDtype(String d) {
        return new OutputRequest(index, format, quantType, doubleQuant, blocksize, computeDtype, skipModules, d, dynamic, device);
    }

    public OutputRequest withIndex(int i) {
        return new OutputRequest(i, format, quantType, doubleQuant, blocksize, computeDtype, skipModules, dtype, dynamic, device);
    }

    /** {@code --dynamic}: exactly one of a bits-per-parameter or a byte budget. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record DynamicRequest(Double maxBitsPerParameter, Long maxBytes) {
    }
}
