package io.quantflow.core.pipeline.events;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;

/** The data of {@code conversion-requested} (schemas/conversion-requested.schema.json). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ConversionRequest(String requestId, String source, String adapter, List<OutputRequest> outputs,
                                TargetRef target) {
}
