package io.quantflow.core.storage;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.util.Exceptions;
import software.amazon.awssdk.auth.credentials.AnonymousCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.profiles.ProfileFile;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

import java.time.Duration;

/** The AWS SDK's S3 client as quantflow sets it up from {@link S3Settings} (ADR 7). */
final class S3Clients {
    private S3Clients() {
    }

    static S3Client build(S3Settings settings) {
        var builder = S3Client.builder()
                .httpClient(UrlConnectionHttpClient.builder()
                        .connectionTimeout(Duration.ofSeconds(30))
                        .socketTimeout(settings.stallTimeout())
                        .build())
                .region(Region.of(settings.region()))
                .credentialsProvider(provider(settings.credentials()))
                .forcePathStyle(settings.pathStyle())
                // S3-compatible stores do not all take the SDK's newer checksum trailers; integrity is
                // checked here instead (Content-MD5 on each part, sizes and sha256 on each download).
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        if (settings.endpoint() != null) {
            builder.endpointOverride(settings.endpoint());
        }
        try {
            return builder.build();
        } catch (SdkException e) {
            throw QuantflowException.of(Reason.SETTINGS_INVALID, "cannot set up the S3 client: " + Exceptions.describe(e));
        }
    }

    private static AwsCredentialsProvider provider(S3Credentials c) {
        return switch (c) {
            case S3Credentials.Keys k -> StaticCredentialsProvider.create(k.sessionToken() == null
                    ? AwsBasicCredentials.create(k.accessKeyId().reveal(), k.secretAccessKey().reveal())
                    : AwsSessionCredentials.create(k.accessKeyId().reveal(), k.secretAccessKey().reveal(), k.sessionToken().reveal()));
            case S3Credentials.Profile p -> {
                ProfileCredentialsProvider provider = ProfileCredentialsProvider.builder()
                        .profileFile(ProfileFile.builder().content(p.file()).type(ProfileFile.Type.CREDENTIALS).build())
                        .profileName(p.name())
                        .build();
                try {
                    provider.resolveCredentials();
                } catch (SdkException e) {
                    throw QuantflowException.of(Reason.CREDENTIALS_INVALID, "the AWS profile '" + p.name() + "' in " + p.file()
                            + " has no usable credentials");
                }
                yield provider;
            }
            case S3Credentials.Anonymous a -> AnonymousCredentialsProvider.create();
        };
    }
}
