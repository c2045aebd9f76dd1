package io.quantflow.core.source;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

/**
 * The Hub's refusals as quantflow's errors. The Hub names the reason in an {@code X-Error-Code}
 * header whatever the status: it answers 401 with RepoNotFound for a repository that does not
 * exist when no token is sent, so the header decides before the status does.
 */
final class HubErrors {
    private HubErrors() {
    }

    /**
     * The error for a Hub answer, or null when the answer is worth retrying (429, 5xx).
     *
     * @param errorCode the X-Error-Code header, or null
     * @param file      the file asked for, or null for the repository itself
     */
    static QuantflowException of(int status, String errorCode, ModelLocation.Hub repo, String revision, String file,
                                 boolean tokenSent, String endpoint) {
        String uri = "hf://" + repo.repo().id();
        String page = endpoint + "/" + repo.repo().id();
        if (errorCode != null) {
            switch (errorCode) {
                case "GatedRepo" -> {
                    return QuantflowException.of(Reason.HUB_GATED, tokenSent
                            ? uri + " is a gated model and the account of the token in HF_TOKEN has not been granted access;"
                            + " request access at " + page + " with that account"
                            : uri + " is a gated model: request access at " + page
                            + ", then set HF_TOKEN to an access token of the account that was granted it");
                }
                case "RepoNotFound" -> {
                    return QuantflowException.of(Reason.HUB_REPO_NOT_FOUND, uri + ": no such model at " + endpoint
                            + (tokenSent ? " that the token in HF_TOKEN can read" : " (if it is private, set HF_TOKEN to a token that can read it)"));
                }
                case "RevisionNotFound" -> {
                    return QuantflowException.of(Reason.HUB_REVISION_NOT_FOUND, uri + " has no revision '" + revision + "'");
                }
                case "EntryNotFound" -> {
                    return QuantflowException.of(Reason.HUB_FILE_NOT_FOUND, uri + "@" + revision + " has no file "
                            + (file == null ? "" : file));
                }
                case "DisabledRepo" -> {
                    return QuantflowException.of(Reason.HUB_DISABLED, uri + " has been disabled on the Hub");
                }
                default -> {
                    // an unknown code: the status decides
                }
            }
        }
        if (status == 401 || status == 403) {
            return QuantflowException.of(Reason.HUB_UNAUTHORIZED, tokenSent
                    ? "the Hub refused the token in HF_TOKEN for " + uri + " (HTTP " + status + "): check that it is valid and may read the model"
                    : uri + " needs an access token (HTTP " + status + "): it is private or gated; set HF_TOKEN");
        }
        if (status == 404 || status == 410) {
            return file == null
                    ? QuantflowException.of(Reason.HUB_REPO_NOT_FOUND,
                            uri + (revision == null ? "" : "@" + revision) + ": not found at " + endpoint)
                    : QuantflowException.of(Reason.HUB_FILE_NOT_FOUND, uri + "@" + revision + ": no file " + file);
        }
        if (status == 429 || status >= 500) {
            return null;
        }
        return QuantflowException.of(Reason.HUB_ERROR, "the Hub at " + endpoint + " answered HTTP " + status + " for "
                + uri + (file == null ? "" : " file " + file));
    }
}
