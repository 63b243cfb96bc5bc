"""Channel attention (#17): `attention="se"` / `"eca"` on any residual
block, SEResNet50 against timm's published parameter count, and the
arguments refused."""

import keras
import numpy as np
import pytest

import keras_residual as kr
from tests.conftest import assert_trains_and_reloads

# timm.create_model("seresnet50").num_params (../shared/REFERENCE.md: 28.09M)
TIMM_SERESNET50 = 28_088_024


def _trainable(model):
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def test_se_resnet50_matches_timm_and_plain_resnet50_is_unchanged():
    model = kr.SEResNet50(weights=None)
    assert _trainable(model) == TIMM_SERESNET50
    # SE after the last BN of each bottleneck, reduced 16x (at least 8).
    assert model.get_layer("conv2_block1_se_reduce").kernel.shape == (1, 1, 256, 16)
    assert model.get_layer("conv5_block3_se_expand").kernel.shape == (1, 1, 128, 2048)
    assert not [layer for layer in kr.ResNet50().layers if "_se_" in layer.name]


def test_eca_uses_the_adaptive_kernel_size():
    model = kr.build("ResNet50", attention="eca", input_shape=(64, 64, 3), classes=10)
    # ECA-Net: k = nearest odd to (log2(C) + 1) / 2: 5 at 256, 7 at 2048.
    assert model.get_layer("conv2_block1_eca_conv").kernel.shape == (5, 1, 1)
    assert model.get_layer("conv5_block1_eca_conv").kernel.shape == (7, 1, 1)


@pytest.mark.parametrize(
    "name, attention",
    [("ResNet20", "se"), ("ResNet50V2", "eca"), ("ResNeXt50_32x4d", "se")],
)
def test_any_residual_block_takes_attention_trains_and_reloads(
    name, attention, tmp_path
):
    keras.utils.set_random_seed(0)
    model = kr.build(
        name,
        attention=attention,
        input_shape=(32, 32, 3),
        classes=4,
        depths=(1,) * len(kr.get_spec(name).depths),
    )
    scales = [layer for layer in model.layers if layer.name.endswith("_scale")]
    assert len(scales) == len(kr.get_spec(name).depths)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    assert_trains_and_reloads(model, x, np.arange(4), str(tmp_path / "m.keras"))


def test_unknown_attention_and_blocks_without_it_are_refused():
    with pytest.raises(ValueError, match=r"'sse'.*Did you mean 'se'"):
        kr.build("ResNet20", attention="sse")
    with pytest.raises(ValueError, match=r"attention"):
        kr.build("DenseNet121", attention="se")
