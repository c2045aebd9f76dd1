package io.quantflow.core.pipeline.stage;

import io.quantflow.core.convert.Backends;
import io.quantflow.core.convert.Device;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.format.WeightCodec;
import io.quantflow.core.pipeline.ShardConversion;
import io.quantflow.core.pipeline.ShardResult;
import io.quantflow.core.pipeline.events.Answers;
import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.EventTypes;
import io.quantflow.core.pipeline.events.ObjectRef;
import io.quantflow.core.pipeline.events.ShardWork;
import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.quant.TensorQuantizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.logging.Logger;

/**
 * The merger's and the quantizer's work on one shard work item: download the shard (and config and
 * adapter), convert it with core's {@link ShardConversion} exactly as {@code quantflow convert}
 * converts that shard, upload the result to the item's key for this stage with what it holds
 * beside it, and send the item to its next stage. A redelivered item does the same again and
 * writes the same bytes to the same keys.
 */
public final class ShardStage {
    private static final Logger LOG = Logger.getLogger(ShardStage.class.getName());

    private final Stage stage;
    private final String source;
    private final WorkStore store;
    private final ExecutorService pool;
    private final StageMetrics metrics;

    /** @param stage {@link Stage#MERGE} or {@link Stage#QUANTIZE} */
    public ShardStage(Stage stage, WorkStore store, ExecutorService pool, StageMetrics metrics) {
        if (stage != Stage.MERGE && stage != Stage.QUANTIZE) {
            throw new IllegalArgumentException("a shard stage merges or quantizes, it does not " + stage);
        }
        this.stage = stage;
        this.source = stage.eventSource();
        this.store = store;
        this.pool = pool;
        this.metrics = metrics;
    }

    public void handle(String value, Bus bus) {
        ShardWork item = WorkItems.parse(value, stage);
        String rid = item.requestId();
        if (store.answer(rid) != null) {
            metrics.skipped(stage);
            LOG.info(() -> "request " + rid + " is answered; " + stage + " skips " + item.shard().file());
            return;
        }
        long t0 = System.currentTimeMillis();
        Path scratch = store.scratch(rid + "-" + stage);
        try {
            Plan plan = store.read(store.ref(rid, "plan.json"), Plan.class);
            if (plan == null) {
                throw QuantflowException.of(Reason.STORE_OBJECT_MISSING, "the plan of request " + rid + " is missing from the work bucket");
            }
            Path config = scratch.resolve("config.json");
            store.download(plan.config(), config);
            Path in = scratch.resolve("in").resolve(item.shard().file());
            Files.createDirectories(in.getParent());
            progress(item, 0, bus);
            store.download(item.input(), in);
            Path adapterDir = null;
            OutputSpec spec = OutputOptions.spec(item.output(), plan.outputs().size());
            boolean merges = item.position() == 0 && spec.format().mergesAdapter();
            if (merges) {
                adapterDir = scratch.resolve("adapter");
                Files.createDirectories(adapterDir);
                for (String f : plan.adapterFiles()) {
                    store.download(new ObjectRef(item.adapter().bucket(), item.adapter().prefix() + f), adapterDir.resolve(f));
                }
            }
            Path out = scratch.resolve("out").resolve(item.shard().file());
            Files.createDirectories(out.getParent());
            Device device = OutputOptions.device(item.output());
            Backends.require(device);
            WeightCodec codec = spec.format().codec(spec);
            ShardResult result;
            String engine;
            try (TensorQuantizer accelerator = codec == null || !codec.accelerable() ? null : Backends.openAccelerator(device)) {
                engine = accelerator != null ? accelerator.name() : "cpu " + (codec == null ? "none" : codec.engine());
                result = ShardConversion.run(new ShardConversion.Input(config, in, item.shard().file(), adapterDir), spec, out,
                        accelerator, pool);
            }
            ObjectRef key = item.keys().get(stage);
            store.upload(key, out);
            long millis = System.currentTimeMillis() - t0;
            store.write(new ObjectRef(key.bucket(), StageOutput.key(key.key())), new StageOutput(stage, result, engine, millis));
            ShardWork next = item.next();
            bus.send(next.stage().topic(), rid, CloudEvent.of(EventTypes.SHARD_WORK, source, next.eventId(), rid, next));
            progress(item, item.shard().bytes(), bus);
            metrics.item(stage, item.shard().bytes(), result.bytes(), millis);
        } catch (Bus.Unavailable e) {
            throw e;
        } catch (QuantflowException e) {
            Failures.answer(store, bus, source, rid, e.code(), e.getMessage(), stage, item.output().format(), item.shard().file());
            metrics.failed(stage, e.code());
        } catch (OutOfMemoryError e) {
            Failures.answer(store, bus, source, rid, ErrorCode.OUT_OF_MEMORY, "the " + stage + " service ran out of heap on "
                    + item.shard().file() + "; give it more memory (-Xmx)", stage, item.output().format(), item.shard().file());
            metrics.failed(stage, ErrorCode.OUT_OF_MEMORY);
        } catch (IOException | RuntimeException e) {
            QuantflowException q = Failures.internal(stage + " of " + item.shard().file(), e instanceof RuntimeException r ? r
                    : new UncheckedIOException((IOException) e));
            Failures.answer(store, bus, source, rid, q.code(), q.getMessage(), stage, item.output().format(), item.shard().file());
            metrics.failed(stage, q.code());
        } finally {
            store.release(scratch);
        }
    }

    private void progress(ShardWork item, long done, Bus bus) {
        bus.progress(item.requestId(), CloudEvent.of(EventTypes.PROGRESS, source, stage + "/" + item.eventId() + "/" + done,
                item.requestId(), new Answers.Progress(item.requestId(), stage, item.output().format(),
                        new Answers.ProgressShard(item.shard().index(), item.shard().count(), item.shard().file()), done,
                        item.shard().bytes())));
    }
}
