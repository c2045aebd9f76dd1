package io.quantflow.core.storage;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.util.Exceptions;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.model.S3Exception;

import java.net.URI;

/** S3 failures as quantflow's errors, read by the {@link Role} of the bucket; messages never hold a credential. */
final class S3Failures {
    private final URI endpoint;

    /** @param endpoint the store's URL, named when it cannot be reached (null: AWS) */
    S3Failures(URI endpoint) {
        this.endpoint = endpoint;
    }

    QuantflowException of(SdkException e, String where, Role role) {
        if (e instanceof S3Exception s) {
            int status = s.statusCode();
            String code = s.awsErrorDetails() == null ? null : s.awsErrorDetails().errorCode();
            String detail = " (HTTP " + status + (code == null ? "" : " " + code) + ")";
            if (status == 403 || status == 401 || "InvalidAccessKeyId".equals(code) || "SignatureDoesNotMatch".equals(code)) {
                return QuantflowException.of(Reason.S3_ACCESS_DENIED, where + ": access denied" + detail
                        + "; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS profile", e);
            }
            if ("NoSuchBucket".equals(code)) {
                Reason r = switch (role) {
                    case SOURCE -> Reason.S3_BUCKET_NOT_FOUND;
                    case TARGET -> Reason.TARGET_BUCKET_NOT_FOUND;
                    case WORK -> Reason.WORK_BUCKET_NOT_FOUND;
                };
                return QuantflowException.of(r, where + ": the bucket does not exist" + detail, e);
            }
            if (status == 404) {
                return QuantflowException.of(role == Role.SOURCE ? Reason.S3_OBJECT_NOT_FOUND : Reason.STORE_OBJECT_MISSING,
                        where + ": not found" + detail, e);
            }
            return QuantflowException.of(Reason.S3_ERROR, where + ": S3 answered" + detail, e);
        }
        return QuantflowException.of(Reason.S3_UNREACHABLE, where + ": cannot reach S3"
                + (endpoint == null ? "" : " at " + endpoint) + " (" + Exceptions.describe(e) + ")", e);
    }
}
