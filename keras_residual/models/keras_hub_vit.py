"""keras-hub's `ViTBackbone` here: the pre-norm ViT with a class token,
learned position embeddings sized for the backbone's square input, and
biases everywhere (keras-hub's defaults). keras-hub's nested
`vit_encoder/transformer_block_{i}/{ln_1,mha,ln_2,mlp/dense_1,mlp/dense_2}`
are `transformer_block{i}_{norm1,attn,norm2,mlp_fc1,mlp_fc2}` here."""

import re

from keras_residual.hub.keras_hub import KerasHubFamily
from keras_residual.hub.keras_hub import register_keras_hub_family
from keras_residual.models.vit import vit_spec

EMBEDDING = "vit_patching_and_embedding/"
BLOCK_VARIABLE = re.compile(r"^vit_encoder/transformer_block_(\d+)/(.+)$")
BLOCK_PARTS = {
    "ln_1/": "norm1/",
    "mha/": "attn/",
    "ln_2/": "norm2/",
    "mlp/dense_1/": "mlp_fc1/",
    "mlp/dense_2/": "mlp_fc2/",
}
FIXED_VARIABLES = {
    EMBEDDING + "class_token": "cls_token/token",
    EMBEDDING + "patch_embedding/kernel": "patch_embed/kernel",
    EMBEDDING + "patch_embedding/bias": "patch_embed/bias",
    EMBEDDING + "position_embedding/embeddings": "patch_embed_pos_embed/embeddings",
    "vit_encoder/ln/gamma": "norm/gamma",
    "vit_encoder/ln/beta": "norm/beta",
}
# keras-hub options this layout has only one way.
REQUIRED_FLAGS = ("use_class_token", "use_patch_bias", "use_mha_bias", "use_mlp_bias")


def spec_from_config(config):
    """The `ModelSpec` of a keras-hub `ViTBackbone` config.

    Args:
        config: dict. `ViTBackbone.get_config()`.
    """
    off = [flag for flag in REQUIRED_FLAGS if not config.get(flag, True)]
    height, width = config["image_shape"][:2]
    patch = config["patch_size"]
    patch = (patch, patch) if isinstance(patch, int) else tuple(patch)
    if off or height != width or patch[0] != patch[1]:
        raise ValueError(
            f"This keras-hub ViTBackbone has image {height}x{width}, patches "
            f"{patch}{' and ' + ', '.join(off) + '=False' if off else ''}; "
            "keras_residual builds square images and patches with a class "
            "token and biases."
        )
    dim = config["hidden_dim"]
    spec = vit_spec(
        dim,
        config["num_layers"],
        config["num_heads"],
        patch[0],
        config["mlp_dim"] / dim,
    )
    return spec.replace(
        bn_epsilon=config.get("layer_norm_epsilon", 1e-6),
        default_size=height,
        min_size=patch[0],
    )


def config_from_spec(spec):
    """The `ViTBackbone` arguments of `spec`, or None where it is not one
    class-token Transformer stage on a patch stem.

    Args:
        spec: `ModelSpec`.
    """
    if spec.stem.kind != "patch" or len(spec.stages) != 1 or spec.head != "token":
        return None
    stage = spec.stages[0]
    if stage.block != "transformer":
        return None
    dim = stage.filters
    return {
        "patch_size": spec.stem.args.get("patch_size", 16),
        "num_layers": stage.depth,
        "num_heads": stage.args.get("heads", max(1, dim // 64)),
        "hidden_dim": dim,
        "mlp_dim": int(dim * stage.args.get("mlp_ratio", 4.0)),
        "layer_norm_epsilon": spec.bn_epsilon,
    }


def variable_name(config):
    """A function from a keras-hub variable path to ours.

    Args:
        config: dict. A keras-hub `ViTBackbone` config (unused: one naming
            for every ViT).
    """

    def rename(path):
        if path in FIXED_VARIABLES:
            return FIXED_VARIABLES[path]
        match = BLOCK_VARIABLE.match(path)
        if match:
            block, rest = match.groups()
            for theirs, ours in BLOCK_PARTS.items():
                if rest.startswith(theirs):
                    return f"transformer_block{block}_{ours}{rest[len(theirs) :]}"
        return path

    return rename


register_keras_hub_family(
    KerasHubFamily(
        "ViTBackbone",
        spec_from_config,
        config_from_spec,
        variable_name,
        "pre-norm ViT with a class token and biases, square patches and "
        "images, built at its default size",
    )
)
