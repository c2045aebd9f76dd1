package io.quantflow.core.convert;

import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.safetensors.Shapes;
import io.quantflow.core.quant.DoubleQuantizer;
import io.quantflow.core.quant.QuantState;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.TensorSpec;

import java.util.ArrayList;
import java.util.List;

/**
 * The tensors bitsandbytes writes for one 4-bit weight {@code W} (as transformers' save_pretrained
 * stores a {@code Params4bit}): {@code W} (packed codes, U8 [n/2, 1]), {@code W.absmax},
 * {@code W.quant_map}, with double quantization {@code W.nested_absmax} and {@code W.nested_quant_map},
 * and {@code W.quant_state.bitsandbytes__<type>} (the quant-state JSON as U8 bytes).
 *
 * @param dtype the 16-bit dtype of the weight's values, recorded in the quant state
 */
record QuantizedTensorNames(String weight, DType dtype, long[] shape, QuantOptions options) {

    String packed() {
        return weight;
    }

    String absmax() {
        return weight + ".absmax";
    }

    String quantMap() {
        return weight + ".quant_map";
    }

    String nestedAbsmax() {
        return weight + ".nested_absmax";
    }

    String nestedQuantMap() {
        return weight + ".nested_quant_map";
    }

    String quantState() {
        return weight + "." + QuantState.tensorSuffix(options.quantType());
    }

    long elements() {
        return Shapes.elements(shape);
    }

    long blocks() {
        return (elements() + options.blocksize() - 1) / options.blocksize();
    }

    long nestedBlocks() {
        return (blocks() + DoubleQuantizer.NESTED_BLOCKSIZE - 1) / DoubleQuantizer.NESTED_BLOCKSIZE;
    }

    QuantState state(float nestedOffset) {
        return new QuantState(options.quantType(), options.blocksize(), dtype, shape, options.doubleQuant(), nestedOffset);
    }

    /** The output tensors, with the quant-state JSON given {@code stateLength} bytes. */
    List<TensorSpec> specs(int stateLength) {
        List<TensorSpec> out = new ArrayList<>(6);
        out.add(new TensorSpec(packed(), DType.U8, new long[] {(elements() + 1) / 2, 1}));
        out.add(new TensorSpec(absmax(), options.doubleQuant() ? DType.U8 : DType.F32, new long[] {blocks()}));
        out.add(new TensorSpec(quantMap(), DType.F32, new long[] {16}));
        if (options.doubleQuant()) {
            out.add(new TensorSpec(nestedAbsmax(), DType.F32, new long[] {nestedBlocks()}));
            out.add(new TensorSpec(nestedQuantMap(), DType.F32, new long[] {256}));
        }
        out.add(new TensorSpec(quantState(), DType.U8, new long[] {stateLength}));
        return out;
    }
}
