"""Pre-norm Transformer blocks (the pre-activation block of Transformers:
`x + DropPath(MHSA(LN(x)))`, then `x + DropPath(MLP(LN(x)))`), the ViT
patch stem, and the search family `vit`.

A `transformer` stage can follow convolutional stages in one `ModelSpec`:
its first block turns the feature map into tokens (`{block}_embed`, a
convolution with kernel and stride equal to the stage's stride, then
`{block}_tokens` and `{block}_pos_embed`), so `StageSpec(2, 64,
"transformer", stride=2)` after two `basic` stages is a hybrid network.

Layer names per block: `{block}_norm1`, `_attn`, `_ls1`, `_drop_path1`,
`_add1`, `_norm2`, `_mlp_fc1`, `_mlp_gelu`, `_mlp_fc2`, `_ls2`,
`_drop_path2`, `_out` (timm's `norm1`, `attn`, `ls1`, `norm2`, `mlp.fc1`,
`mlp.fc2`, `ls2`).
"""

import math

import keras

from keras_residual.blocks.base import register_block
from keras_residual.blocks.search_family import register_search_family
from keras_residual.blocks.stems import register_stem
from keras_residual.layers.drop_path import DropPath
from keras_residual.layers.tokens import ClassToken
from keras_residual.layers.tokens import LayerScale
from keras_residual.layers.tokens import PositionEmbedding
from keras_residual.utils.validation import check_float
from keras_residual.utils.validation import check_int

DEFAULT_HEAD_WIDTH = 64  # channels per head when `heads` is not given
DEFAULT_MLP_RATIO = 4.0


def attention_heads(dim, heads):
    """The number of attention heads of a block of width `dim`: `heads`, or
    `dim // 64` (at least 1) when it is None.

    Args:
        dim: int. The embedding width.
        heads: int or None. The requested heads.

    Raises:
        ValueError: `heads` that does not divide `dim`.
    """
    if heads is None:
        heads = max(1, dim // DEFAULT_HEAD_WIDTH)
        while dim % heads:
            heads -= 1
    heads = check_int("heads", heads, minimum=1)
    if dim % heads:
        divisors = [h for h in range(1, min(dim, 32) + 1) if dim % h == 0]
        raise ValueError(
            f"`heads={heads}` does not divide the embedding width {dim}; "
            f"allowed: a divisor of {dim}, e.g. {divisors}."
        )
    return heads


def embed_tokens(x, layers, name, dim, patch, weights_grid, class_token=False):
    """Turns a map into tokens: a `{name}` convolution with kernel and
    stride `patch`, `{name}_tokens`, an optional `cls_token` and
    `{name}_pos_embed`; records the grid in `layers.token_layout`. With a
    class token (ViT's stem), `patch` must divide the input; without one (a
    hybrid stage), the convolution pads an odd map ("same").

    Args:
        x: tensor. A 1-D or 2-D map, channels last.
        layers: `LayerFactory`.
        name: str. The convolution's name (`patch_embed`).
        dim: int. The embedding width.
        patch: int. Kernel and stride.
        weights_grid: tuple of int. The grid at the default input size.
        class_token: bool. Prepend a class token. Defaults to `False`.
    """
    sizes = x.shape[1:-1]
    if None in sizes:
        raise ValueError(
            "Transformer stages need a known input size (the position "
            f"embeddings are sized from it); received a map of shape "
            f"{tuple(x.shape)}. Pass a full `input_shape`."
        )
    for size in sizes:
        if size % patch and class_token:
            raise ValueError(
                f"The patch size {patch} does not divide the input of "
                f"{name!r}: its sizes are {tuple(sizes)}; allowed: input "
                f"sizes that are multiples of {patch} (e.g. "
                f"{tuple(size - size % patch or patch for size in sizes)})."
            )
    grid = tuple(-(-size // patch) for size in sizes)
    x = layers.conv(x, dim, patch, name, strides=patch, padding="same", use_bias=True)
    x = keras.layers.Reshape((-1, dim), name=f"{name}_tokens")(x)
    prefix = 1 if class_token else 0
    layers.charge((prefix + math.prod(weights_grid), dim), f"{name}_pos_embed")
    if class_token:
        layers.charge((1, dim), "cls_token")
        x = ClassToken(name="cls_token")(x)
    x = PositionEmbedding(
        grid, weights_grid, prefix_tokens=prefix, name=f"{name}_pos_embed"
    )(x)
    layers.token_layout.update(grid=grid, prefix_tokens=prefix)
    return x


def _patch_size(stem):
    return check_int(
        "stem.args['patch_size']", stem.args.get("patch_size", 16), minimum=1
    )


@register_stem(
    "patch",
    stride=_patch_size,
    tokens=True,
    description=(
        "ViT patch embedding: a patch_size conv, class token and learned "
        "position embeddings."
    ),
)
def patch_stem(x, stem, layers):
    """ViT's stem: `patch_embed` (a convolution with kernel and stride
    `args["patch_size"]`, default 16, to `filters` channels),
    `patch_embed_tokens`, `cls_token` (unless `args["class_token"]` is
    False) and `patch_embed_pos_embed` (stored at the default input size and
    resampled at other sizes).

    Args:
        x: tensor. The input images (or 1-D signals).
        stem: `StemSpec`. Supplies `filters` and `args`.
        layers: `LayerFactory`. Makes the named layers.
    """
    patch = _patch_size(stem)
    grid = (layers.default_size // patch,) * (len(x.shape) - 2)
    class_token = stem.args.get("class_token", True)
    return embed_tokens(
        x, layers, "patch_embed", stem.filters, patch, grid, class_token
    )


@register_block(
    "transformer",
    expansion=1,
    shortcuts=("projection", "zero_pad", "none"),
    options=("heads", "mlp_ratio", "layer_scale", "qkv_bias"),
    tokens=True,
    description=(
        "Pre-norm Transformer block: x + MHSA(LN(x)), then x + MLP(LN(x)) "
        "(ViT); tokenizes a map it follows."
    ),
)
def transformer_block(x, call):
    """Pre-norm Transformer block with drop path and optional LayerScale.

    Block args: `heads` (default: width / 64), `mlp_ratio` (4.0),
    `layer_scale` (None, or LayerScale's initial value such as 1e-5) and
    `qkv_bias` (True). A stage's first block tokenizes a map (a 2-D map, a
    stride above 1 or another width): `{name}_embed` (kernel and stride =
    the stage's stride), then position embeddings.

    Args:
        x: tensor. Tokens `(batch, tokens, filters)` or a map to tokenize.
        call: `BlockCall`. The block being built.
    """
    layers, name, dim = call.layers, call.name, call.filters
    heads = attention_heads(dim, call.arg("heads", None))
    mlp_ratio = check_float(
        "mlp_ratio",
        call.arg("mlp_ratio", DEFAULT_MLP_RATIO),
        0.0,
        min_inclusive=False,
    )
    layer_scale = call.arg("layer_scale", None)
    if len(x.shape) != 3 or x.shape[-1] != dim or call.stride > 1:
        reduction = call.input_reduction
        size = -(-layers.default_size // reduction // call.stride)
        grid = (size,) * (len(x.shape) - 2)
        x = embed_tokens(x, layers, f"{name}_embed", dim, call.stride, grid)
    y = layers.bn(x, f"{name}_norm1", kind="layer")
    layers.charge((4, dim, dim), f"{name}_attn")  # query, key, value, output
    y = keras.layers.MultiHeadAttention(
        heads,
        dim // heads,
        use_bias=call.arg("qkv_bias", True, (True, False)),
        kernel_initializer=layers.kernel_initializer,
        name=f"{name}_attn",
    )(y, y)
    x = _residual(x, y, call, 1, layer_scale)
    y = layers.bn(x, f"{name}_norm2", kind="layer")
    y = layers.dense(y, int(dim * mlp_ratio), f"{name}_mlp_fc1")
    y = layers.act(y, f"{name}_mlp", activation="gelu")
    y = layers.dense(y, dim, f"{name}_mlp_fc2")
    return _residual(x, y, call, 2, layer_scale, name=f"{name}_out")


def _residual(x, y, call, index, layer_scale, name=None):
    """`x + DropPath(LayerScale(y))`, the sum named `{block}_add{index}`."""
    if layer_scale is not None:
        y = LayerScale(layer_scale, name=f"{call.name}_ls{index}")(y)
    if call.drop_rate > 0.0:
        y = DropPath(call.drop_rate, name=f"{call.name}_drop_path{index}")(y)
    return keras.layers.Add(name=name or f"{call.name}_add{index}")([x, y])


def vit_layout(dim, depth, heads, patch_size=16, mlp_ratio=4.0, **args):
    """A ViT as `ModelSpec` fields (plain data): a `patch_size` patch stem
    of `dim` channels with a class token, one `transformer` stage of
    `depth` blocks, a final LayerNorm (`norm`) and the class-token head;
    LayerNorm epsilon 1e-6 and GELU, as timm.

    Args:
        dim: int. The embedding width.
        depth: int. Transformer blocks.
        heads: int. Attention heads; must divide `dim`.
        patch_size: int. Defaults to `16`.
        mlp_ratio: float. MLP width over `dim`. Defaults to `4.0`.
        **args: other block args (`layer_scale`, `qkv_bias`).
    """
    return {
        "stem": {
            "kind": "patch",
            "filters": int(dim),
            "args": {"patch_size": int(patch_size)},
        },
        "stages": [
            {
                "depth": int(depth),
                "filters": int(dim),
                "block": "transformer",
                "stride": 1,
                "shortcut": "none",
                "args": {"heads": int(heads), "mlp_ratio": float(mlp_ratio), **args},
                "name": "transformer",
            }
        ],
        "final_norm_prefix": "",
        "final_norm_kind": "layer_norm",
        "head": "token",
        "norm": "layer",
        "activation": "gelu",
        "bn_epsilon": 1e-6,
    }


@register_search_family(
    "vit",
    block="transformer",
    parameters={"heads": [2, 4], "mlp_ratio": [2.0, 4.0]},
    description="Vision Transformers: patch stem, pre-norm blocks",
)
def vit_search_spec(depths, base_width, heads=4, mlp_ratio=4.0, patch_size=4):
    """A ViT for small images (`vit_layout` with a `patch_size` of 4): depth
    is the number of blocks (`sum(depths)`), width the embedding (rounded up
    to a multiple of `heads`).

    Args:
        depths: tuple of int. Their sum is the number of blocks.
        base_width: int. The embedding width.
        heads: int. Attention heads. Defaults to `4`.
        mlp_ratio: float. MLP width over the embedding. Defaults to `4.0`.
        patch_size: int. Defaults to `4`.
    """
    heads = int(heads)
    dim = -(-int(base_width) // heads) * heads
    return vit_layout(dim, sum(depths), heads, patch_size, mlp_ratio)
