"""`ModelOverrides`: the architecture changes the `train`, `lr-find` and
`summary` commands take (`--depths`, `--width-multiplier`, `--block`,
`--front-end`), as
an option group, so that their flags, checks and docs rows come from its
fields; `build(name, **overrides)` takes the same names and many more."""

import argparse
import dataclasses

from keras_residual.utils.options import option
from keras_residual.utils.options import option_group


def comma_separated_ints(text):
    """`(3, 4, 6, 3)` of `"3,4,6,3"`.

    Args:
        text: str. Comma-separated integers.

    Raises:
        argparse.ArgumentTypeError: naming the text and the form (argparse
            prints it after the flag's name).
    """
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be comma-separated integers such as 3,3,3; received {text!r}"
        ) from None


@option_group
class ModelOverrides:
    """Changes to a registered model's architecture, as `build()` takes
    them; a run records the given ones in `run.json`'s `model_overrides`."""

    depths: tuple = option(
        None,
        "Blocks per stage, e.g. `3,4,23,3` (ResNet50's stages as ResNet101's).",
        type_doc="tuple of int or None",
        cli_type=comma_separated_ints,
    )
    width_multiplier: float = option(
        None,
        "Scales every stage's width (and the stem's).",
        minimum=0.0,
        min_inclusive=False,
    )
    block: str = option(None, "A registered block for every stage.", cli_type=str)
    front_end: str = option(
        None,
        "Audio data: `log_mel` (a log-mel image into the 2-D network) or "
        "`waveform` (samples into the 1-D network). None: `log_mel`.",
        choices=("log_mel", "waveform"),
    )

    def given(self):
        """`{name: value}` of the fields set (not None)."""
        values = dataclasses.asdict(self)
        return {name: value for name, value in values.items() if value is not None}
