package io.quantflow.core.pipeline.stage;

import io.quantflow.core.convert.Manifest;
import io.quantflow.core.pipeline.events.ObjectRef;
import io.quantflow.core.pipeline.events.OutputRequest;
import io.quantflow.core.pipeline.events.ShardWork;
import io.quantflow.core.pipeline.events.TargetRef;

import java.util.List;

/**
 * What the fetcher planned for a request ({@code work/<requestId>/plan.json}): where the source's
 * files are, what it holds, and each output with the shards it waits for. The publisher assembles
 * the artifact from it.
 *
 * @param requestHash   sha256 of the request as received, to tell a redelivery from a reused id
 * @param receivedAt    when the fetcher took the request (epoch milliseconds)
 * @param config        the source's config.json
 * @param indexed       whether the source has model.safetensors.index.json (then so does each output)
 * @param otherFiles    the source's files that travel with the weights (tokenizer, generation config, ...)
 * @param adapter       the adapter's files, or null
 * @param adapterFiles  the adapter's file names
 * @param source        the manifest's source section
 * @param sourceBnb4bit whether the source is a bitsandbytes 4-bit model (a 4-bit output's manifest then records
 *                      its requantization error)
 * @param adapterInfo   the manifest's adapter section, or null
 */
public record Plan(String requestId, String requestHash, long receivedAt, long fetchMillis, ObjectRef config, boolean indexed,
                   List<NamedObject> otherFiles, ShardWork.AdapterRef adapter, List<String> adapterFiles,
                   Manifest.Source source, boolean sourceBnb4bit, Manifest.Adapter adapterInfo, List<PlannedOutput> outputs,
                   TargetRef target) {

    /** A file of the source or adapter: its name in the artifact, where it is and its size. */
    public record NamedObject(String name, ObjectRef object, long bytes) {
    }

    /**
     * One output: its resolved options, where it goes, and the source shards it is made of (none
     * for lora, whose one item is the adapter).
     */
    public record PlannedOutput(int index, OutputRequest options, String uri, List<String> shardFiles,
                                int quantizedTensors, int keptTensors, long quantizedParameters) {
        /** How many work items the publisher waits for. */
        public int items() {
            return shardFiles.isEmpty() ? 1 : shardFiles.size();
        }
    }

    public int totalItems() {
        return outputs.stream().mapToInt(PlannedOutput::items).sum();
    }
}
