"""Identity with keras.applications: names, order, variables, parameter
counts, and the legacy `.h5` round trip of its weight files."""

import re

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

import keras_residual as kr
from keras_residual import layers as residual_layers
from tests.conftest import random_images

PAIRS = {
    "ResNet50": keras.applications.ResNet50,
    "ResNet101": keras.applications.ResNet101,
    "ResNet152": keras.applications.ResNet152,
    "ResNet50V2": keras.applications.ResNet50V2,
    "ResNet101V2": keras.applications.ResNet101V2,
    "ResNet152V2": keras.applications.ResNet152V2,
    "DenseNet121": keras.applications.DenseNet121,
    "DenseNet169": keras.applications.DenseNet169,
    "DenseNet201": keras.applications.DenseNet201,
}
# Published figures (../shared/REFERENCE.md), not computed by this package.
PARAMS = {
    "ResNet50": 25_636_712,
    "ResNet101": 44_707_176,
    "ResNet152": 60_419_944,
    "ResNet50V2": 25_613_800,
    "ResNet101V2": 44_675_560,
    "ResNet152V2": 60_380_648,
    "DenseNet121": 8_062_504,
    "DenseNet169": 14_307_880,
    "DenseNet201": 20_242_984,
}
# Layers keras.applications leaves unnamed get a session-dependent name.
KERAS_AUTO_NAME = re.compile(r"(input_layer|max_pooling2d|zero_padding2d)(_\d+)?")
# Where our names differ from theirs: only where theirs are auto-named.
DIFFERING = {
    "ResNet50": ["images"],
    "ResNet50V2": [
        "images",
        "conv2_block3_0_pool",
        "conv3_block4_0_pool",
        "conv4_block6_0_pool",
    ],
    "DenseNet121": ["images", "conv1_pad", "pool1_pad"],
}


def _variables(model):
    """(layer position, variable name, shape), in weight-loading order."""
    return [
        (i, v.name, tuple(v.shape))
        for i, layer in enumerate(model.layers)
        for v in layer.weights
    ]


@pytest.mark.parametrize("name", list(PAIRS))
def test_layer_names_order_and_variables_equal_keras_applications(name):
    theirs = PAIRS[name](weights=None)
    ours = kr.build(name)
    assert ours.count_params() == theirs.count_params() == PARAMS[name]
    their_names = [layer.name for layer in theirs.layers]
    our_names = [layer.name for layer in ours.layers]
    assert len(our_names) == len(their_names)
    differing = [(a, b) for a, b in zip(our_names, their_names) if a != b]
    assert all(KERAS_AUTO_NAME.fullmatch(b) for _, b in differing)
    if name in DIFFERING:
        assert [a for a, _ in differing] == DIFFERING[name]
    assert name != "ResNet50" or "conv4_block6_out" in our_names  # a tap users name
    for mine, yours, my_layer, your_layer in zip(
        our_names, their_names, ours.layers, theirs.layers
    ):
        if type(your_layer) is keras.layers.BatchNormalization:
            # Ours is the subclass that fuses training steps on TensorFlow:
            # the same arguments, variables and config.
            assert type(my_layer) is residual_layers.BatchNormalization
            # (the channel axis is -1 here, 3 there: the same axis.)
            mine_config, your_config = my_layer.get_config(), your_layer.get_config()
            assert (mine_config.pop("axis"), your_config.pop("axis")) == (-1, 3)
            assert mine_config == your_config | {"name": my_layer.name}
        else:
            assert type(my_layer) is type(your_layer)
        if KERAS_AUTO_NAME.fullmatch(yours):
            continue  # we name it explicitly (e.g. conv2_block3_0_pool)
        assert mine == yours
    assert _variables(ours) == _variables(theirs)


def _write_legacy_h5(model, path):
    """Writes weights the way the published keras.applications files are."""
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)


@pytest.mark.parametrize("name", ["ResNet50", "ResNet50V2", "DenseNet121"])
@pytest.mark.parametrize("include_top", [True, False])
def test_legacy_h5_from_keras_applications_loads_with_equal_outputs(
    name, include_top, tmp_path
):
    keras.utils.set_random_seed(1)
    theirs = PAIRS[name](weights=None, include_top=include_top, input_shape=(64, 64, 3))
    path = tmp_path / f"{name}.h5"
    _write_legacy_h5(theirs, path)
    ours = kr.build(
        name, include_top=include_top, input_shape=(64, 64, 3), weights=str(path)
    )
    x = random_images(2, 64) * 127.0
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours(x)),
        keras.ops.convert_to_numpy(theirs(x)),
        atol=1e-5,
    )


def test_densenet_imagenet_weights_are_the_published_keras_files():
    from keras.src.applications import densenet as keras_densenet

    for depth in (121, 169, 201):
        entry = kr.weights.get_weights_entry(f"DenseNet{depth}", "imagenet")
        assert entry.top.url == getattr(keras_densenet, f"DENSENET{depth}_WEIGHT_PATH")
        assert entry.notop.url == getattr(
            keras_densenet, f"DENSENET{depth}_WEIGHT_PATH_NO_TOP"
        )
    source = open(keras_densenet.__file__).read()
    for depth in (121, 169, 201):
        entry = kr.weights.get_weights_entry(f"DenseNet{depth}", "imagenet")
        assert f'file_hash="{entry.top.file_hash}"' in source
        assert f'file_hash="{entry.notop.file_hash}"' in source


def test_imagenet_weights_are_the_published_keras_files():
    """Same URLs and hashes as keras.applications' own table."""
    from keras.src.applications import resnet as keras_resnet

    for name in [n for n in PAIRS if n.startswith("ResNet")]:
        entry = kr.weights.get_weights_entry(name, "imagenet")
        stem = name.lower()
        top_hash, notop_hash = keras_resnet.WEIGHTS_HASHES[stem]
        expected = (
            f"{keras_resnet.BASE_WEIGHTS_PATH}{stem}_weights_tf_dim_ordering_tf_kernels"
        )
        assert entry.top.url == expected + ".h5"
        assert entry.notop.url == expected + "_notop.h5"
        assert (entry.top.file_hash, entry.notop.file_hash) == (top_hash, notop_hash)
