package io.quantflow.core.safetensors;

import io.quantflow.core.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The writer's layout is the reference writer's: the same tensor order, offsets and header bytes as
 * {@code safetensors.torch.save_file} (held to files transformers wrote), and what we write reads back.
 */
class SafetensorsLayoutTest {
    private static final Map<String, String> PT = Map.of("format", "pt");

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "tiny-llama/base-bf16/model.safetensors",
            "tiny-llama/base-bnb-nf4-dq/model.safetensors",
            "tiny-llama/base-bnb-fp4/model.safetensors",
            "tiny-llama/merged-bf16/model.safetensors",
            "tiny-llama/merged-bnb-nf4-dq/model.safetensors",
            "tiny-llama/merged-bnb-fp4/model.safetensors",
            "tiny-llama/lora-adapter/adapter_model.safetensors"})
    void headerBytesMatchTheReferenceWriter(String relative) throws IOException {
        Path file = Fixtures.path(relative);
        List<TensorSpec> specs = new ArrayList<>();
        List<TensorInfo> theirs;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(PT, f.header().metadata());
            theirs = f.header().tensors();
            for (TensorInfo t : theirs) {
                specs.add(new TensorSpec(t.name(), t.dtype(), t.shape()));
            }
        }
        // the order specs arrive in must not matter
        Collections.shuffle(specs, new Random(relative.hashCode()));
        SafetensorsLayout layout = SafetensorsLayout.of(PT, specs);

        byte[] expected;
        try (InputStream in = Files.newInputStream(file)) {
            byte[] len = in.readNBytes(8);
            long n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertTrue(n > 0 && n < 1_000_000, "fixture header length " + n);
            expected = new byte[8 + (int) n];
            System.arraycopy(len, 0, expected, 0, 8);
            assertEquals((int) n, in.readNBytes(expected, 8, (int) n));
        }
        assertEquals(expected.length - 8, layout.paddedHeaderLength(), "padded header length");
        byte[] ours = layout.prefix(layout.paddedHeaderLength());
        assertEquals(new String(expected, 8, expected.length - 8, StandardCharsets.UTF_8),
                new String(ours, 8, ours.length - 8, StandardCharsets.UTF_8), "header text");
        assertArrayEquals(expected, ours, "length prefix and header bytes");
        assertEquals(theirs, layout.entries(), "tensor order and offsets");
        assertEquals(Files.size(file) - expected.length, layout.dataLength(), "data length");
    }

    /** Small outputs of the reference writer, known byte for byte. */
    @Test
    void smallReferenceOutputs() {
        // serialize({}) and serialize({}, metadata={"framework": "pt"})
        assertEquals("\b\0\0\0\0\0\0\0{}      ", latin1(SafetensorsLayout.of(Map.of(), List.of()).prefix(8)));
        SafetensorsLayout meta = SafetensorsLayout.of(Map.of("framework", "pt"), List.of());
        assertEquals(40, meta.paddedHeaderLength());
        assertEquals("(\0\0\0\0\0\0\0{\"__metadata__\":{\"framework\":\"pt\"}}     ", latin1(meta.prefix(40)));
        // one F32 tensor [1,2,3] named attn.0: 64 bytes of header, no padding needed
        SafetensorsLayout one = SafetensorsLayout.of(Map.of(), List.of(new TensorSpec("attn.0", DType.F32, new long[] {1, 2, 3})));
        assertEquals("@\0\0\0\0\0\0\0{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}",
                latin1(one.prefix(one.paddedHeaderLength())));
        // the same as attn0 [1,1,2,3]: 65 bytes, padded with seven spaces to 72
        SafetensorsLayout two = SafetensorsLayout.of(Map.of(), List.of(new TensorSpec("attn0", DType.F32, new long[] {1, 1, 2, 3})));
        assertEquals("H\0\0\0\0\0\0\0{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ",
                latin1(two.prefix(two.paddedHeaderLength())));
    }

    /** Descending dtype (the reference writer's enum order), then name. */
    @Test
    void fileOrderIsDescendingDtypeThenName() {
        List<TensorSpec> specs = List.of(
                new TensorSpec("z.bool", DType.BOOL, new long[] {3}),
                new TensorSpec("b.f32", DType.F32, new long[] {2}),
                new TensorSpec("a.bf16", DType.BF16, new long[] {2}),
                new TensorSpec("a.f32", DType.F32, new long[] {1}),
                new TensorSpec("c.u8", DType.U8, new long[] {5}),
                new TensorSpec("d.i64", DType.I64, new long[] {1}),
                new TensorSpec("e.f16", DType.F16, new long[] {1}),
                new TensorSpec("B.f32", DType.F32, new long[] {1}),
                new TensorSpec("f.u64", DType.U64, new long[] {1}),
                new TensorSpec("g.f64", DType.F64, new long[] {1}),
                new TensorSpec("h.i8", DType.I8, new long[] {1}));
        SafetensorsLayout layout = SafetensorsLayout.of(Map.of(), specs);
        assertEquals(List.of("f.u64", "d.i64", "g.f64", "B.f32", "a.f32", "b.f32", "a.bf16", "e.f16", "h.i8", "c.u8", "z.bool"),
                layout.entries().stream().map(TensorInfo::name).toList());
        long offset = 0;
        for (TensorInfo e : layout.entries()) {
            assertEquals(offset, e.begin(), e.name());
            offset = e.end();
        }
        assertEquals(offset, layout.dataLength());
        // with descending element size, every tensor starts aligned to its own element size
        for (TensorInfo e : layout.entries()) {
            assertEquals(0, e.begin() % e.dtype().size(), e.name() + " aligned");
        }
    }

    /**
     * The reference writer sorts names as Rust strings: by UTF-8 bytes, i.e. by code point. A Java
     * String compare (UTF-16 units) puts U+1F600 (a surrogate pair, 0xD83D...) before U+FFFD; by
     * code point it comes after.
     */
    @Test
    void namesSortByCodePointLikeTheReferenceWriter() {
        String emoji = "w.\uD83D\uDE00";
        String replacement = "w.\uFFFD";
        String ascii = "w.z";
        SafetensorsLayout layout = SafetensorsLayout.of(Map.of(), List.of(
                new TensorSpec(emoji, DType.U8, new long[] {1}),
                new TensorSpec(replacement, DType.U8, new long[] {1}),
                new TensorSpec(ascii, DType.U8, new long[] {1})));
        assertEquals(List.of(ascii, replacement, emoji), layout.entries().stream().map(TensorInfo::name).toList());
        // and non-ASCII names are written as raw UTF-8, as serde_json writes them
        String json = new String(layout.headerJson(), StandardCharsets.UTF_8);
        assertTrue(json.contains("\"w.\uFFFD\":{"), json);
        assertTrue(json.contains("\"w.\uD83D\uDE00\":{"), json);
    }

    @Test
    void misuseIsRefused() {
        SafetensorsLayout layout = SafetensorsLayout.of(PT, List.of(new TensorSpec("a", DType.F32, new long[] {3})));
        int n = layout.paddedHeaderLength();
        assertThrows(IllegalArgumentException.class, () -> layout.prefix(n - 8));
        assertThrows(IllegalArgumentException.class, () -> layout.prefix(n + 4));
        assertThrows(IllegalArgumentException.class, () -> layout.entry("absent"));
        assertThrows(IllegalArgumentException.class, () -> SafetensorsLayout.of(PT, List.of(
                new TensorSpec("a", DType.F32, new long[] {1}), new TensorSpec("a", DType.F32, new long[] {2}))));
        assertThrows(IllegalArgumentException.class, () -> SafetensorsOutput.create(dir.resolve("x.safetensors"), 12));
    }

    // ---------------------------------------------------------------- write, read back

    @ParameterizedTest(name = "extra header bytes reserved: {0}")
    @ValueSource(ints = {0, 8, 64, 4096})
    void roundTrip(int extraReserved) throws IOException {
        Random rnd = new Random(20240611L + extraReserved);
        DType[] dtypes = {DType.F32, DType.BF16, DType.F16, DType.U8, DType.I64, DType.BOOL, DType.F64, DType.I32, DType.I8, DType.U16};
        List<TensorSpec> specs = new ArrayList<>();
        Map<String, byte[]> data = new HashMap<>();
        for (int i = 0; i < 40; i++) {
            DType d = dtypes[rnd.nextInt(dtypes.length)];
            long[] shape = randomShape(rnd, i);
            String name = "model.layers." + rnd.nextInt(8) + ".t" + i + "." + d.name().toLowerCase();
            TensorSpec s = new TensorSpec(name, d, shape);
            specs.add(s);
            byte[] b = new byte[(int) s.byteSize()];
            rnd.nextBytes(b);
            data.put(name, b);
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "pt");
        metadata.put("quantflow", "t\u00e9st \"quoted\" \\ back");
        SafetensorsLayout layout = SafetensorsLayout.of(metadata, specs);
        int reserved = layout.paddedHeaderLength() + extraReserved;

        Path p = dir.resolve("rt-" + extraReserved + ".safetensors");
        List<TensorInfo> writeOrder = new ArrayList<>(layout.entries());
        Collections.shuffle(writeOrder, rnd); // positional writes: any order, any chunking
        try (SafetensorsOutput out = SafetensorsOutput.create(p, reserved)) {
            assertEquals(8L + reserved, out.dataStart());
            for (TensorInfo e : writeOrder) {
                byte[] b = data.get(e.name());
                int pos = 0;
                while (pos < b.length) {
                    int chunk = Math.min(b.length - pos, 1 + rnd.nextInt(700));
                    out.write(e.begin() + pos, ByteBuffer.wrap(b, pos, chunk));
                    pos += chunk;
                }
            }
            out.finish(layout);
        }
        assertThrows(FileAlreadyExistsException.class, () -> SafetensorsOutput.create(p, reserved));

        assertEquals(8L + reserved + layout.dataLength(), Files.size(p), "file size");
        byte[] head = new byte[8 + reserved];
        try (InputStream in = Files.newInputStream(p)) {
            assertEquals(head.length, in.readNBytes(head, 0, head.length));
        }
        byte[] json = layout.headerJson();
        assertEquals(reserved, ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).getLong(0));
        assertArrayEquals(json, Arrays.copyOfRange(head, 8, 8 + json.length));
        for (int i = 8 + json.length; i < head.length; i++) {
            assertEquals(' ', head[i], "padding byte " + i);
        }
        if (extraReserved == 0) {
            assertArrayEquals(layout.prefix(layout.paddedHeaderLength()), head, "no extra reservation: the reference writer's bytes");
        }

        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(metadata, f.header().metadata());
            assertEquals(layout.entries(), f.header().tensors());
            assertEquals(8L + reserved, f.dataStart());
            assertEquals(layout.dataLength(), f.header().dataLength());
            for (TensorSpec s : specs) {
                TensorInfo t = f.header().tensor(s.name());
                assertEquals(s.dtype(), t.dtype());
                assertArrayEquals(s.shape(), t.shape());
                ByteBuffer buf = ByteBuffer.allocate((int) t.byteSize());
                f.read(t, 0, buf);
                assertArrayEquals(data.get(s.name()), buf.array(), s.name());
            }
        }
    }

    @Test
    void roundTripOfOnlyEmptyTensors() throws IOException {
        SafetensorsLayout layout = SafetensorsLayout.of(PT, List.of(
                new TensorSpec("e0", DType.F32, new long[] {0}),
                new TensorSpec("e1", DType.BF16, new long[] {3, 0})));
        Path p = dir.resolve("empty.safetensors");
        try (SafetensorsOutput out = SafetensorsOutput.create(p, layout.paddedHeaderLength())) {
            out.finish(layout);
        }
        assertEquals(8L + layout.paddedHeaderLength(), Files.size(p));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(layout.entries(), f.header().tensors());
            assertEquals(0, f.header().dataLength());
        }
    }

    private static long[] randomShape(Random rnd, int i) {
        return switch (i % 8) {
            case 0 -> new long[0];                                    // scalar
            case 1 -> new long[] {rnd.nextInt(3), 0};                 // empty
            case 2 -> new long[] {1 + rnd.nextInt(2000)};
            case 3 -> new long[] {1 + rnd.nextInt(40), 1 + rnd.nextInt(40)};
            case 4 -> new long[] {1 + rnd.nextInt(5), 1 + rnd.nextInt(5), 1 + rnd.nextInt(5), 1 + rnd.nextInt(5)};
            case 5 -> new long[] {1};
            case 6 -> new long[] {3 + rnd.nextInt(300), 7};
            default -> new long[] {1 + rnd.nextInt(17), 1, 1 + rnd.nextInt(9)};
        };
    }

    private static String latin1(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }
}
