package io.quantflow.core.format;

/** What a format needs of a LoRA adapter. */
public enum AdapterUse {
    /** The format is made from the adapter: a request without one is refused. */
    REQUIRED,
    /** The format is made from the base alone: a request with an adapter is refused (another format merges it). */
    REFUSED
}
