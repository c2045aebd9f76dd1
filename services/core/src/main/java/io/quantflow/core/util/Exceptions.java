package io.quantflow.core.util;

/** Exceptions as people read them in a one-line message. */
public final class Exceptions {
    private Exceptions() {
    }

    /**
     * An exception as a short phrase: its message on one line and cut at 200 characters (a server
     * may echo a whole request back), or its type when it has no message.
     */
    public static String describe(Throwable e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) {
            return e.getClass().getSimpleName();
        }
        m = m.replace('\n', ' ').replace('\r', ' ');
        return m.length() > 200 ? m.substring(0, 200) + "..." : m;
    }
}
