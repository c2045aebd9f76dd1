package io.quantflow.core.storage;

import io.quantflow.core.transfer.Secret;

import java.nio.file.Path;

/** Where S3 requests get their credentials: keys from the environment, a profile file, or none. */
public sealed interface S3Credentials permits S3Credentials.Keys, S3Credentials.Profile, S3Credentials.Anonymous {

    /** Keys as AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN give them. */
    record Keys(Secret accessKeyId, Secret secretAccessKey, Secret sessionToken) implements S3Credentials {
    }

    /** A profile of a shared credentials file ({@code [name]} with aws_access_key_id and aws_secret_access_key). */
    record Profile(Path file, String name) implements S3Credentials {
    }

    /** Unsigned requests, for public buckets. */
    record Anonymous() implements S3Credentials {
    }
}
