package io.quantflow.core.json;

import com.fasterxml.jackson.databind.JsonNode;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * JSON text exactly as Python's {@code json} module writes it, so that files quantflow writes are
 * the bytes transformers and bitsandbytes write: {@code repr} floats ({@code 1e-06}, {@code 10000.0}),
 * ASCII-only strings, and transformers' {@code indent=2, sort_keys=True} layout for config files.
 */
public final class PythonJson {
    private PythonJson() {
    }

    /** Python's {@code repr(float)} as {@code json.dumps} writes it (NaN and infinities as JavaScript names). */
    public static String repr(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        if (d == 0) {
            return (Double.doubleToRawLongBits(d) < 0) ? "-0.0" : "0.0";
        }
        // Double.toString gives the shortest decimal that round-trips (JDK 19+), as Python's repr does,
        // except that it never prints fewer than two digits.
        BigDecimal bd = shortestOneDigit(Math.abs(d), new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros());
        String digits = bd.unscaledValue().toString();
        int n = digits.length();
        int exp = n - 1 - bd.scale();
        StringBuilder sb = new StringBuilder(24);
        if (d < 0) {
            sb.append('-');
        }
        if (exp >= -4 && exp < 16) {
            if (exp >= 0) {
                if (n <= exp + 1) {
                    sb.append(digits).append("0".repeat(exp + 1 - n)).append(".0");
                } else {
                    sb.append(digits, 0, exp + 1).append('.').append(digits, exp + 1, n);
                }
            } else {
                sb.append("0.").append("0".repeat(-exp - 1)).append(digits);
            }
        } else {
            sb.append(digits.charAt(0));
            if (n > 1) {
                sb.append('.').append(digits, 1, n);
            }
            sb.append('e').append(exp < 0 ? '-' : '+');
            int a = Math.abs(exp);
            if (a < 10) {
                sb.append('0');
            }
            sb.append(a);
        }
        return sb.toString();
    }

    /**
     * Where one significant digit already reads back as {@code a} (only the smallest subnormals:
     * Java prints 4.9E-324 where Python prints 5e-324), the nearer such one-digit decimal.
     */
    private static BigDecimal shortestOneDigit(double a, BigDecimal twoOrMore) {
        if (twoOrMore.precision() != 2) {
            return twoOrMore;
        }
        BigDecimal down = twoOrMore.round(new MathContext(1, RoundingMode.FLOOR));
        BigDecimal up = twoOrMore.round(new MathContext(1, RoundingMode.CEILING));
        boolean downOk = down.doubleValue() == a;
        boolean upOk = up.doubleValue() == a;
        if (downOk && upOk) {
            BigDecimal exact = new BigDecimal(a);
            return exact.subtract(down).compareTo(up.subtract(exact)) <= 0 ? down : up;
        }
        return downOk ? down : upOk ? up : twoOrMore;
    }

    /** A JSON string literal with {@code ensure_ascii=True} escaping. */
    public static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2);
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }

    /** {@code json.dumps(node, indent=2, sort_keys=True) + "\n"}, as transformers saves config files. */
    public static String toIndentedSorted(JsonNode node) {
        StringBuilder sb = new StringBuilder(1024);
        write(sb, node, 0);
        return sb.append('\n').toString();
    }

    private static void write(StringBuilder sb, JsonNode node, int depth) {
        switch (node.getNodeType()) {
            case OBJECT -> {
                if (node.isEmpty()) {
                    sb.append("{}");
                    return;
                }
                List<String> keys = new ArrayList<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                    keys.add(it.next().getKey());
                }
                keys.sort(PythonJson::compareCodePoints);
                sb.append("{\n");
                for (int i = 0; i < keys.size(); i++) {
                    indent(sb, depth + 1);
                    sb.append(quote(keys.get(i))).append(": ");
                    write(sb, node.get(keys.get(i)), depth + 1);
                    sb.append(i + 1 < keys.size() ? ",\n" : "\n");
                }
                indent(sb, depth);
                sb.append('}');
            }
            case ARRAY -> {
                if (node.isEmpty()) {
                    sb.append("[]");
                    return;
                }
                sb.append("[\n");
                for (int i = 0; i < node.size(); i++) {
                    indent(sb, depth + 1);
                    write(sb, node.get(i), depth + 1);
                    sb.append(i + 1 < node.size() ? ",\n" : "\n");
                }
                indent(sb, depth);
                sb.append(']');
            }
            case STRING -> sb.append(quote(node.textValue()));
            case NUMBER -> {
                if (node.isIntegralNumber()) {
                    sb.append(node.bigIntegerValue());
                } else {
                    sb.append(repr(node.doubleValue()));
                }
            }
            case BOOLEAN -> sb.append(node.booleanValue() ? "true" : "false");
            case NULL, MISSING -> sb.append("null");
            default -> throw new IllegalArgumentException("cannot write " + node.getNodeType() + " as JSON");
        }
    }

    /** Python sorts str keys by code point; Java's compareTo sorts by UTF-16 unit. */
    private static int compareCodePoints(String a, String b) {
        return Arrays.compare(a.codePoints().toArray(), b.codePoints().toArray());
    }

    private static void indent(StringBuilder sb, int depth) {
        sb.append("  ".repeat(depth));
    }
}
