"""Bad input gets a ValueError/TypeError naming the argument, the value and
what is allowed."""

import keras
import pytest

import keras_residual as kr


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        # CIFAR nets take 16 px and more (28x28 Fashion-MNIST among them).
        ({"input_shape": (15, 64, 3)}, ValueError, r"height must be at least 16.*15"),
        (
            {"input_shape": (64, 8, 3), "include_top": False},
            ValueError,
            r"width must be at least 16",
        ),
        (
            {"input_shape": (None, None, 3)},
            ValueError,
            r"include_top=True.*known input height",
        ),
        (
            {"input_shape": (64, 64, 64, 3)},
            ValueError,
            r"\(height, width, channels\).*\(length, channels\).*4 entries",
        ),
        ({"input_shape": "224"}, TypeError, r"input_shape"),
        (
            {"include_top": False, "pooling": "avgg"},
            ValueError,
            r"`pooling`.*'avgg'.*Did you mean 'avg'",
        ),
        ({"classes": 0}, ValueError, r"`classes` must lie in \[1, inf\]; received 0"),
        ({"classes": 2.5}, TypeError, r"`classes` must be an integer; received 2.5"),
        (
            {"classifier_activation": "softmaxx"},
            ValueError,
            r"classifier_activation.*softmaxx",
        ),
        ({"include_top": "yes"}, TypeError, r"include_top"),
        ({"depths": (3, 3)}, ValueError, r"`depths` must have 3 entries"),
        ({"depths": (3, 0, 3)}, ValueError, r"depths\[1\]"),
        ({"width_multiplier": 0}, ValueError, r"width_multiplier"),
        (
            {"block": "botleneck"},
            ValueError,
            r"Unknown block.*'botleneck'.*Did you mean 'bottleneck'",
        ),
        ({"drop_path_rate": 1.0}, ValueError, r"drop_path_rate"),
        ({"depht": 3}, ValueError, r"keyword argument.*'depht'"),
    ],
)
def test_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        kr.build("ResNet20", **kwargs)


def test_unknown_model_suggests_close_names():
    with pytest.raises(ValueError, match=r"'ResNet5'.*Did you mean.*'ResNet50'"):
        kr.build("ResNet5")
    with pytest.raises(TypeError, match="registered model name"):
        kr.build(42)


def test_input_tensor_must_be_an_image_or_signal_batch_and_agree_with_input_shape():
    with pytest.raises(ValueError, match="batch of images.*1-D signals.*None, 32"):
        kr.ResNet20(input_tensor=keras.Input((32,)))
    with pytest.raises(ValueError, match="disagrees"):
        kr.ResNet20(input_tensor=keras.Input((32, 32, 3)), input_shape=(64, 64, 3))


def test_input_tensor_is_used_as_the_model_input():
    images = keras.Input((48, 48, 3), name="images")
    model = kr.ResNet20(input_tensor=images)
    assert model.inputs[0] is images
    assert model.output.shape == (None, 10)


def test_block_that_cannot_take_the_stage_shortcut_or_stride():
    spec = kr.get_spec("PlainNet20")
    bad = spec.replace(
        stages=(
            spec.stages[0].__class__(3, 16, "plain", stride=1, shortcut="projection"),
        )
        + spec.stages[1:]
    )
    with pytest.raises(ValueError, match=r"`shortcut`.*'plain' supports \('none',\)"):
        kr.build(bad)
    kr.register_block(
        "stride_one_only", lambda x, call: x, strides=(1,), overwrite=True
    )
    try:
        odd = spec.replace(stages=(kr.StageSpec(1, 16, "stride_one_only", stride=2),))
        with pytest.raises(ValueError, match=r"`stride`.*supports strides \(1,\)"):
            kr.build(odd)
    finally:
        kr.blocks.BLOCKS.unregister("stride_one_only")


def test_spec_fields_are_validated():
    with pytest.raises(ValueError, match="stride_block"):
        kr.StageSpec(2, 16, stride_block="middle")
    with pytest.raises(
        ValueError, match=r"`shortcut`.*'zero'.*Did you mean 'zero_pad'"
    ):
        kr.StageSpec(2, 16, shortcut="zero")
    with pytest.raises(ValueError, match="at least one stage"):
        kr.ModelSpec(stem=kr.StemSpec(), stages=())
    with pytest.raises(ValueError, match=r"Unknown model spec field"):
        kr.ModelSpec.from_dict({"stem": {}, "stages": [], "colour": "red"})
    with pytest.raises(TypeError, match="JSON-serialisable"):
        kr.StageSpec(2, 16, args={"f": object()})
    with pytest.raises(ValueError, match="bn_epsilon"):
        kr.get_spec("ResNet20").replace(bn_epsilon=0.0)
    text = kr.get_spec("ResNet20").to_json()  # a hand-edited file's slips:
    with pytest.raises(ValueError, match=r"not a JSON spec.*duplicate key 'stem'"):
        kr.ModelSpec.from_json(text[:-1] + ', "stem": {}}')
    with pytest.raises(ValueError, match=r"`text` is not a JSON spec"):
        kr.ModelSpec.from_json(text[:-1])


def test_unknown_stem_kind_is_explained():
    spec = kr.get_spec("ResNet20").replace(stem=kr.StemSpec("cifr", 16))
    with pytest.raises(ValueError, match=r"stem.*'cifr'.*Did you mean 'cifar'"):
        kr.build(spec)


def test_channels_first_is_refused_clearly():
    keras.config.set_image_data_format("channels_first")
    try:
        with pytest.raises(ValueError, match="channels-last"):
            kr.ResNet20()
    finally:
        keras.config.set_image_data_format("channels_last")


def test_first_line_of_an_error_without_a_message_is_empty():
    from keras_residual.utils.validation import first_line

    # Wrapping an error of no message once raised IndexError instead.
    assert first_line(KeyError()) == "" and first_line(OSError()) == ""
    assert first_line(ValueError("one\ntwo"), limit=2) == "on"
