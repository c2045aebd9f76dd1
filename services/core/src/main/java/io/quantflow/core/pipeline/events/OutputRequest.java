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

    /** An output of {@code format} with every option absent (the CLI's defaults) until the builder sets it. */
    public static Builder builder(String format) {
        return new Builder(format);
    }

    public OutputRequest withIndex(int i) {
        return new OutputRequest(i, format, quantType, doubleQuant, blocksize, computeDtype, skipModules, dtype, dynamic, device);
    }

    /** Names the options an output sets; the others stay absent. */
    public static final class Builder {
        private final String format;
        private Integer index;
        private String quantType;
        private Boolean doubleQuant;
        private Integer blocksize;
        private String computeDtype;
        private List<String> skipModules;
        private String dtype;
        private DynamicRequest dynamic;
        private String device;

        private Builder(String format) {
            this.format = format;
        }

        public Builder index(Integer i) {
            index = i;
            return this;
        }

        public Builder quantType(String t) {
            quantType = t;
            return this;
        }

        public Builder doubleQuant(Boolean d) {
            doubleQuant = d;
            return this;
        }

        public Builder blocksize(Integer b) {
            blocksize = b;
            return this;
        }

        public Builder computeDtype(String d) {
            computeDtype = d;
            return this;
        }

        public Builder skipModules(List<String> m) {
            skipModules = m;
            return this;
        }

        public Builder dtype(String d) {
            dtype = d;
            return this;
        }

        public Builder dynamic(DynamicRequest d) {
            dynamic = d;
            return this;
        }

        public Builder device(String d) {
            device = d;
            return this;
        }

        public OutputRequest build() {
            return new OutputRequest(index, format, quantType, doubleQuant, blocksize, computeDtype, skipModules, dtype, dynamic, device);
        }
    }

    /** {@code --dynamic}: exactly one of a bits-per-parameter or a byte budget. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record DynamicRequest(Double maxBitsPerParameter, Long maxBytes) {
    }
}
