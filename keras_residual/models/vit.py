"""Vision Transformers (Dosovitskiy et al. 2021) in timm's layout: a 16x16
patch stem with a class token and learned position embeddings, pre-norm
Transformer blocks, a final LayerNorm and the class-token head, matched to
timm's `vit_{tiny,small,base}_patch16_224` parameter counts.

Options through `build()`: `drop_path_rate` (the ResNets' linear rule),
`layer_scale` (LayerScale's initial value, e.g. 1e-5), `heads`,
`mlp_ratio`; any `input_shape` whose sides are multiples of 16 (the
position embeddings are resampled from the 14x14 grid)."""

from keras_residual.blocks.transformer import vit_layout
from keras_residual.core.spec import ModelSpec
from keras_residual.models.zoo import register_model
from keras_residual.weights.registry import register_timm_weights


def vit_spec(dim, depth, heads, patch_size=16, mlp_ratio=4.0):
    """A ViT spec in timm's layout (see `blocks.transformer.vit_layout`).

    Args:
        dim: int. The embedding width.
        depth: int. Transformer blocks.
        heads: int. Attention heads; must divide `dim`.
        patch_size: int. Defaults to `16`.
        mlp_ratio: float. Defaults to `4.0`.
    """
    return ModelSpec.from_dict(vit_layout(dim, depth, heads, patch_size, mlp_ratio))


ViTTiny16 = register_model(
    "ViTTiny16",
    vit_spec(192, 12, 3),
    description="ViT-Ti/16, timm vit_tiny_patch16_224 layout (5.7M params).",
    preprocessing="tf",
)
ViTSmall16 = register_model(
    "ViTSmall16",
    vit_spec(384, 12, 6),
    description="ViT-S/16, timm vit_small_patch16_224 layout (22.1M params).",
    preprocessing="tf",
)
ViTBase16 = register_model(
    "ViTBase16",
    vit_spec(768, 12, 12),
    description="ViT-B/16, timm vit_base_patch16_224 layout (86.6M params).",
    preprocessing="tf",
)

# timm's results table, 224 px; the augreg weights take inputs scaled with
# mean and std 0.5 (the "tf" mode, [-1, 1]).
for _model, _tag, _top1 in (
    ("ViTTiny16", "vit_tiny_patch16_224.augreg_in21k_ft_in1k", 75.45),
    ("ViTSmall16", "vit_small_patch16_224.augreg_in21k_ft_in1k", 81.40),
    ("ViTBase16", "vit_base_patch16_224.augreg2_in21k_ft_in1k", 85.11),
):
    register_timm_weights(
        _model, _tag, top1=_top1, license="apache-2.0", preprocessing="tf"
    )
