package io.quantflow.core.error;

/**
 * Why a {@link QuantflowException} was thrown, finer than its {@link ErrorCode}: tests and callers
 * branch on the reason, never on the message's wording. Each reason knows the public code it maps to.
 *
 * <p>Reasons are internal: they are not in the CLI's one line nor in a {@code conversion-failed}
 * event (those carry the code and the message). Renaming or regrouping a reason is an internal change;
 * the code a failure carries must not change with it.
 */
public enum Reason {
    // ------------------------------------------------------------------ SOURCE_NOT_FOUND
    /** A local directory (model, adapter) does not exist. */
    NO_SUCH_DIRECTORY(ErrorCode.SOURCE_NOT_FOUND),
    /** A local file does not exist. */
    NO_SUCH_FILE(ErrorCode.SOURCE_NOT_FOUND),
    /** A local source exists but cannot be opened, listed or read. */
    SOURCE_UNREADABLE(ErrorCode.SOURCE_NOT_FOUND),
    /** The Hub has no such model (or it is private and the token cannot read it). */
    HUB_REPO_NOT_FOUND(ErrorCode.SOURCE_NOT_FOUND),
    /** The Hub model has no such branch, tag or commit. */
    HUB_REVISION_NOT_FOUND(ErrorCode.SOURCE_NOT_FOUND),
    /** The Hub model's revision has no such file. */
    HUB_FILE_NOT_FOUND(ErrorCode.SOURCE_NOT_FOUND),
    /** The S3 bucket of a source does not exist. */
    S3_BUCKET_NOT_FOUND(ErrorCode.SOURCE_NOT_FOUND),
    /** The S3 object of a source does not exist. */
    S3_OBJECT_NOT_FOUND(ErrorCode.SOURCE_NOT_FOUND),
    /** A remote location (S3 prefix) holds no files. */
    LOCATION_EMPTY(ErrorCode.SOURCE_NOT_FOUND),
    /** A directory holds no manifest: it is not an output of quantflow. */
    NOT_AN_OUTPUT(ErrorCode.SOURCE_NOT_FOUND),

    // ------------------------------------------------------------------ ACCESS_DENIED
    /** The file system refused to read or write a path. */
    PERMISSION_DENIED(ErrorCode.ACCESS_DENIED),
    /** A gated Hub model the account (or no account) has not been granted. */
    HUB_GATED(ErrorCode.ACCESS_DENIED),
    /** A Hub model disabled by the Hub. */
    HUB_DISABLED(ErrorCode.ACCESS_DENIED),
    /** The Hub answered 401/403: no token, or one that may not read the model. */
    HUB_UNAUTHORIZED(ErrorCode.ACCESS_DENIED),
    /** S3 refused the credentials or the operation. */
    S3_ACCESS_DENIED(ErrorCode.ACCESS_DENIED),
    /** Publishing to the Hub without a token (HF_TOKEN). */
    HUB_TOKEN_MISSING(ErrorCode.ACCESS_DENIED),
    /** A Hub token that may not write the target repository (a read token, another namespace, a fine-grained token without write access). */
    HUB_TOKEN_CANNOT_WRITE(ErrorCode.ACCESS_DENIED),

    // ------------------------------------------------------------------ INVALID_CHECKPOINT: safetensors files
    /** A safetensors file shorter than its 8-byte length prefix or than the header it announces. */
    FILE_TOO_SHORT(ErrorCode.INVALID_CHECKPOINT),
    /** A safetensors header length above the limit (before anything is allocated from it). */
    HEADER_TOO_LARGE(ErrorCode.INVALID_CHECKPOINT),
    /** A safetensors header that is not one JSON object of UTF-8 text. */
    HEADER_MALFORMED(ErrorCode.INVALID_CHECKPOINT),
    /** A malformed {@code __metadata__} entry of a safetensors header. */
    METADATA_MALFORMED(ErrorCode.INVALID_CHECKPOINT),
    /** A malformed tensor entry: dtype, shape, data_offsets, unknown or duplicate fields. */
    TENSOR_ENTRY_MALFORMED(ErrorCode.INVALID_CHECKPOINT),
    /** A tensor name that is empty, too long, path-like, has control characters, or is given twice. */
    TENSOR_NAME_INVALID(ErrorCode.INVALID_CHECKPOINT),
    /** A tensor whose shape overflows or whose byte count disagrees with its shape and dtype. */
    TENSOR_SIZE_INVALID(ErrorCode.INVALID_CHECKPOINT),
    /** Tensor data with gaps or overlaps, running past the end of the file or followed by extra bytes. */
    DATA_SECTION_INVALID(ErrorCode.INVALID_CHECKPOINT),
    /** A checkpoint file that could not be read (an I/O error in the middle of it). */
    FILE_UNREADABLE(ErrorCode.INVALID_CHECKPOINT),

    // ------------------------------------------------------------------ INVALID_CHECKPOINT: model layout
    /** A model with no safetensors weights. */
    NO_WEIGHTS(ErrorCode.INVALID_CHECKPOINT),
    /** Several safetensors files and no index saying how they form one model. */
    WEIGHTS_AMBIGUOUS(ErrorCode.INVALID_CHECKPOINT),
    /** The index names a shard that is not there. */
    SHARD_MISSING(ErrorCode.INVALID_CHECKPOINT),
    /** The index has no weight_map or names an unacceptable shard file. */
    INDEX_MALFORMED(ErrorCode.INVALID_CHECKPOINT),
    /** The shards disagree with each other or with the index (a tensor in two shards, or misplaced). */
    SHARDS_INCONSISTENT(ErrorCode.INVALID_CHECKPOINT),
    /** A JSON file (config, index, adapter config, Hub answer) larger than quantflow reads. */
    JSON_TOO_LARGE(ErrorCode.INVALID_CHECKPOINT),
    /** A JSON file that is not valid JSON or not the JSON object it must be. */
    JSON_MALFORMED(ErrorCode.INVALID_CHECKPOINT),
    /** A model without config.json. */
    CONFIG_MISSING(ErrorCode.INVALID_CHECKPOINT),
    /** config.json says bitsandbytes 4-bit but no shard holds a 4-bit weight. */
    NO_4BIT_WEIGHTS(ErrorCode.INVALID_CHECKPOINT),
    /** A 4-bit weight's quant state is malformed or contradicts itself. */
    QUANT_STATE_INVALID(ErrorCode.INVALID_CHECKPOINT),
    /** A 4-bit weight lacks one of its tensors (packed, absmax, quant_map, nested ones, quant state). */
    QUANT_TENSOR_MISSING(ErrorCode.INVALID_CHECKPOINT),
    /** A 4-bit weight's tensor has the wrong dtype or size, or a quant_map that is not the code book. */
    QUANT_TENSOR_MISMATCH(ErrorCode.INVALID_CHECKPOINT),
    /** A model without the tokenizer files a GGUF file is made from (tokenizer.json or tokenizer.model). */
    TOKENIZER_MISSING(ErrorCode.INVALID_CHECKPOINT),
    /** A tokenizer file (tokenizer.json, tokenizer.model, tokenizer_config.json) that is malformed or contradicts itself. */
    TOKENIZER_MALFORMED(ErrorCode.INVALID_CHECKPOINT),

    // ------------------------------------------------------------------ INVALID_CHECKPOINT: LoRA adapters
    /** An adapter directory without adapter_config.json. */
    ADAPTER_CONFIG_MISSING(ErrorCode.INVALID_CHECKPOINT),
    /** An adapter directory without adapter_model.safetensors. */
    ADAPTER_WEIGHTS_MISSING(ErrorCode.INVALID_CHECKPOINT),
    /** A field of adapter_config.json that is missing, of the wrong type or out of range. */
    ADAPTER_CONFIG_INVALID(ErrorCode.INVALID_CHECKPOINT),
    /** Adapter weights with no tensors, or no LoRA tensors. */
    ADAPTER_EMPTY(ErrorCode.INVALID_CHECKPOINT),
    /** An adapter tensor quantflow does not read (unknown LoRA part, inconsistent prefix, no module). */
    ADAPTER_TENSOR_UNKNOWN(ErrorCode.INVALID_CHECKPOINT),
    /** Adapter tensors that claim the same place (a part twice, linear and embedding parts, two replacements). */
    ADAPTER_TENSOR_CONFLICT(ErrorCode.INVALID_CHECKPOINT),
    /** A LoRA A without its B, or the other way round. */
    ADAPTER_TENSOR_UNPAIRED(ErrorCode.INVALID_CHECKPOINT),
    /** Adapter tensors whose shapes disagree with each other (ranks, magnitude or bias rows). */
    ADAPTER_SHAPES_INCONSISTENT(ErrorCode.INVALID_CHECKPOINT),
    /** Adapter tensors that contradict adapter_config.json (use_dora, lora_bias). */
    ADAPTER_TENSORS_CONTRADICT_CONFIG(ErrorCode.INVALID_CHECKPOINT),

    // ------------------------------------------------------------------ INVALID_CHECKPOINT: downloads and stored outputs
    /** A Hub answer quantflow cannot use (not JSON, too large, no commit, malformed ids or names). */
    HUB_ANSWER_INVALID(ErrorCode.INVALID_CHECKPOINT),
    /** A downloaded file the Hub gave no checksum for. */
    DOWNLOAD_UNVERIFIABLE(ErrorCode.INVALID_CHECKPOINT),
    /** A downloaded file whose bytes do not match its checksum or announced size. */
    DOWNLOAD_CORRUPT(ErrorCode.INVALID_CHECKPOINT),
    /** The source changed while it was being read (another commit, another object version). */
    SOURCE_CHANGED(ErrorCode.INVALID_CHECKPOINT),
    /** A conversion cache entry that lacks one of its files. */
    CACHE_ENTRY_INCOMPLETE(ErrorCode.INVALID_CHECKPOINT),
    /** An output's manifest that cannot be read. */
    MANIFEST_UNREADABLE(ErrorCode.INVALID_CHECKPOINT),

    // ------------------------------------------------------------------ UNSUPPORTED_MODEL
    /** Pickle weights only (.bin/.pt), which quantflow never loads. */
    PICKLE_WEIGHTS(ErrorCode.UNSUPPORTED_MODEL),
    /** A source quantized with something other than bitsandbytes 4-bit. */
    QUANTIZATION_UNSUPPORTED(ErrorCode.UNSUPPORTED_MODEL),
    /** A format that starts from 16 bit (bnb-4bit) asked of a model that is already bitsandbytes 4-bit. */
    ALREADY_4BIT(ErrorCode.UNSUPPORTED_MODEL),
    /** A pre-quantized variant that is not a bitsandbytes 4-bit model. */
    VARIANT_NOT_4BIT(ErrorCode.UNSUPPORTED_MODEL),
    /** A 4-bit output of a model with no weight to quantize. */
    NOTHING_TO_QUANTIZE(ErrorCode.UNSUPPORTED_MODEL),
    /** A tensor of a dtype this step does not handle. */
    TENSOR_DTYPE_UNSUPPORTED(ErrorCode.UNSUPPORTED_MODEL),
    /** A tensor too large to quantize. */
    TENSOR_TOO_LARGE(ErrorCode.UNSUPPORTED_MODEL),
    /** Tensor names that prevent the streaming layout of the output. */
    LAYOUT_UNSUPPORTED(ErrorCode.UNSUPPORTED_MODEL),
    /** A PEFT method or LoRA variant whose weights cannot be merged as W + s * B @ A. */
    ADAPTER_TYPE_UNSUPPORTED(ErrorCode.UNSUPPORTED_MODEL),
    /** A LoRA on a layer kind quantflow does not merge (convolutions, DoRA on embeddings or Conv1D). */
    ADAPTER_LAYER_UNSUPPORTED(ErrorCode.UNSUPPORTED_MODEL),
    /** A tokenizer GGUF cannot describe: an unknown tokenizer model or pre-tokenizer, or an architecture without vocab rules. */
    TOKENIZER_UNSUPPORTED(ErrorCode.UNSUPPORTED_MODEL),

    // ------------------------------------------------------------------ TARGET_EXISTS
    /** The target already holds files and the request does not overwrite. */
    TARGET_NOT_EMPTY(ErrorCode.TARGET_EXISTS),
    /** The target exists and is not a directory. */
    TARGET_NOT_A_DIRECTORY(ErrorCode.TARGET_EXISTS),
    /** Another writer wrote the target while this request was writing it. */
    TARGET_WRITTEN_CONCURRENTLY(ErrorCode.TARGET_EXISTS),

    // ------------------------------------------------------------------ INVALID_REQUEST: what is named
    /** A file given where a directory (model, adapter) is expected. */
    NOT_A_DIRECTORY(ErrorCode.INVALID_REQUEST),
    /** A LoRA adapter given as the model. */
    SOURCE_IS_ADAPTER(ErrorCode.INVALID_REQUEST),
    /** A model given as the adapter. */
    ADAPTER_IS_MODEL(ErrorCode.INVALID_REQUEST),
    /** A location (path, file://, hf://, s3://, model id, revision) that does not parse. */
    LOCATION_INVALID(ErrorCode.INVALID_REQUEST),
    /** A valid location of a kind this use does not take (a local path in the pipeline, an hf:// target). */
    LOCATION_NOT_ALLOWED(ErrorCode.INVALID_REQUEST),
    /** A target that is the root directory or contains (or is inside) the source. */
    TARGET_INVALID(ErrorCode.INVALID_REQUEST),
    /** The S3 bucket of a target does not exist. */
    TARGET_BUCKET_NOT_FOUND(ErrorCode.INVALID_REQUEST),
    /** A malformed variants file (model -> pre-quantized variant). */
    VARIANTS_FILE_INVALID(ErrorCode.INVALID_REQUEST),

    // ------------------------------------------------------------------ INVALID_REQUEST: settings and environment
    /** An endpoint, part size, parallelism or GPU setting out of range. */
    SETTINGS_INVALID(ErrorCode.INVALID_REQUEST),
    /** Credentials that are malformed, incomplete, or name a profile that is not there. */
    CREDENTIALS_INVALID(ErrorCode.INVALID_REQUEST),
    /** The local stack's endpoints are unknown (no stack file, no Kafka). */
    STACK_UNAVAILABLE(ErrorCode.INVALID_REQUEST),
    /** The Hub cannot be reached at the configured endpoint. */
    HUB_UNREACHABLE(ErrorCode.INVALID_REQUEST),
    /** The GPU was asked for and there is none. */
    NO_GPU(ErrorCode.INVALID_REQUEST),

    // ------------------------------------------------------------------ INVALID_REQUEST: options
    /** No output format was asked for. */
    NO_OUTPUT_FORMAT(ErrorCode.INVALID_REQUEST),
    /** A format asked for twice. */
    FORMAT_REPEATED(ErrorCode.INVALID_REQUEST),
    /** merged-16bit, merged-4bit or lora asked for without an adapter. */
    FORMAT_NEEDS_ADAPTER(ErrorCode.INVALID_REQUEST),
    /** An adapter given with a format made from the base alone (bnb-4bit: merged-4bit merges and quantizes). */
    FORMAT_REFUSES_ADAPTER(ErrorCode.INVALID_REQUEST),
    /** An option given to a format it does not apply to. */
    OPTION_NOT_APPLICABLE(ErrorCode.INVALID_REQUEST),
    /** An option value that is not one of its allowed values. */
    OPTION_INVALID(ErrorCode.INVALID_REQUEST),
    /** A --dynamic budget that is missing, doubled or out of range. */
    DYNAMIC_BUDGET_INVALID(ErrorCode.INVALID_REQUEST),
    /** A --dynamic budget below the smallest possible output. */
    DYNAMIC_BUDGET_TOO_SMALL(ErrorCode.INVALID_REQUEST),
    /** --dynamic without exactly one 4-bit output. */
    DYNAMIC_NEEDS_4BIT_OUTPUT(ErrorCode.INVALID_REQUEST),
    /** --dynamic asked of the pipeline, which does not run it. */
    DYNAMIC_NOT_IN_PIPELINE(ErrorCode.INVALID_REQUEST),
    /** A pipeline request event that is malformed (ids, missing fields, too many outputs). */
    REQUEST_MALFORMED(ErrorCode.INVALID_REQUEST),
    /** A report asked of an output that records no quantization error. */
    NO_QUALITY_RECORD(ErrorCode.INVALID_REQUEST),

    // ------------------------------------------------------------------ INVALID_REQUEST: adapter against its base
    /** An adapter module, bias or replaced tensor whose base tensor the model does not have. */
    ADAPTER_MODULE_NOT_IN_BASE(ErrorCode.INVALID_REQUEST),
    /** An adapter tensor whose shape disagrees with the base tensor it applies to. */
    ADAPTER_SHAPE_MISMATCH(ErrorCode.INVALID_REQUEST),
    /** An adapter module that adapter_config.json does not target. */
    ADAPTER_MODULE_NOT_TARGETED(ErrorCode.INVALID_REQUEST),
    /** An adapter module whose rank disagrees with adapter_config.json (r or rank_pattern). */
    ADAPTER_RANK_MISMATCH(ErrorCode.INVALID_REQUEST),
    /** A pattern of adapter_config.json that is not a valid regex when applied. */
    ADAPTER_PATTERN_INVALID(ErrorCode.INVALID_REQUEST),
    /** An adapter whose initialisation rewrote the base weights (PiSSA, OLoRA, ...). */
    ADAPTER_REWROTE_BASE(ErrorCode.INVALID_REQUEST),

    // ------------------------------------------------------------------ OUT_OF_MEMORY
    /** The JVM heap ran out. */
    HEAP_EXHAUSTED(ErrorCode.OUT_OF_MEMORY),
    /** The GPU's memory ran out. */
    GPU_OUT_OF_MEMORY(ErrorCode.OUT_OF_MEMORY),

    // ------------------------------------------------------------------ NO_SPACE
    /** The device reported no space left (or a quota exceeded) while writing. */
    DISK_FULL(ErrorCode.NO_SPACE),
    /** The free space checked before writing is less than the output needs. */
    INSUFFICIENT_SPACE(ErrorCode.NO_SPACE),
    /** A local directory or download could not be written. */
    LOCAL_WRITE_FAILED(ErrorCode.NO_SPACE),

    // ------------------------------------------------------------------ INTERNAL
    /** Another I/O failure. */
    IO_ERROR(ErrorCode.INTERNAL),
    /** The work was interrupted. */
    INTERRUPTED(ErrorCode.INTERNAL),
    /** A worker task failed with an unexpected exception. */
    WORKER_FAILED(ErrorCode.INTERNAL),
    /** A transfer failed on every attempt. */
    RETRIES_EXHAUSTED(ErrorCode.INTERNAL),
    /** The Hub answered with a status quantflow does not expect. */
    HUB_ERROR(ErrorCode.INTERNAL),
    /** The Hub refused an upload or a commit in a way quantflow does not expect (a missing LFS object, a malformed answer). */
    HUB_UPLOAD_FAILED(ErrorCode.INTERNAL),
    /** S3 answered with an error quantflow does not expect. */
    S3_ERROR(ErrorCode.INTERNAL),
    /** S3 cannot be reached. */
    S3_UNREACHABLE(ErrorCode.INTERNAL),
    /** An object quantflow itself wrote (plan, result, staged file) is missing from the store. */
    STORE_OBJECT_MISSING(ErrorCode.INTERNAL),
    /** The pipeline's work bucket does not exist (the operator's setup, not the request's). */
    WORK_BUCKET_NOT_FOUND(ErrorCode.INTERNAL),
    /** Kafka cannot be reached. */
    KAFKA_UNREACHABLE(ErrorCode.INTERNAL),
    /** A submitted request got no answer in time. */
    NO_ANSWER(ErrorCode.INTERNAL),
    /** A CUDA call failed or the GPU kernels are missing. */
    GPU_ERROR(ErrorCode.INTERNAL),
    /** An unexpected exception, reported as one line (the stack trace goes to the log or --debug). */
    UNEXPECTED(ErrorCode.INTERNAL),

    // ------------------------------------------------------------------ relayed
    /**
     * A failure another process reported with its code and message only (a {@code conversion-failed}
     * event): its code comes with it ({@link QuantflowException#reported}).
     */
    REPORTED(null);

    private final ErrorCode code;

    Reason(ErrorCode code) {
        this.code = code;
    }

    /** The public code of this reason; null for {@link #REPORTED}, whose code comes with the failure. */
    public ErrorCode code() {
        return code;
    }
}
