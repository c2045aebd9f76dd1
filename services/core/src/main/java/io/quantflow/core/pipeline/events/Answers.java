package io.quantflow.core.pipeline.events;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.quantflow.core.convert.Manifest;

import java.util.List;

/** The payloads of the answers and progress events. */
public final class Answers {
    private Answers() {
    }

    /** {@code conversion-completed}: one entry per output, in the request's order. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Completed(String requestId, boolean cached, List<CompletedOutput> outputs, HubCommit commit) {
        public Completed(String requestId, boolean cached, List<CompletedOutput> outputs) {
            this(requestId, cached, outputs, null);
        }
    }

    /** The commit that published a request to an hf:// target. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record HubCommit(String repo, String branch, String commit, String pullRequestUrl) {
    }

    public record CompletedOutput(String format, String uri, Manifest manifest) {
    }

    /** {@code conversion-failed}: a stable code, one line a person can act on, and where it happened. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Failed(String requestId, String code, String message, Stage stage, String format, String shard) {
    }

    /** {@code conversion-progress}: best effort. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Progress(String requestId, Stage stage, String format, ProgressShard shard, long bytesDone, long bytesTotal) {

        /** The whole request planned by {@code stage}: {@code bytesTotal} of weights, no output or shard yet. */
        public static Progress planned(String requestId, Stage stage, long bytesTotal) {
            return new Progress(requestId, stage, null, null, bytesTotal, bytesTotal);
        }
    }

    public record ProgressShard(int index, int count, String file) {
    }
}
