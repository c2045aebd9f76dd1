package io.quantflow.core.pipeline.events;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quantflow.core.contract.Schemas;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The stages as events name them: each stage's wire name, service and topic, and events that carry
 * stages read and written exactly as the schemas' examples spell them (the enum changes nothing on
 * the wire).
 */
class StageTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void eachStageHasItsWireNameServiceAndTopic() {
        assertEquals(List.of("fetch", "merge", "quantize", "publish"), Arrays.stream(Stage.values()).map(Stage::wire).toList());
        assertEquals(List.of("fetcher", "merger", "quantizer", "publisher"), Arrays.stream(Stage.values()).map(Stage::service).toList());
        assertEquals(List.of("conversion-requested", "quantflow-merge", "quantflow-quantize", "quantflow-publish"),
                Arrays.stream(Stage.values()).map(Stage::topic).toList());
        assertEquals("/quantflow/merger", Stage.MERGE.eventSource());
        assertEquals("quantize", Stage.QUANTIZE.toString());
        for (Stage s : Stage.values()) {
            assertEquals(s, Stage.of(s.wire()));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Stage.of("quantise"));
        assertTrue(e.getMessage().contains("quantise"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Stage.of("QUANTIZE"));
    }

    @Test
    void aShardWorkItemReadsAndWritesAsTheExampleSpellsIt() throws IOException {
        JsonNode example = example("shard-work");
        ShardWork item = CloudEvent.parse(example.toString()).data(ShardWork.class);
        assertEquals(List.of(Stage.MERGE, Stage.QUANTIZE, Stage.PUBLISH), item.itinerary());
        assertEquals(Stage.QUANTIZE, item.stage());
        assertEquals(item.keys().get(Stage.MERGE), item.input());
        assertEquals("support-bot/v3/merged-4bit/model-00001-of-00002.safetensors", item.keys().get(Stage.PUBLISH).key());
        assertEquals(example.get("data"), JSON.readTree(Json.bytes(item)));
        Schemas.assertValid("shard-work", CloudEvent.of(EventTypes.SHARD_WORK, Stage.MERGE.eventSource(), "id", item.requestId(), item)
                .toJson());
    }

    @Test
    void progressAndFailedAnswersReadAndWriteTheirStageAsTheExamplesSpellIt() throws IOException {
        JsonNode progress = example("conversion-progress");
        Answers.Progress p = CloudEvent.parse(progress.toString()).data(Answers.Progress.class);
        assertEquals(Stage.QUANTIZE, p.stage());
        assertEquals(progress.get("data"), JSON.readTree(Json.bytes(p)));

        JsonNode failed = example("conversion-failed");
        Answers.Failed f = CloudEvent.parse(failed.toString()).data(Answers.Failed.class);
        assertEquals(Stage.FETCH, f.stage());
        assertEquals(failed.get("data"), JSON.readTree(Json.bytes(f)));
        Schemas.assertValid("conversion-failed", CloudEvent.of(EventTypes.FAILED, Stage.PUBLISH.eventSource(), "failed/r", "r",
                new Answers.Failed("r", "INTERNAL", "m", Stage.PUBLISH, null, null)).toJson());
    }

    @Test
    void anItemWithAStageTheEventsDoNotKnowIsNotAWorkItem() throws IOException {
        String unknown = example("shard-work").toString().replace("\"itinerary\":[\"merge\"", "\"itinerary\":[\"mix\"");
        assertTrue(unknown.contains("\"mix\""));
        assertThrows(CloudEvent.InvalidPayload.class, () -> CloudEvent.parse(unknown).data(ShardWork.class));
        String unknownKey = example("shard-work").toString().replace("\"keys\":{\"merge\"", "\"keys\":{\"mix\"");
        assertTrue(unknownKey.contains("\"mix\""));
        assertThrows(CloudEvent.InvalidPayload.class, () -> CloudEvent.parse(unknownKey).data(ShardWork.class));
    }

    @Test
    void aWorkItemsKeysKeepTheItinerarysOrder() throws IOException {
        ShardWork item = new ShardWork("r", null, null, null, List.of(Stage.QUANTIZE, Stage.PUBLISH), 0,
                new java.util.LinkedHashMap<>(Map.of(Stage.QUANTIZE, new ObjectRef("w", "q"))), null);
        item.keys().put(Stage.PUBLISH, new ObjectRef("m", "p"));
        JsonNode tree = JSON.readTree(Json.bytes(item));
        assertEquals("[\"quantize\",\"publish\"]", tree.get("itinerary").toString());
        assertEquals("{\"quantize\":{\"bucket\":\"w\",\"key\":\"q\"},\"publish\":{\"bucket\":\"m\",\"key\":\"p\"}}", tree.get("keys").toString());
    }

    private static JsonNode example(String name) throws IOException {
        return JSON.readTree(Files.readString(Schemas.DIR.resolve("examples/" + name + ".json")));
    }
}
