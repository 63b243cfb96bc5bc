"""`push_to_hub()`: a preset uploaded to a Hugging Face Hub repository in
one commit, through the optional `huggingface_hub` library (its token,
`HF_ENDPOINT` and retries). An interrupted upload commits nothing; running
it again completes it."""

import os
import re
import shutil
import tempfile

from keras_residual.hub.hub_options import PushOptions
from keras_residual.hub.preset_format import CONFIG_FILE
from keras_residual.hub.preset_format import WEIGHTS_FILE
from keras_residual.hub.preset_format import preset_directory_config
from keras_residual.hub.preset_format import preset_from_folder
from keras_residual.hub.preset_writer import CARD_FILE
from keras_residual.hub.preset_writer import save_to_preset
from keras_residual.hub.preset_writer import usage_line
from keras_residual.utils.files import check_regular_file
from keras_residual.utils.options import options_argument
from keras_residual.utils.validation import first_line

# What a preset is, and all that `push_to_hub` publishes of a folder.
PRESET_FILES = (CONFIG_FILE, WEIGHTS_FILE, CARD_FILE)
# The card's line that loads the preset (`presets.usage_line`).
USAGE = re.compile(r'^model = kr\.load_preset\(".*"\)$', re.M)
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def push_to_hub(
    source,
    repo_id,
    options=None,
    **fields,
):
    """Uploads a model as a preset to the Hub and returns its pinned id.

    Args:
        source: `ResidualModel` or str. A preset folder (from
            `save_to_preset`), a run directory of `train()`, a `.keras` file
            or a model; all but a preset folder are saved as a preset first.
        repo_id: str. `"ORG/NAME"`; the repository is created if missing.
        options: `PushOptions` or None. Visibility of a new repository,
            token, commit message, and the card's licence where a preset is
            written here. Defaults to `PushOptions()`.
        **fields: any field of `PushOptions` by name, as in
            `push_to_hub(run, "me/model", private=True)`; it overrides the
            field of `options`.

    Returns:
        str. `"hf://ORG/NAME@COMMIT"`: loads this upload even after the
        repository changes.

    Raises:
        ValueError: a bad `repo_id`, or `huggingface_hub` is missing.
        OSError: the upload failed (nothing was committed).
    """
    options = options_argument("push_to_hub", PushOptions, options, fields)
    if not isinstance(repo_id, str) or not REPO_ID.match(repo_id) or ".." in repo_id:
        raise ValueError(
            f"`repo_id` must be 'ORG/NAME' (letters, digits, '.', '_', '-'); "
            f"received {repo_id!r}."
        )
    try:
        import huggingface_hub  # lazy: an optional extra
    except ImportError:
        raise ValueError(
            "push_to_hub needs `huggingface_hub`: pip install 'keras-residual[hub]'."
        ) from None
    with tempfile.TemporaryDirectory(prefix="keras-residual-push-") as scratch:
        folder = _preset_folder(source, scratch, repo_id, options.license)
        api = huggingface_hub.HfApi(token=options.token)
        try:
            api.create_repo(repo_id, private=options.private, exist_ok=True)
            commit = api.upload_folder(
                folder_path=folder,
                repo_id=repo_id,
                commit_message=options.commit_message
                or f"Upload {os.path.basename(folder)}",
            )
        except Exception as error:  # network, HTTP and Hub errors alike
            raise OSError(
                f"Could not upload to {repo_id} on "
                f"{os.environ.get('HF_ENDPOINT', 'https://huggingface.co')} "
                f"({type(error).__name__}: {first_line(error, 300)}). "
                "Nothing was committed; run it again to upload."
            ) from error
    return f"hf://{repo_id}@{commit.oid}"


def _preset_folder(source, scratch, repo_id, license):
    """A preset folder of `source`: a copy of its published files
    (`published_files`), or a preset written in `scratch`."""
    name = repo_id.split("/")[1]
    if isinstance(source, (str, os.PathLike)):
        folder = os.fspath(source)
        config = preset_directory_config(folder)
        if config is not None:
            names = published_files(folder)
            # A preset that does not load is refused, not published.
            preset_from_folder(folder, config)
            copy = os.path.join(scratch, name)
            os.makedirs(copy)
            for file_name in names:
                source_file = os.path.join(folder, file_name)
                if file_name == CARD_FILE:  # written for its local folder
                    _write_hub_card(source_file, os.path.join(copy, CARD_FILE), repo_id)
                else:
                    shutil.copyfile(source_file, os.path.join(copy, file_name))
            return copy
    return save_to_preset(
        source, os.path.join(scratch, name), license=license, repo_id=repo_id
    )


def published_files(folder):
    """The files of preset `folder` that `push_to_hub` uploads: its
    `config.json`, `model.safetensors` and `README.md` (the card), each a
    regular file inside the folder; anything else there (`.env`, notes,
    other weights) stays local, and is named.

    Args:
        folder: str. A preset folder.

    Raises:
        ValueError: a preset file that is a link (its target, maybe outside
            the folder, would be published) or not a regular file.
    """
    names = [n for n in PRESET_FILES if os.path.lexists(os.path.join(folder, n))]
    for file_name in names:
        path = os.path.join(folder, file_name)
        if os.path.islink(path):
            raise ValueError(
                f"Will not push {path!r}: it is a link (to "
                f"{os.path.realpath(path)!r}), and push publishes only the "
                "preset's own regular files. Copy the file into the folder."
            )
        check_regular_file(path, "The preset file")
    left = sorted(set(os.listdir(folder)) - set(names))
    if left:
        print(
            f"Not uploaded (not part of a preset): {', '.join(left[:10])}"
            + (" ..." if len(left) > 10 else ""),
            flush=True,
        )
    return names


def _write_hub_card(card, copy, repo_id):
    """Copies `card` to `copy` with its usage line loading from the
    repository."""
    with open(card, encoding="utf-8") as handle:
        text = handle.read()
    text = USAGE.sub(lambda _: usage_line(repo_id), text, count=1)
    with open(copy, "w", encoding="utf-8") as handle:
        handle.write(text)
