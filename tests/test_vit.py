"""Vision Transformers and hybrid token stages (#17): timm's parameter
counts and FLOPs, the pre-norm block's options (drop path, LayerScale,
heads), position-embedding resampling, token taps on a grid, hybrids after
convolutional stages, the `vit` and `resnext` search families, and the
arguments refused. Conversion from timm is in test_timm_converter.py."""

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.analysis.flops import count_macs
from keras_residual.search.hypermodel import ResidualHyperModel
from tests.conftest import assert_trains_and_reloads

# timm.create_model(name) parameters (../shared/REFERENCE.md: 5.72M, 22.05M,
# 86.57M).
TIMM_PARAMETERS = {
    "ViTTiny16": 5_717_416,
    "ViTSmall16": 22_050_664,
    "ViTBase16": 86_567_656,
}
# ViT-S/16 at 224 px in timm's tables (../shared/REFERENCE.md).
TIMM_VIT_S_GMACS = {"with attention products": 4.61, "projections only": 4.25}


def tiny_vit(**kwargs):
    """A 2-block ViT-Ti at 32 px (a 2x2 grid)."""
    kwargs.setdefault("input_shape", (32, 32, 3))
    return kr.ViTTiny16(depths=(2,), classes=3, **kwargs)


@pytest.mark.parametrize("name", sorted(TIMM_PARAMETERS))
def test_parameter_counts_match_timm(name):
    model = kr.build(name)
    assert model.count_params() == TIMM_PARAMETERS[name]
    assert model.output.shape == (None, 1000)


def test_vit_small_flops_bracket_timms_two_figures():
    model = kr.ViTSmall16()
    with_products = count_macs(model) / 1e9
    projections = count_macs(model, attention_products=False) / 1e9
    assert with_products == pytest.approx(
        TIMM_VIT_S_GMACS["with attention products"], rel=0.01
    )
    assert projections == pytest.approx(TIMM_VIT_S_GMACS["projections only"], rel=0.01)


def test_block_layers_follow_timm_and_drop_path_follows_the_linear_rule():
    model = tiny_vit(drop_path_rate=0.2, layer_scale=0.1)
    names = [layer.name for layer in model.layers]
    block = [n[len("transformer_block1_") :] for n in names if "block1_" in n]
    assert block == [
        "norm1",
        "attn",
        "ls1",
        "drop_path1",
        "add1",
        "norm2",
        "mlp_fc1",
        "mlp_gelu",
        "mlp_fc2",
        "ls2",
        "drop_path2",
        "out",
    ]
    assert names[:5] == [
        "images",
        "patch_embed",
        "patch_embed_tokens",
        "cls_token",
        "patch_embed_pos_embed",
    ]
    assert names[-3:] == ["norm", "token_pool", "predictions"]
    for block in (1, 2):
        for index in (1, 2):
            rate = model.get_layer(f"transformer_block{block}_drop_path{index}").rate
            assert rate == pytest.approx(0.2 * block / 2)
    gamma = keras.ops.convert_to_numpy(model.get_layer("transformer_block2_ls2").gamma)
    np.testing.assert_allclose(gamma, 0.1)
    attention = model.get_layer("transformer_block1_attn")
    assert (attention.num_heads, attention.key_dim) == (3, 64)


def test_position_embeddings_are_stored_at_224_and_resampled_at_other_sizes():
    small = kr.ViTTiny16(depths=(1,), classes=3)
    large = kr.ViTTiny16(depths=(1,), classes=3, input_shape=(384, 384, 3))
    stored = large.get_layer("patch_embed_pos_embed")
    assert tuple(stored.embeddings.shape) == (1, 197, 192)
    assert stored.grid == (24, 24) and stored.weights_grid == (14, 14)
    # Weights of the 224 model load unchanged into the 384 one.
    large.set_weights(small.get_weights())
    position = small.get_layer("patch_embed_pos_embed")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(position.resampled()),
        keras.ops.convert_to_numpy(position.embeddings),
    )
    # Resampling keeps the class token's embedding and a constant grid.
    values = np.full((1, 197, 192), 0.25, np.float32)
    values[0, 0] = 7.0
    stored.embeddings.assign(values)
    resampled = keras.ops.convert_to_numpy(stored.resampled())
    assert resampled.shape == (1, 1 + 24 * 24, 192)
    np.testing.assert_allclose(resampled[0, 0], 7.0)
    np.testing.assert_allclose(resampled[0, 1:], 0.25, atol=1e-5)
    images = np.random.default_rng(0).random((1, 384, 384, 3), dtype=np.float32)
    assert np.isfinite(large.predict(images, verbose=0)).all()


def test_token_taps_are_grids_and_pooling_gives_the_class_token():
    model = tiny_vit(include_top=False, input_shape=(64, 64, 3))
    assert model.output.shape == (None, 17, 192)
    grid = model.block_outputs["transformer_block2"]
    assert tuple(grid.shape) == (None, 4, 4, 192)
    assert list(model.pyramid_outputs) == ["P4"]
    tokens = model.get_layer("transformer_block2_out").output
    probe = keras.Model(model.input, [tokens, grid])
    images = np.random.default_rng(1).random((2, 64, 64, 3), dtype=np.float32)
    token_values, grid_values = probe.predict(images, verbose=0)
    np.testing.assert_array_equal(
        grid_values, token_values[:, 1:].reshape(2, 4, 4, 192)
    )
    features = kr.pyramid_model(model)(images)
    assert tuple(features["P4"].shape) == (2, 4, 4, 192)
    pooled = tiny_vit(include_top=False, input_shape=(64, 64, 3), pooling="avg")
    pooled.set_weights(model.get_weights())
    norm = keras.Model(model.input, model.get_layer("norm").output)
    np.testing.assert_allclose(
        pooled.predict(images, verbose=0),
        norm.predict(images, verbose=0)[:, 0],
        atol=1e-6,
    )


def test_tiny_vit_trains_and_reloads(tmp_path):
    model = tiny_vit(drop_path_rate=0.1, layer_scale=1e-5)
    rng = np.random.default_rng(0)
    x = rng.random((8, 32, 32, 3), dtype=np.float32)
    assert_trains_and_reloads(model, x, rng.integers(0, 3, 8), tmp_path / "vit.keras")


def hybrid_spec(head="avg"):
    """Two basic stages, then a strided Transformer stage (the issue's
    example), LayerNorm and the token-average head."""
    return kr.ModelSpec(
        stem=kr.StemSpec("cifar", 16),
        stages=(
            kr.StageSpec(1, 16, "basic", stride=1),
            kr.StageSpec(1, 32, "basic"),
            kr.StageSpec(2, 64, "transformer", stride=2),
        ),
        final_norm_prefix="",
        final_norm_kind="layer_norm",
        head=head,
        default_size=32,
    )


@pytest.mark.jax
def test_hybrid_spec_tokenizes_after_conv_stages_trains_and_reloads(tmp_path):
    model = kr.build(hybrid_spec(), classes=4)
    names = [layer.name for layer in model.layers]
    assert names.index("conv3_block1_out") < names.index("conv4_block1_embed")
    assert model.get_layer("conv4_block1_embed").strides == (2, 2)
    assert model.get_layer("conv4_block1_attn").num_heads == 1  # 64 / 64
    assert "conv4_block2_embed" not in names
    assert tuple(model.block_outputs["conv4_block2"].shape) == (None, 8, 8, 64)
    assert list(model.pyramid_outputs) == ["P0", "P1", "P2"]
    rng = np.random.default_rng(0)
    x = rng.random((8, 32, 32, 3), dtype=np.float32)
    assert_trains_and_reloads(model, x, rng.integers(0, 4, 8), tmp_path / "h.keras")


def test_hybrid_token_average_head_skips_no_token_without_a_class_token():
    model = kr.build(hybrid_spec("token_avg"), classes=4)
    tokens = model.get_layer("norm").output
    probe = keras.Model(model.input, [tokens, model.get_layer("avg_pool").output])
    x = np.random.default_rng(2).random((2, 32, 32, 3), dtype=np.float32)
    token_values, pooled = probe.predict(x, verbose=0)
    np.testing.assert_allclose(pooled, token_values.mean(axis=1), atol=1e-6)


def test_bad_heads_patch_sizes_and_unknown_sizes_are_refused():
    with pytest.raises(ValueError, match=r"heads=5.*embedding width 192.*divisor"):
        kr.ViTTiny16(heads=5)
    with pytest.raises(ValueError, match=r"patch size 16 does not divide.*200"):
        kr.ViTTiny16(input_shape=(200, 200, 3))
    with pytest.raises(ValueError, match=r"Transformer stages.*known input"):
        kr.ViTTiny16(include_top=False, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match=r"mlp_ratio"):
        kr.ViTTiny16(mlp_ratio=0.0)
    with pytest.raises(ValueError, match=r"Unknown head.*'tokn'.*'token'"):
        kr.build(kr.get_spec("ViTTiny16").replace(head="tokn"))
    with pytest.raises(ValueError, match=r"keyword argument.*'attention'"):
        kr.ViTTiny16(attention="se")


SMALL_SPACE = {
    "depth": [1],
    "base_width": [16],
    "cardinality": [8],
    "heads": [2],
    "mlp_ratio": [2.0],
}


def test_search_builds_resnext_cardinality_and_budgets_attention_flops():
    hypermodel = ResidualHyperModel(dict(SMALL_SPACE, family=["resnext", "vit"]))
    values = {"family": "resnext", "depths": (1, 1, 1), "base_width": 16}
    resnext = hypermodel.build_model(dict(values, cardinality=8))
    assert resnext.get_layer("conv2_block1_2_conv").groups == 8
    vit = hypermodel.build_model(
        dict(values, family="vit", heads=2, mlp_ratio=2.0), name="vit"
    )
    assert vit.get_layer("transformer_block3_attn").num_heads == 2
    # A budget between the ViT's FLOPs without and with the attention
    # products rejects it: the products count.
    projections = 2 * count_macs(vit, attention_products=False)
    hypermodel.max_flops = projections + 1
    assert "FLOPs > max_flops" in hypermodel.budget_violation(vit)


def test_fine_tuning_ranks_put_the_final_norm_with_the_blocks():
    from keras_residual.training.finetune import layer_ranks

    ranks = layer_ranks(tiny_vit())
    assert (ranks["patch_embed"], ranks["cls_token"]) == (0, 0)
    assert ranks["transformer_block2_attn"] == ranks["norm"] == 1
    assert ranks["predictions"] == 2
