"""timm `vit_*_patch*` (`VisionTransformer` with a class token, learned
position embeddings and the class-token head): `patch_embed.proj`,
`cls_token`, `pos_embed`, `blocks.{i}.norm1` / `attn.qkv` / `attn.proj` /
`ls1` / `norm2` / `mlp.fc1` / `mlp.fc2` / `ls2`, `norm`, `head` become
`patch_embed`, `cls_token`, `patch_embed_pos_embed`,
`transformer_block{i+1}_norm1` / `_attn` / `_ls1` / `_norm2` / `_mlp_fc1` /
`_mlp_fc2` / `_ls2`, `norm`, `predictions`.

timm fuses the query, key and value projections into one `qkv` Linear;
Keras' `MultiHeadAttention` keeps them apart, per head: they are split
here. A state dict does not store the number of heads: timm's ViT-Ti, S,
B and L all use heads of 64 channels, which is assumed.
"""

import math
import re

import keras
import numpy as np

from keras_residual.blocks.transformer import attention_heads
from keras_residual.blocks.transformer import vit_layout
from keras_residual.core.spec import ModelSpec
from keras_residual.weights.converters.base import CheckpointArchitecture
from keras_residual.weights.converters.base import ModuleNames
from keras_residual.weights.converters.base import classes_of
from keras_residual.weights.converters.base import register_converter
from keras_residual.weights.hdf5 import CLASSIFIER_LAYER

BLOCK_MODULE = re.compile(
    r"^blocks\.(\d+)\.(norm1|attn|ls1|norm2|mlp\.fc1|mlp\.fc2|ls2)$"
)
# Top-level tensors (no module) and fused ones, renamed by `normalize`.
RENAMES = {"cls_token": "cls_token.token", "pos_embed": "pos_embed.embeddings"}
FUSED = re.compile(r"^(blocks\.\d+\.attn)\.(qkv|proj)\.(weight|bias)$")
LAYER_SCALE = re.compile(r"^(blocks\.\d+\.ls[12])\.gamma$")


def _block_layer(match):
    block, part = match.groups()
    return f"transformer_block{int(block) + 1}_{part.replace('.', '_')}"


layer_name = ModuleNames(
    {
        "patch_embed.proj": "patch_embed",
        "cls_token": "cls_token",
        "pos_embed": "patch_embed_pos_embed",
        "norm": "norm",
        "head": CLASSIFIER_LAYER,
    },
    ((BLOCK_MODULE, _block_layer),),
)


def normalize(state):
    """Gives top-level tensors a module (`cls_token.token`), LayerScale's
    `gamma` the Keras variable name, and the fused attention tensors one
    module (`blocks.0.attn.qkv_weight`).

    Args:
        state: dict. `{name: array}`.
    """
    renamed = {}
    for key, value in state.items():
        key = RENAMES.get(key, key)
        key = FUSED.sub(r"\1.\2_\3", key)
        key = LAYER_SCALE.sub(r"\1.gamma_value", key)
        renamed[key] = value
    return renamed


def describe(state):
    """The architecture of a timm ViT state dict.

    Args:
        state: dict. `{name: array}` (normalized).
    """
    dim, _, patch, _ = state["patch_embed.proj.weight"].shape
    depth = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    tokens = state["pos_embed.embeddings"].shape[1] - 1
    grid = math.isqrt(tokens)
    if grid * grid != tokens:
        raise ValueError(
            f"This ViT state dict has {tokens} position embeddings, not a "
            "square grid; keras_residual stores square grids."
        )
    heads = attention_heads(int(dim), None)
    mlp_ratio = state["blocks.0.mlp.fc1.weight"].shape[0] / dim
    args = {"qkv_bias": "blocks.0.attn.qkv_bias" in state}
    if "blocks.0.ls1.gamma_value" in state:
        args["layer_scale"] = 1e-5  # any value: the checkpoint sets gamma
    layout = vit_layout(int(dim), depth, heads, int(patch), float(mlp_ratio), **args)
    spec = ModelSpec.from_dict(
        dict(layout, default_size=int(grid * patch), min_size=int(patch))
    )
    return CheckpointArchitecture(
        family="vit",
        spec=spec,
        classes=classes_of(state, "head.weight"),
        description=(
            f"timm ViT, width {dim}, depth {depth}, {heads} heads, patch {patch}, "
            f"{grid}x{grid} grid"
        ),
    )


def layer_values(layer, tensors):
    """Splits the fused `qkv` of a block into `MultiHeadAttention`'s query,
    key and value per head, and lays `proj` out per head; LayerScale takes
    timm's `gamma`.

    Args:
        layer: `keras.layers.Layer`. The layer being loaded.
        tensors: dict. Its checkpoint tensors by (renamed) tensor name.
    """
    if "gamma_value" in tensors:
        return [np.asarray(tensors["gamma_value"], np.float32)]
    if not isinstance(layer, keras.layers.MultiHeadAttention):
        return None
    heads, head_dim = layer.num_heads, layer.key_dim
    weight = np.asarray(tensors["qkv_weight"], np.float32)  # (3 * dim, dim)
    dim = weight.shape[1]
    bias = tensors.get("qkv_bias")
    if bias is not None:
        bias = np.asarray(bias, np.float32)  # (3 * dim,)
    values = []
    for index in range(3):
        part = slice(index * dim, (index + 1) * dim)
        values.append(weight[part].T.reshape(dim, heads, head_dim))
        if bias is not None:
            values.append(bias[part].reshape(heads, head_dim))
    proj = np.asarray(tensors["proj_weight"], np.float32)  # (dim, dim)
    values.append(proj.T.reshape(heads, head_dim, dim))
    values.append(np.asarray(tensors["proj_bias"], np.float32))
    return values


register_converter(
    "vit",
    required_keys={
        "patch_embed.proj.weight",
        "pos_embed.embeddings",
        "blocks.0.attn.qkv_weight",
    },
    describe=describe,
    layer_name=layer_name,
    normalize=normalize,
    layer_values=layer_values,
)
