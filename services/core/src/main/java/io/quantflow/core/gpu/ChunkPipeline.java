package io.quantflow.core.gpu;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.quant.TensorQuantizer;
import io.quantflow.core.safetensors.TensorInfo;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongConsumer;

/**
 * Streams the chunks of a pass through a fixed number of slots. Each slot is a set of buffers and
 * one worker thread that takes the next chunk in pass order and moves it through three stages:
 * read (file to slot), compute (slot to slot: on the GPU, copy in, quantize, copy out) and write
 * (slot to output file, absmax to the tensor's array). The slots run at once, so while one slot
 * reads, another's chunk is on the GPU and a third writes; memory is the slots' buffers, whatever
 * the size of the tensors.
 *
 * <p>A chunk can be read and computed before its tensor is asked for, but it is written only once
 * {@link #quantize} has said where that tensor goes: so the slots read on across tensor boundaries
 * while the caller finishes the previous tensor (its statistics, its quant state). Chunks are taken
 * in order and each slot holds one, so the chunks of an asked-for tensor never wait behind those of
 * a later one.
 */
public final class ChunkPipeline implements TensorQuantizer.Pass {

    /** What a slot does with a chunk. Calls for one slot come from one thread, one at a time. */
    public interface Stages {
        /** Reads the chunk's source values into the slot. */
        void read(int slot, TensorInfo tensor, Chunk chunk) throws IOException;

        /** Quantizes what the slot holds; its packed codes and absmax stay in the slot. */
        void compute(int slot, TensorInfo tensor, Chunk chunk) throws IOException;

        /**
         * Writes the slot's packed codes at {@code packedOffset + chunk.packedOffset()} and copies its
         * absmax values into {@code absmax} from {@code chunk.firstBlock(blocksize)}.
         */
        void write(int slot, Chunk chunk, long packedOffset, float[] absmax) throws IOException;
    }

    private final List<TensorInfo> order;
    private final List<Chunk> chunks;
    private final int blocksize;
    private final Stages stages;
    private final LongConsumer progress;
    private final Target[] targets;
    private final AtomicInteger nextChunk = new AtomicInteger();
    private final List<Thread> workers = new ArrayList<>();

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private int cursor;
    private Throwable failure;
    private boolean closed;

    /** Where a tensor goes, once asked for, and how many of its chunks are written. */
    private static final class Target {
        final int chunks;
        int written;
        long packedOffset = -1;
        float[] absmax;

        Target(int chunks) {
            this.chunks = chunks;
        }
    }

    public ChunkPipeline(List<TensorInfo> order, int blocksize, long chunkBytes, int slots, Stages stages,
                         LongConsumer progress, String threadName) {
        if (slots < 1) {
            throw new IllegalArgumentException("at least one slot");
        }
        this.order = List.copyOf(order);
        this.blocksize = blocksize;
        this.chunks = ChunkPlan.of(this.order, blocksize, chunkBytes);
        this.stages = stages;
        this.progress = progress;
        int[] counts = new int[this.order.size()];
        for (Chunk c : chunks) {
            counts[c.tensor()]++;
        }
        targets = new Target[counts.length];
        for (int i = 0; i < counts.length; i++) {
            targets[i] = new Target(counts[i]);
        }
        int threads = Math.min(slots, Math.max(1, chunks.size()));
        for (int s = 0; s < threads; s++) {
            int slot = s;
            workers.add(Thread.ofPlatform().daemon().name(threadName + "-" + s).start(() -> work(slot)));
        }
    }

    /** The chunks of this pass, in the order they are taken. */
    public List<Chunk> chunks() {
        return chunks;
    }

    @Override
    public float[] quantize(TensorInfo tensor, long packedOffset) throws IOException {
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the pass is closed");
            }
            if (cursor >= order.size() || !order.get(cursor).equals(tensor)) {
                throw new IllegalArgumentException("asked for " + tensor + " but the pass expects "
                        + (cursor < order.size() ? order.get(cursor) : "no more tensors"));
            }
            Target t = targets[cursor];
            t.packedOffset = packedOffset;
            t.absmax = new float[Math.toIntExact((tensor.elements() + blocksize - 1) / blocksize)];
            changed.signalAll();
            while (t.written < t.chunks && failure == null) {
                changed.await();
            }
            if (failure != null) {
                throw rethrow(failure);
            }
            cursor++;
            return t.absmax;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail(e);
            throw QuantflowException.of(Reason.INTERRUPTED, "conversion interrupted");
        } finally {
            lock.unlock();
        }
    }

    private void work(int slot) {
        try {
            while (true) {
                int k = nextChunk.getAndIncrement();
                if (k >= chunks.size() || stopping()) {
                    return;
                }
                Chunk c = chunks.get(k);
                TensorInfo tensor = order.get(c.tensor());
                stages.read(slot, tensor, c);
                if (stopping()) {
                    return;
                }
                stages.compute(slot, tensor, c);
                Target t = awaitTarget(c.tensor());
                if (t == null) {
                    return;
                }
                stages.write(slot, c, t.packedOffset, t.absmax);
                progress.accept((long) c.length() * tensor.dtype().size());
                written(t);
            }
        } catch (Throwable e) {
            fail(e);
        }
    }

    private boolean stopping() {
        lock.lock();
        try {
            return closed || failure != null;
        } finally {
            lock.unlock();
        }
    }

    /** Waits until the tensor has been asked for; null when the pass stops first. */
    private Target awaitTarget(int tensor) throws InterruptedException {
        lock.lock();
        try {
            Target t = targets[tensor];
            while (t.absmax == null && !closed && failure == null) {
                changed.await();
            }
            return closed || failure != null ? null : t;
        } finally {
            lock.unlock();
        }
    }

    private void written(Target t) {
        lock.lock();
        try {
            t.written++;
            if (t.written == t.chunks) {
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    private void fail(Throwable e) {
        lock.lock();
        try {
            if (failure == null) {
                failure = e;
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Stops the slots and waits until none of them touches its buffers any more. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        boolean interrupted = false;
        for (Thread w : workers) {
            while (true) {
                try {
                    w.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static RuntimeException rethrow(Throwable e) throws IOException {
        if (e instanceof IOException io) {
            throw io;
        }
        if (e instanceof RuntimeException re) {
            throw re;
        }
        if (e instanceof Error err) {
            throw err;
        }
        return QuantflowException.of(Reason.WORKER_FAILED, String.valueOf(e), e);
    }
}
