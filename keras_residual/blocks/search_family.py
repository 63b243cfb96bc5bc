"""What the architecture search needs from a block family, registered next
to the family's blocks so that the search code names no family.

A search family turns sampled values (blocks per stage, base width and the
family's own hyperparameters) into a spec, as plain data: the `stem`,
`stages` and `final_norm_prefix` of a `ModelSpec`. The search adds the shared
settings (initialiser, BN, drop path) and builds it.

```python
@register_search_family(
    "wide_basic", block="basic", parameters={"widen": [1, 2]},
    description="basic blocks, widened")
def wide_basic(depths, base_width, widen=1):
    return {"stem": cifar_stem(base_width),
            "stages": widening_stages(depths, base_width * widen, "basic")}
```
"""

import dataclasses

from keras_residual.utils.registry import Registry

SEARCH_FAMILIES = Registry("block family", "family")


@dataclasses.dataclass(frozen=True)
class SearchFamily:
    """A block family the search can sample.

    Args:
        name: str. The name used in search spaces (`"family": [...]`).
        make_spec: callable. `make_spec(depths, base_width, **parameters)`
            returns a dict with the `stem`, `stages` and `final_norm_prefix` of a
            `ModelSpec`.
        block: str. The registered block its stages use.
        parameters: dict. The family's own hyperparameters and their
            default search-space entries (a value, a list of choices or
            `{"min": a, "max": b}`); they are sampled only when the family
            is chosen.
        description: str. One line.
    """

    name: str
    make_spec: object
    block: str
    parameters: dict = dataclasses.field(default_factory=dict)
    description: str = ""


def register_search_family(
    name, make_spec=None, *, block, parameters=None, description="", overwrite=False
):
    """Registers a block family with the architecture search.

    Usable as a decorator or as a call, like `register_block`.

    Args:
        name: str. The family's name in search spaces.
        make_spec: callable or None. See `SearchFamily.make_spec`. Defaults
            to `None` (decorator use).
        block: str. The block its stages use.
        parameters: dict or None. Family hyperparameters and their default
            search-space entries. Defaults to `None` (none).
        description: str. One line. Defaults to `""`.
        overwrite: bool. Replace a family of the same name. Defaults to
            `False`.
    """

    def decorator(function):
        if not callable(function):
            raise TypeError(
                "`make_spec` must be callable as make_spec(depths, base_width, "
                f"**parameters); received {function!r}."
            )
        SEARCH_FAMILIES.register(
            name,
            SearchFamily(name, function, block, dict(parameters or {}), description),
            overwrite=overwrite,
        )
        return function

    if make_spec is not None:
        return decorator(make_spec)
    return decorator


def get_search_family(name):
    """Returns the `SearchFamily` registered under `name`.

    Args:
        name: str. A registered family; unknown names raise `ValueError`
            with close matches.
    """
    return SEARCH_FAMILIES.get(name)


def list_search_families():
    """Returns `{name: description}` for every registered search family, in
    registration order."""
    return {name: family.description for name, family in SEARCH_FAMILIES.items()}


def cifar_stem(filters, norm=True):
    """The CIFAR stem as spec data: a 3×3 conv (with BN and activation
    unless `norm=False`).

    Args:
        filters: int. Stem width.
        norm: bool. Keep the BN and activation. Defaults to `True`.
    """
    return {"kind": "cifar", "filters": int(filters), "args": {"norm": norm}}


def widening_stages(depths, base_width, block, shortcut="projection", args=None):
    """Stages as spec data: stage `i` has `depths[i]` blocks of
    `base_width * 2**i` filters, stride 1 for the first stage and 2 after.

    Args:
        depths: sequence of int. Blocks per stage.
        base_width: int. First-stage width.
        block: str. A registered block.
        shortcut: str. The stages' shortcut kind. Defaults to
            `"projection"`.
        args: dict or None. Block args for every stage. Defaults to `None`.
    """
    return [
        {
            "depth": int(depth),
            "filters": int(base_width) * 2**i,
            "block": block,
            "stride": 1 if i == 0 else 2,
            "shortcut": shortcut,
            "args": dict(args or {}),
        }
        for i, depth in enumerate(depths)
    ]


def widening_layout(
    block, shortcut="projection", stem_norm=True, final_norm_prefix=None
):
    """A `make_spec` for a family of one block on the CIFAR layout: a CIFAR
    stem of `base_width` filters and `widening_stages`.

    Args:
        block: str. A registered block.
        shortcut: str. The stages' shortcut kind. Defaults to
            `"projection"`.
        stem_norm: bool. BN and activation in the stem. Defaults to `True`.
        final_norm_prefix: str or None. A final BN + activation prefix (`"post"`
            for pre-activation blocks). Defaults to `None`.
    """

    def make_spec(depths, base_width, attention="none", stem="cifar"):
        args = {} if attention == "none" else {"attention": attention}
        layout = {
            "stem": dict(cifar_stem(base_width, norm=stem_norm), kind=stem),
            "stages": widening_stages(depths, base_width, block, shortcut, args),
        }
        if final_norm_prefix is not None:
            layout["final_norm_prefix"] = final_norm_prefix
        return layout

    make_spec.__doc__ = (
        f"{block!r} blocks with {shortcut!r} shortcuts on a CIFAR stem "
        "(`stem='deep'`: ResNet-D's); `attention` 'se' or 'eca' in every block."
    )
    return make_spec


# Options of the residual search families, fixed by default so that the
# default space stays as it was: channel attention in every block
# (`SearchSpace({"attention": ["none", "se", "eca"]})` searches it) and the
# stem (`{"stem": ["cifar", "deep"]}`; the deep stem's stride 4 leaves 2x2
# maps at 32 px).
RESIDUAL_OPTIONS = {"attention": "none", "stem": "cifar"}
