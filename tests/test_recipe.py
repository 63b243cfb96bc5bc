"""Recipe presets, schedules, weight decay, loss/head consistency, and the
precision and XLA choices."""

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.training.losses import ClassificationCrossentropy
from keras_residual.training.optimizers import no_decay_variables
from keras_residual.training.precision import Hardware
from keras_residual.training.precision import auto_precision
from keras_residual.training.precision import read_cpu_flags
from keras_residual.training.precision import resolve_jit_compile
from tests.conftest import tiny_resnet


def _lr(schedule, step):
    return float(schedule(step)) if callable(schedule) else float(schedule)


def test_he2015_preset_is_the_papers_recipe():
    """He et al. 2015: SGD, lr 0.1, momentum 0.9, wd 1e-4, batch 128, lr/10
    at 32k and 48k of 64k iterations."""
    recipe = kr.get_recipe("he2015")
    assert (
        recipe.optimizer,
        recipe.learning_rate,
        recipe.momentum,
        recipe.weight_decay,
        recipe.batch_size,
    ) == ("sgd", 0.1, 0.9, 1e-4, 128)
    steps_per_epoch, epochs = 400, 160  # 64k iterations
    schedule = recipe.learning_rate_schedule(steps_per_epoch, epochs)
    assert _lr(schedule, 0) == pytest.approx(0.1)
    assert _lr(schedule, 31_999) == pytest.approx(0.1)
    assert _lr(schedule, 32_001) == pytest.approx(0.01)
    assert _lr(schedule, 48_001) == pytest.approx(0.001)


def test_a_run_without_a_recipe_takes_finetune_speech_or_fast():
    """Weights: `finetune`; else audio data: `speech` (AdamW 3e-3, wd 0.05,
    40 epochs, `fast`'s schedule and smoothing); else `fast`."""
    from keras_residual.training.recipe_presets import default_recipe

    assert default_recipe("digits", audio=True) == "finetune"
    assert default_recipe(None, audio=True) == "speech"
    assert default_recipe(None) == "fast"
    speech, fast = kr.get_recipe("speech"), kr.get_recipe("fast")
    assert (speech.optimizer, speech.learning_rate, speech.weight_decay) == (
        "adamw",
        3e-3,
        0.05,
    )
    assert speech.epochs == 40
    assert (
        speech.replace(
            name="fast",
            optimizer="sgd",
            learning_rate=0.1,
            weight_decay=5e-4,
            epochs=20,
            description=fast.description,
        )
        == fast
    )


def test_step_schedule_warm_up_is_he_et_al_constant_tenth():
    """He et al. 2015 warm ResNet-110 up at 0.01, then return to 0.1."""
    recipe = kr.get_recipe("he2015", warmup_epochs=1)
    schedule = recipe.learning_rate_schedule(400, 160)
    assert _lr(schedule, 0) == pytest.approx(0.01)
    assert _lr(schedule, 399) == pytest.approx(0.01)
    assert _lr(schedule, 401) == pytest.approx(0.1)
    assert _lr(schedule, 32_001) == pytest.approx(0.01)


def test_cosine_schedule_warms_up_linearly_then_decays_to_zero():
    recipe = kr.Recipe(learning_rate=0.2, batch_size=128, warmup_epochs=2)
    schedule = recipe.learning_rate_schedule(100, epochs=12, batch_size=256)
    peak = 0.4  # linear scaling to batch 256
    assert _lr(schedule, 0) == pytest.approx(0.0)
    assert _lr(schedule, 100) == pytest.approx(peak / 2)
    assert _lr(schedule, 200) == pytest.approx(peak)
    assert _lr(schedule, 700) == pytest.approx(peak / 2, rel=1e-3)
    assert _lr(schedule, 1200) == pytest.approx(0.0, abs=1e-6)


def test_weight_decay_skips_batchnorm_parameters_and_biases():
    model = tiny_resnet(input_shape=(32, 32, 3))
    recipe = kr.Recipe(
        learning_rate=0.5,
        weight_decay=0.1,
        momentum=0.0,
        schedule="constant",
        batch_size=1,
    )
    optimizer = recipe.build_optimizer(model, steps_per_epoch=1, batch_size=1)
    before = [np.array(v) for v in model.trainable_variables]
    zeros = [keras.ops.zeros(v.shape) for v in model.trainable_variables]
    optimizer.apply_gradients(zip(zeros, model.trainable_variables))
    skipped = {id(v) for v in no_decay_variables(model)}
    assert {v.name for v in no_decay_variables(model)} >= {"gamma", "beta", "bias"}
    for old, variable in zip(before, model.trainable_variables):
        if id(variable) in skipped:
            np.testing.assert_array_equal(np.array(variable), old)
        else:  # decoupled decay: w <- w - lr * wd * w
            np.testing.assert_allclose(
                np.array(variable), old * (1 - 0.05), rtol=1e-5, atol=1e-7
            )


def test_loss_matches_the_head_and_takes_sparse_labels_with_smoothing():
    recipe = kr.get_recipe("fast")
    probabilities = tiny_resnet(input_shape=(32, 32, 3))
    logits = tiny_resnet(input_shape=(32, 32, 3), classifier_activation=None)
    assert not recipe.compile_kwargs(probabilities, 10)["loss"].from_logits
    assert recipe.compile_kwargs(logits, 10)["loss"].from_logits

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(6, 5)).astype("float32")
    labels = np.array([0, 4, 2, 2, 1, 3])
    ours = ClassificationCrossentropy(from_logits=True, label_smoothing=0.1)
    reference = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=0.1
    )
    one_hot = np.eye(5, dtype="float32")[labels]
    expected = float(reference(one_hot, scores))
    assert float(ours(labels, scores)) == pytest.approx(expected, rel=1e-5)
    assert float(ours(labels[:, None], scores)) == pytest.approx(expected, rel=1e-5)
    assert float(ours(one_hot, scores)) == pytest.approx(expected, rel=1e-5)
    restored = ClassificationCrossentropy.from_config(ours.get_config())
    assert restored.label_smoothing == 0.1 and restored.from_logits


def test_compile_kwargs_fit_a_model_and_mixed_float16_gets_loss_scaling():
    keras.config.set_dtype_policy("mixed_float16")
    model = tiny_resnet(input_shape=(32, 32, 3))
    kwargs = kr.get_recipe("fast").compile_kwargs(model, steps_per_epoch=4)
    assert isinstance(kwargs["optimizer"], keras.optimizers.LossScaleOptimizer)
    keras.config.set_dtype_policy("float32")
    model = tiny_resnet(input_shape=(32, 32, 3))
    recipe = kr.get_recipe("he2015", epochs=1)
    model.compile(**recipe.compile_kwargs(model, steps_per_epoch=2))
    x = np.random.default_rng(0).normal(size=(16, 32, 32, 3)).astype("float32")
    y = np.arange(16) % 10
    history = model.fit(x, y, batch_size=8, verbose=0, **recipe.fit_kwargs())
    assert set(history.history) == {"loss", "accuracy"}
    assert np.isfinite(history.history["loss"][0])


def test_recipe_bad_input_names_the_field_and_suggests():
    with pytest.raises(ValueError, match=r"'fats'.*'fast'"):
        kr.get_recipe("fats")
    with pytest.raises(ValueError, match=r"'learnin_rate'.*'learning_rate'"):
        kr.get_recipe("fast", learnin_rate=0.1)
    with pytest.raises(ValueError, match=r"`optimizer`.*'adam'.*'adamw'"):
        kr.Recipe(optimizer="adam")
    with pytest.raises(ValueError, match=r"`milestones`"):
        kr.Recipe(milestones=(0.75, 0.5))
    with pytest.raises(ValueError, match=r"`label_smoothing`"):
        kr.Recipe(label_smoothing=1.0)


@pytest.mark.parametrize(
    "hardware, expected",
    [
        (Hardware("gpu", (8, 0)), "mixed_bfloat16"),
        (Hardware("gpu", (9, 0)), "mixed_bfloat16"),
        (Hardware("gpu", (7, 5)), "mixed_float16"),
        (Hardware("gpu", (7, 0)), "mixed_float16"),
        (Hardware("gpu", (6, 1)), "float32"),
        (Hardware("tpu"), "mixed_bfloat16"),
    ],
)
def test_auto_precision_follows_the_accelerator(hardware, expected):
    assert auto_precision(hardware) == expected
    assert kr.resolve_precision("auto", hardware) == expected
    assert kr.resolve_precision("float32", hardware) == "float32"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n")
    assert read_cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "avx512_bf16"}
    assert read_cpu_flags(str(tmp_path / "missing")) == frozenset()
    with pytest.raises(ValueError, match=r"`precision`.*'mixed_bfloat16'"):
        kr.resolve_precision("mixed_bfloat")


def test_jit_compile_auto_is_off_for_tensorflow_on_cpu_only():
    if keras.backend.backend() == "tensorflow":
        assert resolve_jit_compile("auto", Hardware("cpu")) is False
        assert resolve_jit_compile("auto", Hardware("gpu", (8, 0))) is True
    assert resolve_jit_compile(True) is True
    with pytest.raises(ValueError, match=r"`jit_compile`.*'yes'"):
        resolve_jit_compile("yes")


def test_modern_recipe_with_mixup_trains_on_one_hot_pipelines():
    recipe = kr.get_recipe("modern", mixup_alpha=0.2, cutmix_alpha=1.0)
    assert recipe.label_mode == "categorical"
    data = kr.load_data("digits", batch_size=32, **recipe.data_kwargs())
    model = tiny_resnet(input_shape=data.image_shape, classes=data.classes)
    model.compile(**recipe.compile_kwargs(model, data.steps_per_epoch))
    history = model.fit(
        data.train.take(3), validation_data=data.validation.take(2), epochs=1, verbose=0
    )
    assert 0.0 <= history.history["val_accuracy"][0] <= 1.0
    assert np.isfinite(history.history["loss"][0])


def test_the_plan_line_gives_the_rates_a_fine_tune_will_use():
    from keras_residual.training.phase_plan import describe_plan

    recipe = kr.get_recipe("finetune").replace(backbone_lr_ratio=0.5)
    # 0.04 at batch 64, scaled to batch 32; the warm-up is the longer of
    # one epoch (2 steps) and 10 steps capped at a third of 24 (8).
    line = describe_plan(recipe, 12, 2, 32, backbone=True)
    assert "recipe 'finetune' (sgd, cosine), 12 epochs of 2 steps at batch 32" in line
    assert "(24 steps, 8 of warm-up)" in line
    assert "peak rate 0.02 for the head, 0.01 for the backbone (0.5x)" in line
    assert line.endswith("gradient norm clipped at 1.")
    scratch = describe_plan(kr.get_recipe("fast"), 30, 10, 256, backbone=False)
    assert "for the backbone" not in scratch and "for the head" not in scratch


@pytest.mark.slow  # two short runs and an export
def test_the_speedrun_recipe_trains_resumes_and_exports(tmp_path):
    from tests.conftest import TINY
    from tests.conftest import small_digits

    out = str(tmp_path / "run")
    common = dict(
        recipe="speedrun",
        epochs=2,
        batch_size=32,
        precision="float32",
        verbose=0,
        model_overrides=TINY,
    )
    first = kr.train("ResNet20", small_digits(), out, **common)
    assert first.metrics["recipe"] == "speedrun"
    assert [row["epoch"] for row in first.history] == [1, 2]
    again = kr.train("ResNet20", small_digits(), out, resume=True, **common)
    assert again.metrics["resumed_from_epoch"] == 2
    for resumed, trained in zip(again.model.get_weights(), first.model.get_weights()):
        np.testing.assert_array_equal(resumed, trained)
    reloaded = keras.saving.load_model(f"{out}/model.keras", safe_mode=True)
    images = small_digits()["test"][0][:4].astype("float32") / 255.0
    np.testing.assert_allclose(
        reloaded.predict(images, verbose=0),
        first.model.predict(images, verbose=0),
        atol=1e-5,
    )
