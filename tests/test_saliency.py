"""Grad-CAM and attention rollout: on the shipped Fashion-MNIST and digits
models the map concentrates on the object pasted in one quadrant of a
blank canvas; Grad-CAM equals the closed-form CAM where one exists; the
rollout equals one computed from the attention weights by hand; and the
`explain` command writes overlays."""

import gzip
import json
import pathlib

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.analysis.saliency import attention_rollout
from keras_residual.analysis.saliency import grad_cam
from keras_residual.analysis.saliency import save_overlays
from keras_residual.blocks.transformer import vit_layout
from keras_residual.cli import main
from keras_residual.core.preprocessing import preprocess
from tests.conftest import tiny_resnet

SLICE = pathlib.Path(__file__).parent / "data" / "fashion_mnist"
QUADRANTS = ((0, 0), (0, 1), (1, 0), (1, 1))


def _fashion_test_slice():
    with gzip.open(SLICE / "t10k-images-idx3-ubyte.gz") as handle:
        images = np.frombuffer(handle.read()[16:], np.uint8).reshape(-1, 28, 28, 1)
    with gzip.open(SLICE / "t10k-labels-idx1-ubyte.gz") as handle:
        labels = np.frombuffer(handle.read()[8:], np.uint8).astype("int64")
    return images, labels


def _pasted(images):
    """Each image in one quadrant (in turn) of a blank canvas twice its size."""
    count, side = len(images), images.shape[1]
    canvas = np.zeros((count, 2 * side, 2 * side, images.shape[-1]), "float32")
    for i, image in enumerate(images):
        row, column = QUADRANTS[i % 4]
        canvas[
            i, row * side : (row + 1) * side, column * side : (column + 1) * side
        ] = image
    return canvas


def _mass_in_quadrant(maps):
    side = maps.shape[1] // 2
    shares = []
    for i, heat in enumerate(maps):
        row, column = QUADRANTS[i % 4]
        inside = heat[
            row * side : (row + 1) * side, column * side : (column + 1) * side
        ]
        shares.append(inside.sum() / heat.sum())
    return np.array(shares)


@pytest.mark.jax
@pytest.mark.parametrize("weights", ["fashion_mnist", "digits"])
def test_the_map_concentrates_on_the_object(weights):
    if weights == "fashion_mnist":
        images, labels = _fashion_test_slice()
    else:
        images, labels = kr.data.load_digits_arrays()["test"]
    images, labels = images[:48], labels[:48]
    side = images.shape[1]
    model = kr.build("ResNet20", weights=weights, input_shape=(2 * side, 2 * side, 1))
    canvas = _pasted(images)
    heat = grad_cam(model, preprocess(canvas.copy(), "tf"), class_index=labels)
    assert heat.maps.shape == canvas.shape[:3] and heat.layer == "conv4_block3_out"
    assert heat.maps.min() >= 0.0 and np.allclose(heat.maps.max(axis=(1, 2)), 1.0)
    shares = _mass_in_quadrant(heat.maps)
    # A quarter of the canvas; a map that ignored the object would hold
    # about a quarter of its heat there.
    assert np.median(shares) > 0.6
    assert (shares > 0.5).mean() > 0.75
    peaks = [np.unravel_index(m.argmax(), m.shape) for m in heat.maps]
    inside = [
        (row // side, column // side) == QUADRANTS[i % 4]
        for i, (row, column) in enumerate(peaks)
    ]
    assert np.mean(inside) > 0.8


def test_grad_cam_is_the_class_activation_map_of_a_pooled_linear_head():
    # With global average pooling and a linear classifier, the gradient of
    # logit c with respect to feature A_k(i, j) is W[k, c] / (h w): Grad-CAM
    # is CAM (Zhou et al., 2016), ReLU(sum_k W[k, c] A_k), upsampled.
    keras.utils.set_random_seed(0)  # weights with heat for each class, in any order
    model = tiny_resnet(input_shape=(32, 32, 3), classes=5, classifier_activation=None)
    images = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 3)).astype("float32")
    heat = grad_cam(model, images, class_index=[0, 2, 4])
    features = keras.Model(model.input, model.get_layer("conv4_block1_out").output)
    maps = keras.ops.convert_to_numpy(features(images))
    kernel = keras.ops.convert_to_numpy(model.get_layer("predictions").kernel)
    cam = np.maximum(np.einsum("nhwk,kn->nhw", maps, kernel[:, [0, 2, 4]]), 0.0)
    expected = keras.ops.convert_to_numpy(
        keras.ops.image.resize(cam[..., None], (32, 32), interpolation="bilinear")
    )[..., 0]
    peak = expected.max(axis=(1, 2), keepdims=True)
    assert (peak > 0).all()  # every map has heat to compare
    np.testing.assert_allclose(heat.maps, expected / peak, atol=1e-4)
    np.testing.assert_array_equal(heat.class_indices, [0, 2, 4])


def _softmax(x):
    x = np.exp(x - x.max(axis=-1, keepdims=True))
    return x / x.sum(axis=-1, keepdims=True)


@pytest.mark.jax
def test_rollout_matches_one_computed_from_the_attention_weights():
    spec = kr.ModelSpec.from_dict(
        dict(vit_layout(32, 2, 2, patch_size=1), default_size=8, min_size=8)
    )
    model = kr.build(spec, input_shape=(8, 8, 3), classes=3)
    images = np.random.default_rng(1).uniform(-1, 1, (2, 8, 8, 3)).astype("float32")
    heat = attention_rollout(model, images)
    names = ("transformer_block1", "transformer_block2")
    probe = keras.Model(
        model.input, [model.get_layer(f"{n}_norm1").output for n in names]
    )
    rollout = np.eye(65)[None]
    for name, tokens in zip(names, probe(images)):
        tokens = keras.ops.convert_to_numpy(tokens)
        layer = model.get_layer(f"{name}_attn")
        weights = [keras.ops.convert_to_numpy(w) for w in layer.weights]
        (q, qb), (k, kb) = (weights[0], weights[1]), (weights[2], weights[3])
        queries = np.einsum("ntd,dhe->nhte", tokens, q) + qb[None, :, None]
        keys = np.einsum("ntd,dhe->nhte", tokens, k) + kb[None, :, None]
        scores = _softmax(queries @ keys.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1]))
        step = scores.mean(axis=1) + np.eye(65)
        step /= step.sum(axis=-1, keepdims=True)
        rollout = step @ rollout
    expected = rollout[:, 0, 1:].reshape(2, 8, 8)
    expected /= expected.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(heat.maps, expected, atol=1e-4)
    assert heat.method == "attention_rollout"
    assert kr.explain(model, images).method == "attention_rollout"


def test_bad_arguments_are_refused_with_the_value():
    model = tiny_resnet(input_shape=(32, 32, 1), classes=4)
    images = np.zeros((2, 32, 32, 1), "float32")
    with pytest.raises(ValueError, match=r"class_index.*\[0, 4\).*7"):
        grad_cam(model, images, class_index=7)
    with pytest.raises(ValueError, match=r"\(2, 28, 28, 1\)"):
        grad_cam(model, np.zeros((2, 28, 28, 1)))
    with pytest.raises(ValueError, match="Did you mean .conv4_block1_out."):
        grad_cam(model, images, layer="conv4_block1_ou")
    with pytest.raises(ValueError, match="MultiHeadAttention"):
        attention_rollout(model, images)
    with pytest.raises(ValueError, match="do not match"):
        save_overlays(np.zeros((2, 16, 16, 1)), np.zeros((2, 8, 8)), "x.png")


def test_explain_writes_overlays_for_image_files(tmp_path, capsys):
    images, labels = _fashion_test_slice()
    canvas = _pasted(images[:4]).astype("uint8")
    paths = []
    for i, image in enumerate(canvas):
        path = tmp_path / f"item{i}.png"
        path.write_bytes(keras.ops.convert_to_numpy(_png(image)))
        paths.append(str(path))
    out = tmp_path / "overlay.png"
    code = main(
        [
            "explain",
            "ResNet20",
            *paths,
            "--weights",
            "fashion_mnist",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    rows = json.loads(capsys.readouterr().out)  # one document
    assert [row["image"] for row in rows] == paths
    assert {"class", "name", "score", "peak"} <= set(rows[0])
    import tensorflow as tf

    drawn = tf.io.decode_png(out.read_bytes()).numpy()
    assert drawn.shape[0] > 200 and drawn.shape[1] > 4 * 200  # a row of 4
    assert drawn[..., :3].std() > 20  # heat maps, not a blank figure
    assert (
        main(["explain", "ResNet20", str(tmp_path / "missing.png"), "--out", str(out)])
        == 2
    )
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "missing.png" in error


def _png(image):
    import tensorflow as tf

    return tf.io.encode_png(image).numpy()


def test_an_overlay_shows_each_image_at_the_aspect_it_had(tmp_path):
    # A 32 x 64 photo, squashed to a 32 x 32 model input, is shown twice
    # as wide as high (letterboxed), not square.
    import tensorflow as tf

    pixels = np.full((1, 32, 32, 1), 128.0)
    heat = np.linspace(0, 1, 32 * 32).reshape(1, 32, 32)
    shapes = {}
    for name, sizes in (("square", None), ("wide", [(32, 64)]), ("tall", [(90, 30)])):
        path = save_overlays(pixels, heat, str(tmp_path / f"{name}.png"), sizes=sizes)
        drawn = tf.io.decode_png(open(path, "rb").read(), channels=3).numpy()
        rows, columns = np.nonzero((drawn < 245).any(-1))  # not the white page
        shapes[name] = (columns.max() - columns.min()) / (rows.max() - rows.min())
    assert shapes["square"] == pytest.approx(1.0, rel=0.05)
    assert shapes["wide"] == pytest.approx(2.0, rel=0.05)
    assert shapes["tall"] == pytest.approx(1 / 3, rel=0.05)
