package io.quantflow.core.pipeline.events;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;
import java.util.Map;

/**
 * The routing slip of one source shard of one output (schemas/shard-work.schema.json): each stage
 * does {@code itinerary[position]}, writes {@code keys[stage]} and sends the item on with the next
 * position to the next stage's topic.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ShardWork(String requestId, OutputRequest output, Shard shard, AdapterRef adapter, List<Stage> itinerary,
                        int position, Map<Stage, ObjectRef> keys, TargetRef target) {

    /** The source shard: its position, file name, where it is, its size and (when known) sha256. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Shard(int index, int count, String file, ObjectRef object, long bytes, String sha256) {
    }

    /** The staged adapter directory. */
    public record AdapterRef(String bucket, String prefix) {
    }

    /** The stage this item is addressed to. */
    @JsonIgnore
    public Stage stage() {
        return itinerary.get(position);
    }

    /** The object this item's stage reads: the previous stage's output, or the source shard. */
    @JsonIgnore
    public ObjectRef input() {
        return position == 0 ? shard.object() : keys.get(itinerary.get(position - 1));
    }

    /** This item addressed to the next stage. */
    public ShardWork next() {
        if (position + 1 >= itinerary.size()) {
            throw new IllegalStateException("publish is the last stage");
        }
        return new ShardWork(requestId, output, shard, adapter, itinerary, position + 1, keys, target);
    }

    /** The CloudEvent id of this item at this stage: the same for a redelivered item. */
    @JsonIgnore
    public String eventId() {
        return requestId + "/" + output.index() + "-" + output.format() + "/" + shard.file() + "/" + position;
    }
}
