package io.quantflow.core.pipeline.events;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Where the artifact goes ({@code s3://bucket/prefix} or {@code hf://org/name[@branch]}) and what to do when it
 * already holds one; for a Hub target, whether to create the repository private and whether to commit to a pull
 * request (null: no).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TargetRef(String uri, String ifExists, @JsonProperty("private") Boolean createPrivate, Boolean createPr) {
    public TargetRef(String uri, String ifExists) {
        this(uri, ifExists, null, null);
    }
}
