"""Model sizes past the limits and unclear arguments: refused by name before
anything is allocated. Each test reproduces an attack or a finding that
worked before its fix (the hardening rounds of issues #15 and #40)."""

import json
import time

import keras
import pytest

import keras_residual as kr
from tests.conftest import TINY
from tests.conftest import run_python
from tests.conftest import tiny_resnet
from tests.safety_helpers import GIANT_CLASSIFIER
from tests.safety_helpers import _charged_weights
from tests.safety_helpers import deadline


def test_unknown_activation_names_the_argument_and_close_matches():
    with pytest.raises(ValueError, match=r"`activation`.*'relux'.*Did you mean 'relu'"):
        kr.build("ResNet20", activation="relux")


def test_absurd_depths_and_widths_are_bounded_but_the_bound_can_be_raised():
    from keras_residual.core import spec

    with pytest.raises(ValueError, match=r"`depth` 1000000 is over the limit"):
        kr.build("ResNet20", depths=(10**6, 1, 1))
    with pytest.raises(ValueError, match=r"`filters` 1000000 is over the limit"):
        kr.build("ResNet20", widths=(10**6, 16, 16))
    original = dict(spec.LIMITS)
    try:
        spec.LIMITS["depth"] = 2000
        stage = kr.StageSpec(1500, 16, "basic")  # allowed once raised
        assert stage.depth == 1500
    finally:
        spec.LIMITS.update(original)


def test_a_keras_file_declaring_a_huge_spec_is_refused_before_building(tmp_path):
    """3 stages x 1000 blocks x 8192 filters (each within the per-stage
    limits) once built for 74 s and then ran out of memory."""
    import zipfile

    path = tmp_path / "huge.keras"
    kr.build("ResNet20", input_shape=(32, 32, 1), classes=3, **TINY).save(path)
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    for stage in config["config"]["spec"]["stages"]:
        stage.update(depth=1000, filters=8192)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    started = time.monotonic()
    with pytest.raises(Exception, match=r"about 6e\+11 weights, over the limit"):
        keras.saving.load_model(path, safe_mode=True)
    assert time.monotonic() - started < 30


def test_classes_and_input_sizes_past_the_limits_are_refused_by_name():
    with pytest.raises(ValueError, match=r"`classes` is 20000000, over the limit"):
        tiny_resnet(input_shape=(32, 32, 1), classes=20_000_000)
    with pytest.raises(ValueError, match=r"input_shape.*over the limit"):
        tiny_resnet(input_shape=(20000, 20000, 1), classes=3)
    # Legitimate sizes still build: 1-D audio, a large photo-sized input.
    kr.ResNet18(input_shape=(160_000, 1), classes=35)
    tiny_resnet(input_shape=(4096, 4096, 3), classes=3)


def test_a_keras_file_declaring_a_giant_classifier_is_refused(tmp_path):
    import zipfile

    path = str(tmp_path / "model.keras")
    tiny_resnet(input_shape=(32, 32, 1), classes=3).save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = members["config.json"].decode()
    assert '"classes": 3' in config
    members["config.json"] = config.replace(
        '"classes": 3', '"classes": 20000000'
    ).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    import keras

    with deadline(60), pytest.raises(Exception, match="over the limit"):
        keras.saving.load_model(path, safe_mode=True)


@pytest.mark.parametrize(
    "build",
    [
        lambda: kr.ResNet50(weights=None, input_shape=(64, 64, 3), classes=7),
        lambda: kr.DenseNet121(weights=None, input_shape=(64, 64, 3), classes=7),
        lambda: kr.SEResNet50(input_shape=(64, 64, 3), classes=7, attention="eca"),
        lambda: kr.ResNeXt50_32x4d(input_shape=(64, 64, 3), classes=7),
        lambda: kr.ViTTiny16(input_shape=(32, 32, 3), classes=7),
        lambda: kr.HighwayNet20(input_shape=(32, 32, 1), classes=7),
        lambda: kr.ResNet18(input_shape=(4000, 1), classes=7),
    ],
    ids=["resnet50", "densenet121", "eca", "resnext", "vit", "highway", "1d"],
)
def test_the_weight_limit_counts_every_kernel_of_every_family(build, monkeypatch):
    from keras_residual.core.limits import LIMITS

    kernels = _charged_weights(build())
    monkeypatch.setitem(LIMITS, "weights", kernels)
    build()  # exactly at the limit: builds
    monkeypatch.setitem(LIMITS, "weights", kernels - 1)
    with pytest.raises(ValueError, match=r"over the limit of .*LIMITS\['weights'\]"):
        build()


@pytest.mark.xdist_group("subprocess")
def test_a_classifier_of_gigabytes_is_refused_before_it_is_allocated():
    # 2048 features x 600,000 classes: within the class limit, but one
    # 4.6 GiB kernel (1.2e9 weights) past the model's weight limit.
    child = run_python(GIANT_CLASSIFIER, timeout=120)
    lines = child.stdout.strip().splitlines()
    assert lines[-2].startswith("refused Layer 'predictions'"), child.stdout[-2000:]
    assert "(2048, 600000) kernel" in lines[-2]
    assert int(lines[-1].split()[1]) < 2048, lines[-1]  # MiB: never allocated
