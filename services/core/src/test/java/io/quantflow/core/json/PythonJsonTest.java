package io.quantflow.core.json;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quantflow.core.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link PythonJson} writes what Python's {@code json} module writes. Every expected text below was
 * produced by CPython 3 ({@code repr(float)}, {@code json.dumps}) and pasted here; nothing runs Python.
 */
class PythonJsonTest {
    private static final ObjectMapper JACKSON = new ObjectMapper();

    private record Entry(long bits, String python) {
    }

    private static Entry entry(long bits, String python) {
        return new Entry(bits, python);
    }

    /**
     * {@code (bits of a double, repr(that float))}: edge cases of the notation switch (1e-05 / 0.0001,
     * 1e+16 / 9999999999999998.0), shortest round-trip digits, subnormals, float32 values widened to
     * double (as struct.unpack('<f', ...) gives them: nested_offset and config values), random doubles.
     */
    private static final List<Entry> REPR = List.of(
            entry(0x0000000000000000L, "0.0"),
            entry(0x8000000000000000L, "-0.0"),
            entry(0x3ff0000000000000L, "1.0"),
            entry(0xbff0000000000000L, "-1.0"),
            entry(0x3fe0000000000000L, "0.5"),
            entry(0x4000000000000000L, "2.0"),
            entry(0x3eb0c6f7a0b5ed8dL, "1e-06"),
            entry(0x3ee4f8b588e368f1L, "1e-05"),
            entry(0x3f1a36e2eb1c432dL, "0.0001"),
            entry(0x3f50624dd2f1a9fcL, "0.001"),
            entry(0x3faa86df40000000L, "0.05181024223566055"),
            entry(0x40c3880000000000L, "10000.0"),
            entry(0x4341c37937e08000L, "1e+16"),
            entry(0x434aa535d3d0c000L, "1.5e+16"),
            entry(0x4341c37937e07fffL, "9999999999999998.0"),
            entry(0x42dc12218377de66L, "123456789012345.6"),
            entry(0x43118b54f22aeb03L, "1234567890123456.8"),
            entry(0x47efffffe0000000L, "3.4028234663852886e+38"),
            entry(0x36a0000000000000L, "1.401298464324817e-45"),
            entry(0x3810000000000000L, "1.1754943508222875e-38"),
            entry(0x3fb999999999999aL, "0.1"),
            entry(0x3fd3333333333334L, "0.30000000000000004"),
            entry(0x3fd5555555555555L, "0.3333333333333333"),
            entry(0x3fe5555555555555L, "0.6666666666666666"),
            entry(0x4340000000000000L, "9007199254740992.0"),
            entry(0x4340000000000001L, "9007199254740994.0"),
            entry(0x4480f0cf064dd592L, "1e+22"),
            entry(0x44b52d02c7e14af6L, "1e+23"),
            entry(0x3e7ad7f29abcaf48L, "1e-07"),
            entry(0x3e8421f5f40d8376L, "1.5e-07"),
            entry(0x4059000000000000L, "100.0"),
            entry(0x40934a0000000000L, "1234.5"),
            entry(0x4018000000000000L, "6.0"),
            entry(0x3f947ae147ae147bL, "0.02"),
            entry(0x3f1a36d1bd105b06L, "9.9999e-05"),
            entry(0x3f1a36e2eb1c432eL, "0.00010000000000000002"),
            entry(0x3f1a36e2eb1c432cL, "9.999999999999999e-05"),
            entry(0x430c6bf526340000L, "1000000000000000.0"),
            entry(0x0000000000000001L, "5e-324"),
            entry(0x0000000000000002L, "1e-323"),
            entry(0x0000000000000005L, "2.5e-323"),
            entry(0x0010000000000000L, "2.2250738585072014e-308"),
            entry(0x000fffffffffffffL, "2.225073858507201e-308"),
            entry(0x7fefffffffffffffL, "1.7976931348623157e+308"),
            entry(0x54b249ad2594c37dL, "1e+100"),
            entry(0x01aa749ec2ff5c8aL, "1.2345e-300"),
            entry(0x400921fb54442d18L, "3.141592653589793"),
            entry(0x4005bf0a8b145769L, "2.718281828459045"),
            entry(0xc00921fb54442d18L, "-3.141592653589793"),
            entry(0x3fd3333333333333L, "0.3"),
            entry(0x405edd2f1a9fbe77L, "123.456"),
            entry(0x4011666666666666L, "4.35"),
            entry(0x4005666666666666L, "2.675"),
            entry(0x43e0000000000000L, "9.223372036854776e+18"),
            entry(0x43f0000000000000L, "1.8446744073709552e+19"),
            entry(0x00000000000007e8L, "1e-320"),
            entry(0x0000000000000003L, "1.5e-323"),
            entry(0x3fb99999a0000000L, "0.10000000149011612"),
            entry(0x3fc99999a0000000L, "0.20000000298023224"),
            entry(0x3fd3333340000000L, "0.30000001192092896"),
            entry(0x3eb0c6f7a0000000L, "9.999999974752427e-07"),
            entry(0x3ee4f8b580000000L, "9.999999747378752e-06"),
            entry(0x3f947ae140000000L, "0.019999999552965164"),
            entry(0x400921fb60000000L, "3.1415927410125732"),
            entry(0x3f0ffb4800000000L, "6.0999998822808266e-05"),
            entry(0x40effc0000000000L, "65504.0"),
            entry(0x4202a05f20000000L, "10000000000.0"),
            entry(0x40fe240ca0000000L, "123456.7890625"),
            entry(0x380b38fb80000000L, "9.999999350456404e-39"),
            entry(0x37a16c2000000000L, "9.99994610111476e-41"),
            entry(0xbf91b71760000000L, "-0.01730000041425228"),
            entry(0x3fe5555560000000L, "0.6666666865348816"),
            entry(0x3f65555720000000L, "0.0026041700039058924"),
            entry(0x3fb6000000000000L, "0.0859375"),
            entry(0x3fcaaaaaa0000000L, "0.2083333283662796"),
            entry(0x3fd2aaaaa0000000L, "0.2916666567325592"),
            entry(0x3fdaaaaac0000000L, "0.4166666865348816"),
            entry(0x3fe2aaaa00000000L, "0.5833330154418945"),
            entry(0x3feaaaaaa0000000L, "0.8333333134651184"),
            entry(0xbfeb239b00000000L, "-0.8480963706970215"),
            entry(0x3fa45f5fe0000000L, "0.03979014977812767"),
            entry(0x3fe7227660000000L, "0.7229568362236023"),
            entry(0x47ec363cc0000000L, "3.0000000054977558e+38"),
            entry(0xbf74f632d695615eL, "-0.005117605768952009"),
            entry(0x3f84f2bf8343ad04L, "0.01022863025033028"),
            entry(0xbf7285948ab7ddc6L, "-0.004521923295662094"),
            entry(0xbf79cf76b65f6abcL, "-0.006301368446623708"),
            entry(0xbf930bf948f83efeL, "-0.01860036380645535"),
            entry(0xbf7179441c4566aeL, "-0.004266038948424073"),
            entry(0x3f96c5a63ef9a7dcL, "0.022238347619726415"),
            entry(0x3f815f8015eca7faL, "0.008482933682518724"),
            entry(0x3f953c3b8ab2f2d3L, "0.02073758157779333"),
            entry(0x3f7463de5810f01cL, "0.004978054553301827"),
            entry(0x3f802b75ab381d10L, "0.007895392692275155"),
            entry(0x3f6e5d29dd31de35L, "0.0037065332085679755"),
            entry(0xbef1784d80000000L, "-1.6660625988151878e-05"),
            entry(0x3fb5e4f900000000L, "0.08552509546279907"),
            entry(0xbe7833ba00000000L, "-9.015968771564076e-08"),
            entry(0xc0c2e68200000000L, "-9677.015625"),
            entry(0x3f11a377e0000000L, "6.728572043357417e-05"),
            entry(0x40015626c0000000L, "2.1670660972595215"),
            entry(0xc025cc08e0000000L, "-10.898505210876465"),
            entry(0x3f43e2a220000000L, "0.0006068507791496813"),
            entry(0x94e3bf911a61dbe2L, "-4.805547711536507e-208"),
            entry(0xa38fd547923a7369L, "-2.1385097871442245e-137"),
            entry(0x5f557203301850c5L, "1.7549760937151438e+151"),
            entry(0x8c38fb2918f135d2L, "-8.722783496930154e-250"),
            entry(0x1012f037b64ce422L, "3.0496182610151205e-231"),
            entry(0x0f4205b4907a70c3L, "3.542609501695945e-235"),
            entry(0x34b9b5df9e7769b1L, "1.0485529451675802e-54"),
            entry(0xae2eb1547f150524L, "-3.0857894137963574e-86"),
            entry(0x6d76b07e881ed162L, "2.0023521584613723e+219"),
            entry(0x506bf2efc6f87718L, "2.5890158147660442e+79"),
            entry(0x95e761d17731af10L, "-3.7288635744050265e-203"),
            entry(0x7403e430ec66a787L, "7.120838469404787e+250"),
            entry(0xbec738fe175e5418L, "-2.7683528811086736e-06"),
            entry(0x3ed8b1c050873786L, "5.887589630449824e-06"),
            entry(0xbfb568b5c2b943a4L, "-0.08362899784084604"),
            entry(0x3fe02031f79bfba0L, "0.5039300762290289"),
            entry(0x3f72cbd104989785L, "0.004588905788784352"),
            entry(0x3c791fce24752338L, "2.179180380728072e-17"),
            entry(0xc1274fb8e3112197L, "-763868.4434900758"),
            entry(0xc01acd937c6db820L, "-6.700757927128535")
    );

    @Test
    void reprMatchesPython() {
        List<Executable> checks = new ArrayList<>();
        for (Entry e : REPR) {
            double d = Double.longBitsToDouble(e.bits());
            checks.add(() -> assertEquals(e.python(), PythonJson.repr(d), () -> "repr of bits 0x" + Long.toHexString(e.bits())));
        }
        assertAll(checks);
    }

    @Test
    void reprReadsBackAsTheSameDouble() {
        Random rnd = new Random(42);
        for (int i = 0; i < 200_000; i++) {
            double d = switch (i % 4) {
                case 0 -> Double.longBitsToDouble(rnd.nextLong());
                case 1 -> (double) Float.intBitsToFloat(rnd.nextInt());
                case 2 -> rnd.nextGaussian() * Math.pow(10, rnd.nextInt(40) - 20);
                default -> Double.longBitsToDouble(rnd.nextLong() & 0x000FFFFFFFFFFFFFL >>> rnd.nextInt(52)); // subnormals
            };
            if (!Double.isFinite(d)) {
                continue;
            }
            String s = PythonJson.repr(d);
            assertEquals(Double.doubleToRawLongBits(d), Double.doubleToRawLongBits(Double.parseDouble(s)), s);
        }
    }

    @Test
    void nonFiniteAsPythonWritesThem() {
        // json.dumps(float('nan')), json.dumps(float('inf')), json.dumps(float('-inf'))
        assertEquals("NaN", PythonJson.repr(Double.NaN));
        assertEquals("NaN", PythonJson.repr(Double.longBitsToDouble(0xFFF8000000000001L)));
        assertEquals("Infinity", PythonJson.repr(Double.POSITIVE_INFINITY));
        assertEquals("-Infinity", PythonJson.repr(Double.NEGATIVE_INFINITY));
        assertEquals("Infinity", PythonJson.repr(Float.POSITIVE_INFINITY));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "tiny-llama/base-bf16/config.json",
            "tiny-llama/base-bnb-nf4-dq/config.json",
            "tiny-llama/base-bnb-fp4/config.json",
            "tiny-llama/merged-bnb-nf4-dq/config.json"})
    void transformersConfigFilesAreReproducedByteForByte(String relative) throws IOException {
        byte[] expected = Files.readAllBytes(Fixtures.path(relative));
        JsonNode node = JACKSON.readTree(expected);
        assertEquals(new String(expected, StandardCharsets.UTF_8), PythonJson.toIndentedSorted(node));
    }

    @Test
    void unicodeEscapesAndKeyOrderAsJsonDumps() throws IOException {
        // INPUT: json.dumps(obj, ensure_ascii=False) of a dict with non-ASCII, astral, control-character
        // and escape-heavy keys and values (and 1e400, which both Python and Jackson read as infinity);
        // EXPECTED: json.dumps(json.loads(INPUT), indent=2, sort_keys=True) + "\n".
        String input = "{\"z\": [1, -0.0, 1e-06, 0.1, 1e+16, 5e-324, 1180591620717411303424, -7, true, false, null, [], {}, [[]], {\"\": \"\"}], \"caf\u00E9\": \"na\u00EFve \u2014 \u65E5\u672C\u8A9E\", \"\uFFFD\": \"replacement\", \"\uD83D\uDE00\": \"emoji \uD83D\uDE00 and \uD800\uDC00\", \"B\": {\"nested\": {\"deeper\": [{\"x\": 1.5, \"a\": \"b\"}]}}, \"ctrl\": \"\\u0000\\u0001\\u001f\177\u0080\u00A0\", \"quote\\\"back\\\\slash/\": \"tab\\t nl\\n cr\\r bs\\b ff\\f\", \"a\": 10000.0, \"big\": 1e400}";
        String expected = "{\n  \"B\": {\n    \"nested\": {\n      \"deeper\": [\n        {\n          \"a\": \"b\",\n          \"x\": 1.5\n        }\n      ]\n    }\n  },\n  \"a\": 10000.0,\n  \"big\": Infinity,\n  \"caf\\u00e9\": \"na\\u00efve \\u2014 \\u65e5\\u672c\\u8a9e\",\n  \"ctrl\": \"\\u0000\\u0001\\u001f\\u007f\\u0080\\u00a0\",\n  \"quote\\\"back\\\\slash/\": \"tab\\t nl\\n cr\\r bs\\b ff\\f\",\n  \"z\": [\n    1,\n    -0.0,\n    1e-06,\n    0.1,\n    1e+16,\n    5e-324,\n    1180591620717411303424,\n    -7,\n    true,\n    false,\n    null,\n    [],\n    {},\n    [\n      []\n    ],\n    {\n      \"\": \"\"\n    }\n  ],\n  \"\\ufffd\": \"replacement\",\n  \"\\ud83d\\ude00\": \"emoji \\ud83d\\ude00 and \\ud800\\udc00\"\n}\n";
        assertEquals(expected, PythonJson.toIndentedSorted(JACKSON.readTree(input)));
    }

    @Test
    void quoteAsJsonDumps() {
        // json.dumps of: A, e acute, U+2028, U+1F600, NUL, U+001F, DEL, double quote, backslash, slash, tab
        assertEquals("\"A\\u00e9\\u2028\\ud83d\\ude00\\u0000\\u001f\\u007f\\\"\\\\/\\t\"",
                PythonJson.quote("A\u00E9\u2028\uD83D\uDE00\000\037\177\"\\/\t"));
        assertEquals("\"\"", PythonJson.quote(""));
    }
}
