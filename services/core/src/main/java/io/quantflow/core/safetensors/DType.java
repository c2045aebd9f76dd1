package io.quantflow.core.safetensors;

import java.util.Locale;
import java.util.Optional;

/**
 * Element types a safetensors file may declare, in the order the reference writer sorts them
 * (ascending alignment; a file lists tensors by descending dtype, then by name).
 * Only BF16, F16 and F32 are decoded; every other type is carried through as bytes.
 */
public enum DType {
    BOOL(1),
    U8(1),
    I8(1),
    F8_E5M2(1),
    F8_E4M3(1),
    F8_E8M0(1),
    I16(2),
    U16(2),
    F16(2),
    BF16(2),
    I32(4),
    U32(4),
    F32(4),
    C64(8),
    F64(8),
    I64(8),
    U64(8);

    private final int size;

    DType(int size) {
        this.size = size;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    /** True for the 16/32-bit floating types quantflow decodes and quantizes. */
    public boolean isDecodedFloat() {
        return this == BF16 || this == F16 || this == F32;
    }

    /** The PyTorch name of the type, as bitsandbytes writes it in a quant state ({@code bfloat16}, ...). */
    public String torchName() {
        return switch (this) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            case F32 -> "float32";
            case F64 -> "float64";
            case U8 -> "uint8";
            case I8 -> "int8";
            case I16 -> "int16";
            case I32 -> "int32";
            case I64 -> "int64";
            case BOOL -> "bool";
            default -> name().toLowerCase(Locale.ROOT);
        };
    }

    public static Optional<DType> parse(String name) {
        for (DType d : values()) {
            if (d.name().equals(name)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    /** Parses a PyTorch dtype name ({@code bfloat16}, {@code float16}, {@code float32}). */
    public static Optional<DType> fromTorchName(String name) {
        return switch (name) {
            case "bfloat16" -> Optional.of(BF16);
            case "float16" -> Optional.of(F16);
            case "float32" -> Optional.of(F32);
            default -> Optional.empty();
        };
    }
}
