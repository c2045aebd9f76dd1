package io.quantflow.core.pipeline.stage;

import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.EventTypes;
import io.quantflow.core.pipeline.events.ShardWork;
import io.quantflow.core.pipeline.events.Stage;

/** Reads a shard work item from a work topic; anything else is for the dead-letter topic. */
final class WorkItems {
    private WorkItems() {
    }

    static ShardWork parse(String value, Stage stage) {
        CloudEvent event = CloudEvent.parse(value);
        if (!EventTypes.SHARD_WORK.equals(event.type())) {
            throw new CloudEvent.MalformedEvent("a work topic carries " + EventTypes.SHARD_WORK + ", not " + event.type());
        }
        ShardWork item;
        try {
            item = event.data(ShardWork.class);
        } catch (CloudEvent.InvalidPayload e) {
            throw new CloudEvent.MalformedEvent("not a shard work item: " + e.getMessage());
        }
        if (item.requestId() == null || item.itinerary() == null || item.keys() == null || item.shard() == null
                || item.output() == null || item.position() < 0 || item.position() >= item.itinerary().size()) {
            throw new CloudEvent.MalformedEvent("an incomplete shard work item");
        }
        if (item.stage() != stage) {
            throw new CloudEvent.MalformedEvent("an item for stage " + item.stage() + " on the " + stage + " topic");
        }
        return item;
    }
}
