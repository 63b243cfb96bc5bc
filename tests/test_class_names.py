"""Class names travel with a model: from the data (or `train(class_names=)`)
or the registered weights into the model's config, its `.keras` file, its
exports and `predict`."""

import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

import keras_residual as kr
from tests.conftest import run_cli_here
from tests.conftest import small_digits
from tests.conftest import tiny_resnet

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def test_registered_weights_name_their_classes_and_a_new_head_does_not():
    assert kr.ResNet20(weights="digits").class_names == [str(i) for i in range(10)]
    assert kr.ResNet20(weights="digits", classes=5).class_names is None
    assert kr.ResNet20(input_shape=(32, 32, 1), classes=3).class_names is None


def test_class_names_are_checked_and_kept_by_keras_files(tmp_path):
    with pytest.raises(ValueError, match=r"has 2 names but `classes` is 3"):
        kr.ResNet20(input_shape=(32, 32, 1), classes=3, class_names=["a", "b"])
    with pytest.raises(TypeError, match="sequence of str"):
        kr.ResNet20(input_shape=(32, 32, 1), classes=3, class_names="abc")
    model = tiny_resnet(
        input_shape=(32, 32, 1), classes=3, class_names=("cat", "dog", "owl")
    )
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.class_names == ["cat", "dog", "owl"]


@pytest.mark.slow  # a run, its exports and two predictions
def test_train_records_names_in_the_model_its_exports_and_predict(tmp_path):
    data = small_digits(train=64, test=32)
    result = kr.train(
        "ResNet20",
        data,
        str(tmp_path / "run"),
        epochs=1,
        class_names=NAMES,
        model_overrides={"depths": (1, 1, 1)},
        verbose=0,
    )
    assert result.model.class_names == NAMES
    card = json.load(open(tmp_path / "run" / "saved_model" / "model_card.json"))
    assert card["class_names"] == NAMES
    image = tmp_path / "seven.png"
    Image.fromarray(data["test"][0][0, ..., 0].astype("uint8")).save(image)
    for model in ("model.keras", "saved_model"):
        done = run_cli_here("predict", tmp_path / "run" / model, image, "--json")
        assert done.returncode == 0, done.stderr[-2000:]
        top = json.loads(done.stdout)[0]["top_k"][0]
        assert top["name"] == NAMES[top["class"]], model
    # A wrong number of names is refused before training.
    with pytest.raises(ValueError, match="class_names"):
        kr.train(
            "ResNet20",
            data,
            str(tmp_path / "bad"),
            epochs=1,
            class_names=NAMES[:3],
            verbose=0,
        )
    assert not os.path.exists(tmp_path / "bad" / "model.keras")
    assert np.isfinite(result.metrics["test_accuracy"])
