package io.quantflow.core.target;

/**
 * How a Hub target is written, beyond its location.
 *
 * @param createPrivate create the repository private when it does not exist yet ({@code --private})
 * @param createPr      commit to a new pull request instead of the branch ({@code --create-pr})
 * @param requestKey    what names the request across deliveries (the pipeline's request id), or null: a commit
 *                      carrying it already on the branch is the answer to a redelivered request
 * @param partsAtOnce   parts of one multipart upload sent at once (files go several at once anyway); 1 by default:
 *                      on the loopback Hub several at once cost time (bench/results/hub-publish-2026-12-03-*.txt)
 */
public record HubPublishOptions(boolean createPrivate, boolean createPr, String requestKey, int partsAtOnce) {
    public static final HubPublishOptions DEFAULTS = new HubPublishOptions(false, false, null);

    public HubPublishOptions {
        if (requestKey != null && !requestKey.matches("[A-Za-z0-9._:-]{1,128}")) {
            throw new IllegalArgumentException("a request key is 1 to 128 letters, digits, '.', '_', ':' or '-'");
        }
        if (partsAtOnce < 1) {
            throw new IllegalArgumentException("partsAtOnce must be at least 1");
        }
    }

    public HubPublishOptions(boolean createPrivate, boolean createPr, String requestKey) {
        this(createPrivate, createPr, requestKey, 1);
    }

    public HubPublishOptions withRequestKey(String key) {
        return new HubPublishOptions(createPrivate, createPr, key, partsAtOnce);
    }

    public HubPublishOptions withPartsAtOnce(int n) {
        return new HubPublishOptions(createPrivate, createPr, requestKey, n);
    }
}
