import io.quantflow.core.quant.BlockwiseQuantizer;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.quant.Quantizers;
import io.quantflow.core.quant.VectorBlockwiseQuantizer;
import io.quantflow.core.safetensors.DType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

/**
 * quantflow's 4-bit codes of parity.py's input, as sha256 to hold against bitsandbytes' (parity-h200.json).
 *
 *   java --add-modules jdk.incubator.vector -cp services/core/target/classes scripts/reference/bnb-fp4/Parity.java bf16 IN.raw
 */
public class Parity {
    public static void main(String[] args) throws Exception {
        DType dtype = args[0].equals("bf16") ? DType.BF16 : DType.F16;
        byte[] raw = Files.readAllBytes(Path.of(args[1]));
        int n = raw.length / 2;
        float[] x = new float[n];
        HalfFloats.decode(dtype, raw, 0, n, x, 0);
        for (QuantType q : List.of(QuantType.FP4, QuantType.NF4)) {
            for (int bs : new int[] {64, 4096}) {
                String last = null;
                for (BlockwiseQuantizer quantizer : List.of(Quantizers.scalar(q), new VectorBlockwiseQuantizer(q))) {
                    int blocks = (n + bs - 1) / bs;
                    byte[] packed = new byte[(n + 1) / 2];
                    float[] absmax = new float[blocks];
                    quantizer.quantize(x, 0, n, bs, packed, 0, absmax, 0);
                    ByteBuffer a = ByteBuffer.allocate(blocks * 4).order(ByteOrder.LITTLE_ENDIAN);
                    a.asFloatBuffer().put(absmax);
                    String line = "{\"packed\": \"" + sha(packed) + "\", \"absmax\": \"" + sha(a.array()) + "\"}";
                    System.out.println(args[0] + "/" + q.id() + "/bs" + bs + " " + quantizer.name() + " " + line);
                    if (last != null && !last.equals(line)) {
                        throw new AssertionError("scalar and vector differ");
                    }
                    last = line;
                }
            }
        }
    }

    private static String sha(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }
}
