package io.quantflow.core.target;

/**
 * How a Hub target is written, beyond its location.
 *
 * @param createPrivate create the repository private when it does not exist yet ({@code --private})
 * @param createPr      commit to a new pull request instead of the branch ({@code --create-pr})
 * @param requestKey    what names the request across deliveries (the pipeline's request id), or null: a commit
 *                      carrying it already on the branch is the answer to a redelivered request
 */
public record HubPublishOptions(boolean createPrivate, boolean createPr, String requestKey) {
    public static final HubPublishOptions DEFAULTS = new HubPublishOptions(false, false, null);

    public HubPublishOptions {
        if (requestKey != null && !requestKey.matches("[A-Za-z0-9._:-]{1,128}")) {
            throw new IllegalArgumentException("a request key is 1 to 128 letters, digits, '.', '_', ':' or '-'");
        }
    }

    public HubPublishOptions withRequestKey(String key) {
        return new HubPublishOptions(createPrivate, createPr, key);
    }
}
