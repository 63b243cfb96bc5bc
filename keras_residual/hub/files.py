"""Files from the Hugging Face Hub (timm's weights), through the optional
`huggingface_hub` library: its own cache, its own `HF_ENDPOINT`, `HF_HOME`
and token settings. A downloaded file is checked against its registered
sha256, or else against the sha256 the Hub states for it (the ETag of a
Git LFS file); a file that fails is removed from the cache and refused."""

import os
import re

from keras_residual.utils.download import file_digest

SHA256 = re.compile(r"^[0-9a-f]{64}$")


def fetch_hub_file(repo_id, filename, revision=None, file_hash=None):
    """Returns a local path of `filename` in the Hub repository `repo_id`,
    downloading it into huggingface_hub's cache on first use.

    Args:
        repo_id: str. The repository, e.g. `"timm/resnet50.a1_in1k"`.
        filename: str. The file, e.g. `"model.safetensors"`.
        revision: str or None. A branch, tag or commit. Defaults to `None`
            (`"main"`).
        file_hash: str or None. The file's sha256; defaults to the one the
            Hub states (its ETag). Defaults to `None`.

    Raises:
        ValueError: `huggingface_hub` is not installed, or the file does
            not match its sha256 (it is removed from the cache).
        OSError: the download failed.
    """
    try:
        import huggingface_hub  # lazy: an optional extra
    except ImportError:
        raise ValueError(
            f"Weights from the Hugging Face Hub ({repo_id}/{filename}) need "
            "`huggingface_hub`: pip install 'keras-residual[hub]', or download "
            "the file yourself and pass its path as `weights`."
        ) from None
    try:
        path = huggingface_hub.hf_hub_download(repo_id, filename, revision=revision)
    except Exception as error:  # network, HTTP and cache errors alike
        raise OSError(
            f"Could not download {filename} of {repo_id} from "
            f"{os.environ.get('HF_ENDPOINT', 'https://huggingface.co')} "
            f"({type(error).__name__}: {error}). Without network access, "
            "fetch that file elsewhere and pass its path as `weights`."
        ) from error
    blob = os.path.realpath(path)
    expected = file_hash or os.path.basename(blob)
    if SHA256.match(expected) and file_digest(blob, "sha256") != expected:
        for stale in {path, blob}:
            if os.path.lexists(stale):
                os.remove(stale)
        raise ValueError(
            f"The file {filename} downloaded from {repo_id} does not match "
            f"its sha256 {expected} (corrupt or tampered with); it was "
            "removed from the cache and nothing was loaded."
        )
    return path
