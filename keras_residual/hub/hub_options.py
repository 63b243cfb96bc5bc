"""`PresetOptions` and `PushOptions`: the options of `save_to_preset()`,
`push_to_hub()` and the `preset` and `push` commands, each written once
(see `keras_residual.utils.options`)."""

from keras_residual.utils.options import option
from keras_residual.utils.options import option_group


def license_option():
    """The `license` field: the licence id of the model card."""
    return option(
        "other",
        "The licence id in the model card's front matter (e.g. apache-2.0).",
    )


@option_group
class PresetOptions:
    """How `save_to_preset` writes a preset folder."""

    license: str = license_option()
    repo_id: str = option(
        None,
        "`ORG/NAME` the card's usage line loads. None: the folder itself "
        "(`push_to_hub` names the repository when it uploads).",
        cli=False,
    )
    overwrite: bool = option(False, "Replace an existing folder.")


@option_group
class PushOptions:
    """How `push_to_hub` uploads a preset."""

    private: bool = option(
        None,
        "Create the repository private. None: the Hub's default.",
        type_doc="bool or None",
    )
    token: str = option(
        None,
        "A Hub token. None: huggingface_hub's saved token or `HF_TOKEN`.",
        cli=False,
    )
    commit_message: str = option(
        None,
        'The commit message. None: "Upload <name>".',
        cli_type=str,
        flag="--message",
    )
    license: str = license_option()
