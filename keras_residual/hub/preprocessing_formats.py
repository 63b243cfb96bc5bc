"""`Preprocessing` in the Hub's two spellings, both ways.

- timm's `pretrained_cfg`: `mean` and `std` of pixels in [0, 1], the resize
  `interpolation` and `crop_pct`;
- a keras-hub `ImageConverter`'s config: `x * scale + offset` on pixels in
  [0, 255] (a number or one per channel, None for none), `interpolation`.

Reading either gives the named mode (`"tf"`, `"torch"`) where the numbers
are that mode's, so a checkpoint normalised like ImageNet records
`"torch"`. Numbers read from keras-hub's reciprocals are rounded to 12
significant digits, so that a normalisation written in decimals (timm's
`0.481`) comes back as the same float after a trip through keras-hub.
"""

import math

from keras_residual.core.preprocessing import MODES
from keras_residual.core.preprocessing import Preprocessing
from keras_residual.core.preprocessing import as_preprocessing

SIGNIFICANT_DIGITS = 12
# How close two normalisations' per-channel multipliers and offsets must be
# for a read one to be a named mode.
RELATIVE_TOLERANCE = 1e-9


def from_timm(pretrained_cfg):
    """The `Preprocessing` of a timm `pretrained_cfg` (a named mode where
    its numbers are one's).

    Args:
        pretrained_cfg: dict. With `mean` and `std` (lists of 3) and
            optionally `interpolation` and `crop_pct`.
    """
    if not isinstance(pretrained_cfg, dict):
        raise TypeError(
            "`pretrained_cfg` must be a dict; received "
            f"{type(pretrained_cfg).__name__}."
        )
    return canonical(
        Preprocessing(
            mean=tuple(pretrained_cfg.get("mean", (0.0,))),
            std=tuple(pretrained_cfg.get("std", (1.0,))),
            interpolation=pretrained_cfg.get("interpolation") or "bilinear",
            crop_fraction=pretrained_cfg.get("crop_pct") or 1.0,
        )
    )


def to_timm(preprocessing):
    """timm's `pretrained_cfg` entries of a preprocessing: `mean`, `std`
    (of pixels in [0, 1]), `interpolation` and `crop_pct`.

    Args:
        preprocessing: str, dict or `Preprocessing`. It must take RGB
            (timm has no channel order).
    """
    spec = _rgb(preprocessing, "timm's pretrained_cfg")
    unit = spec.scale / 255.0  # the scale's units per [0, 1] unit
    mean, std = _three(spec.mean), _three(spec.std)
    return {
        "mean": [_rounded(m * unit) for m in mean],
        "std": [_rounded(s * unit) for s in std],
        "interpolation": spec.interpolation,
        "crop_pct": spec.crop_fraction,
    }


def from_image_converter(config):
    """The `Preprocessing` of a keras-hub `ImageConverter` (or its config).

    Args:
        config: dict or `keras_hub.layers.ImageConverter`. With `scale`,
            `offset` and `interpolation`.
    """
    if hasattr(config, "get_config"):
        config = config.get_config()
    if not isinstance(config, dict):
        raise TypeError(
            "`config` must be an ImageConverter or its config dict; received "
            f"{type(config).__name__}."
        )
    scale = _three(_values(config.get("scale"), 1.0))
    offset = _three(_values(config.get("offset"), 0.0))
    std = tuple(_rounded(1.0 / (255.0 * s)) for s in scale)
    mean = tuple(_rounded(-o / (255.0 * s)) for o, s in zip(offset, scale))
    return canonical(
        Preprocessing(
            mean=_collapsed(mean),
            std=_collapsed(std),
            interpolation=config.get("interpolation") or "bilinear",
        )
    )


def to_image_converter(preprocessing, image_size=None):
    """A keras-hub `ImageConverter` config of a preprocessing: `scale` and
    `offset` (None where they do nothing), `interpolation`, `image_size`.

    Args:
        preprocessing: str, dict or `Preprocessing`. It must take RGB and
            keep the whole image (`crop_fraction=1`): keras-hub's converter
            has neither a channel order nor a crop fraction.
        image_size: tuple of int or None. `(height, width)`. Defaults to
            `None`.
    """
    spec = _rgb(preprocessing, "a keras-hub image converter")
    if spec.crop_fraction != 1.0:
        raise ValueError(
            f"`preprocessing` crops (crop_fraction={spec.crop_fraction}); a "
            "keras-hub image converter has no crop fraction."
        )
    scale, offset = (list(values) for values in zip(*_affine(spec)))
    return {
        "image_size": None if image_size is None else tuple(image_size),
        "scale": None if set(scale) == {1.0} else _spelled(scale),
        "offset": None if set(offset) == {0.0} else _spelled(offset),
        "interpolation": spec.interpolation,
        "crop_to_aspect_ratio": True,
    }


def canonical(preprocessing):
    """The named mode that computes what `preprocessing` computes (same
    multipliers and offsets per channel, same resize), else itself.

    Args:
        preprocessing: `Preprocessing`.
    """
    for mode in MODES.values():
        if _same_resize(mode, preprocessing) and _same_affine(mode, preprocessing):
            return mode
    return preprocessing


def _affine(spec):
    """Per RGB input channel, `(multiplier, offset)` of `x * a + b` (no
    -0.0 offsets)."""
    mean, std = _three(spec.mean), _three(spec.std)
    pairs = [(1.0 / (spec.scale * s), -m / s + 0.0) for m, s in zip(mean, std)]
    return pairs[::-1] if spec.channel_order == "bgr" else pairs


def _same_affine(first, second):
    return first.channel_order == second.channel_order and all(
        math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)
        for pair_a, pair_b in zip(_affine(first), _affine(second))
        for a, b in zip(pair_a, pair_b)
    )


def _same_resize(first, second):
    return (first.interpolation, first.crop_fraction, first.layout) == (
        second.interpolation,
        second.crop_fraction,
        second.layout,
    )


def _rgb(preprocessing, target):
    spec = as_preprocessing(preprocessing)
    if spec is None or spec.channel_order != "rgb":
        raise ValueError(
            f"`preprocessing={spec}` cannot be written as {target}: it "
            "records no RGB normalisation (Caffe's BGR order has no "
            "spelling there)."
        )
    return spec


def _values(value, default):
    if value is None:
        return (default,)
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def _three(values):
    return tuple(values) * 3 if len(values) == 1 else tuple(values)


def _collapsed(values):
    return (values[0],) if len(set(values)) == 1 else tuple(values)


def _spelled(values):
    """One number where every channel's is the same, else a list."""
    return values[0] if len(set(values)) == 1 else list(values)


def _rounded(value):
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}") + 0.0  # no -0.0
