"""The real huggingface_hub client against a Hub endpoint (HF_ENDPOINT, HF_TOKEN from the environment).

    hf_client.py check                         prints the version; fails if hf_xet is importable
    hf_client.py upload REPO FOLDER [--private] create_repo(exist_ok) + upload_folder; prints the commit id
    hf_client.py download REPO DIR [REVISION]  snapshot_download into DIR; prints the commit id it resolved

Used by the Java tests to hold the loopback Hub to the real protocol, and by bench/hub-publish.
"""
import importlib.util
import os
import sys
import time

import huggingface_hub
from huggingface_hub import HfApi, snapshot_download


def main(argv):
    if argv[0] == "check":
        if importlib.util.find_spec("hf_xet") is not None:
            print("hf_xet is installed: huggingface_hub would upload through Xet, not LFS", file=sys.stderr)
            return 3
        print(huggingface_hub.__version__)
        return 0
    api = HfApi(endpoint=os.environ["HF_ENDPOINT"], token=os.environ.get("HF_TOKEN"))
    if argv[0] == "upload":
        repo, folder = argv[1], argv[2]
        t0 = time.perf_counter()
        api.whoami()
        api.create_repo(repo, private="--private" in argv, exist_ok=True)
        info = api.upload_folder(repo_id=repo, folder_path=folder, commit_message="upload by huggingface_hub")
        print(info.oid)
        print("seconds %.3f" % (time.perf_counter() - t0), file=sys.stderr)
        return 0
    if argv[0] == "download":
        repo, target = argv[1], argv[2]
        revision = argv[3] if len(argv) > 3 else None
        path = snapshot_download(repo_id=repo, local_dir=target, revision=revision, endpoint=os.environ["HF_ENDPOINT"],
                                 token=os.environ.get("HF_TOKEN"))
        print(api.repo_info(repo, revision=revision).sha)
        return 0
    print("unknown command " + argv[0], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
