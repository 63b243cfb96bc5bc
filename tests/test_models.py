"""The zoo's test matrix: parametrised over `list_models()`, so every
registered model (including later families) is covered without edits."""

import dataclasses
import gc
import json
import re

import keras
import numpy as np
import pytest

import keras_residual as kr
from keras_residual.core import plan_blocks
from keras_residual.models.overrides import apply_overrides
from tests.conftest import random_images

pytestmark = pytest.mark.jax  # also run on the JAX backend

MODELS = list(kr.list_models())
SMALL = 32  # the smallest accepted input; keeps the ImageNet models cheap


def _snake(name):
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z0-9])", r"\1_\2", name).lower()


def build_small(name, **kwargs):
    kwargs.setdefault("input_shape", (SMALL, SMALL, 3))
    return kr.build(name, **kwargs)


DEEP_BLOCKS = 20
WIDE_FILTERS = 768  # ViT-B's width: 86M parameters, as slow as a deep model
# Models whose stem, blocks, shortcuts and block arguments are a smaller
# model's, with other depths, widths or heads: on JAX they would run the
# same code again (`test_jax_twins_repeat_their_siblings_code` checks it).
JAX_TWINS = {"ResNet34": "ResNet18", "ResNet32": "ResNet20", "ViTSmall16": "ViTTiny16"}


def _marks(name):
    """Each model's tests stay on one xdist worker; models with more than
    DEEP_BLOCKS blocks or a stage of WIDE_FILTERS, and JAX_TWINS, are also
    marked `deep` (CI's JAX run skips them: see README, Backends)."""
    marks = [pytest.mark.xdist_group(name)]
    spec = kr.get_spec(name)
    deep = sum(spec.depths) > DEEP_BLOCKS or max(spec.widths) >= WIDE_FILTERS
    if deep or name in JAX_TWINS:
        marks.append(pytest.mark.deep)
    return marks


def _code_path(spec):
    """What decides which code a spec runs: its stem and, per stage, the
    block, shortcut and block arguments other than the head count."""
    stages = [
        (s.block, s.shortcut, s.stride_block, sorted(set(s.args) - {"heads"}))
        for s in spec.stages
    ]
    return spec.stem.kind, spec.stem.args, stages, spec.head


def test_jax_twins_repeat_their_siblings_code():
    for twin, sibling in JAX_TWINS.items():
        assert _code_path(kr.get_spec(twin)) == _code_path(kr.get_spec(sibling))
        assert kr.get_spec(twin) != kr.get_spec(sibling)


@pytest.fixture(
    scope="module",
    params=[pytest.param(n, marks=_marks(n)) for n in MODELS],
    ids=MODELS,
)
def case(request):
    """`(name, model)`, built once per model for all the tests below; pytest
    groups the tests by model, and `-n` keeps each group on one worker.
    The model and Keras' global state are released afterwards, so a worker's
    memory does not grow with the zoo (JAX keeps compiled functions alive)."""
    keras.backend.clear_session()
    yield request.param, build_small(request.param)
    keras.backend.clear_session()
    gc.collect()


def test_builds_with_output_shape_and_finite_forward(case):
    name, model = case
    entry_classes = kr.models.zoo.get_model_entry(name).classes
    x = random_images(2, SMALL)
    y = keras.ops.convert_to_numpy(model(x, training=False))
    assert y.shape == (2, entry_classes)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-4)


def _capped_depths(depths):
    """At most 2 blocks per stage: what the training-step test builds (see
    its docstring)."""
    return tuple(min(d, 2) for d in depths)


def _stepped_specs(names):
    """`{name: spec with capped depths}`."""
    specs = {name: kr.get_spec(name) for name in names}
    return {
        name: apply_overrides(spec, depths=_capped_depths(spec.depths))
        for name, spec in specs.items()
    }


def _first_of_each(names, key):
    """The names whose `key(name)` no earlier name has, in order."""
    kept = {}
    for name in names:
        value = key(name)
        if value not in kept.values():
            kept[name] = value
    return list(kept)


STEPPED_SPECS = _stepped_specs(MODELS)
# The models whose capped spec no earlier model has: ResNet101's and
# ResNet152's are ResNet50's, ResNet32's to ResNet110's ResNet20's, so a
# step on them would repeat the same network.
STEPPED = _first_of_each(MODELS, STEPPED_SPECS.get)


def test_deeper_twins_step_the_network_of_a_stepped_model():
    assert {"ResNet20", "ResNet50", "DenseNet121"} <= set(STEPPED)
    assert {"ResNet101", "ResNet152", "ResNet110"}.isdisjoint(STEPPED)
    stepped = [STEPPED_SPECS[name] for name in STEPPED]
    for name in MODELS:
        assert STEPPED_SPECS[name] in stepped, name


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=_marks(n)) for n in STEPPED], ids=STEPPED
)
def test_one_training_step_lowers_loss(name):
    """One SGD step on a 4-image batch lowers the (training-mode) loss.

    Set-up, so that the test checks gradients rather than luck:
    - the input is large enough that the last stage sees at least 2x2
      (BN over 4 scalars at 1x1 is chaotic: a 1e-6 weight change moved
      ResNet101's loss by 0.45);
    - `zero_init_residual=True` (Goyal et al. 2017) starts residual blocks
      as identities;
    - every model keeps its stem, blocks, transitions and head but at most
      2 blocks per stage: gradients are per block, so the repeats add time
      (ResNet152 cost 27 s here, ResNet50 11 s on JAX), not coverage. Its
      full depth is built and run by the other tests, and a model
      whose capped network an earlier model has (`STEPPED`) is not stepped
      again;
    - a backtracking line search: the step is retried from the same weights
      with lr 1e-2, 1e-3, 1e-4. A correct gradient is a descent direction,
      so some small step must lower the loss; a wrong one fails.
    """
    spec = kr.get_spec(name)
    size = max(SMALL, 2 * plan_blocks(spec)[-1].reduction)
    overrides = {"depths": _capped_depths(spec.depths)} if max(spec.depths) > 2 else {}
    keras.utils.set_random_seed(0)
    model = build_small(
        name,
        classes=5,
        zero_init_residual=True,
        input_shape=(size, size, 3),
        **overrides,
    )
    x = random_images(4, size, seed=1)
    y = np.array([0, 1, 2, 3])
    model.compile(
        optimizer=keras.optimizers.SGD(), loss="sparse_categorical_crossentropy"
    )

    def step(learning_rate):
        """One step at `learning_rate`; returns the training-mode loss the
        step computed before it moved the weights. At rate 0 nothing moves,
        so the compiled step also measures the loss (an eager forward pass
        first compiled every op on its own: 9-11 s per model on JAX)."""
        model.optimizer.learning_rate.assign(learning_rate)
        return float(model.train_on_batch(x, y))

    start = model.get_weights()
    before = step(0.0)
    after = {}
    for learning_rate in (1e-2, 1e-3, 1e-4):
        model.set_weights(start)
        assert step(learning_rate) == before  # the step starts where `before` did
        after[learning_rate] = step(0.0)
        if after[learning_rate] < before:
            break
    assert min(after.values()) < before, (before, after)


def test_spec_and_config_round_trip(case):
    """The spec and the model's config survive JSON; the model rebuilt from
    that config is the reload test's (`load_model` calls `from_config`)."""
    name, model = case
    spec = kr.get_spec(name)
    assert kr.ModelSpec.from_json(spec.to_json()) == spec
    config = json.loads(json.dumps(model.get_config()))
    assert kr.ModelSpec.from_dict(config["spec"]) == spec


# Block arguments that only scale layers (how many groups, heads or
# channels per group), as stage widths do.
SCALE_ARGS = ("base_width", "cardinality", "heads")


def _layer_plan(spec):
    """The spec (as JSON) with at most 2 blocks a stage, widths set to 1
    and SCALE_ARGS left out: models of one layer plan build layers of the
    same types with the same config keys, only more of them or wider."""
    stages = tuple(
        dataclasses.replace(
            stage,
            depth=depth,
            filters=1,
            args={k: v for k, v in stage.args.items() if k not in SCALE_ARGS},
        )
        for stage, depth in zip(spec.stages, _capped_depths(spec.depths))
    )
    stem = dataclasses.replace(spec.stem, filters=1)
    return spec.replace(stem=stem, stages=stages).to_json()


RELOADED = _first_of_each(MODELS, lambda name: _layer_plan(kr.get_spec(name)))


def test_reloaded_models_cover_every_layer_plan_once():
    assert {"ResNet50", "DenseNet40", "DenseNetBC100", "ViTTiny16"} <= set(RELOADED)
    assert {"ResNet152", "DenseNetBC250", "ViTBase16"}.isdisjoint(RELOADED)
    plans = [_layer_plan(kr.get_spec(name)) for name in RELOADED]
    assert len(set(plans)) == len(plans)
    assert {_layer_plan(kr.get_spec(name)) for name in MODELS} == set(plans)


@pytest.mark.parametrize(
    "case",
    [pytest.param(n, marks=_marks(n)) for n in RELOADED],
    ids=RELOADED,
    indirect=True,
)
def test_keras_file_reloads_in_safe_mode_with_equal_outputs(case, tmp_path):
    """Reloading rebuilds the model from its JSON config: the same layers,
    parameters and outputs. A model whose layer plan (`_layer_plan`) an
    earlier model has, deeper or wider (ResNet152 is ResNet50's,
    DenseNet-BC-250 DenseNet-BC-100's), reloads through the same layer
    configs, so one model of each plan is saved and reloaded; every model's
    spec and config round-trip above."""
    name, model = case
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(reloaded, kr.ResidualModel)
    assert [layer.name for layer in reloaded.layers] == [
        layer.name for layer in model.layers
    ]
    assert reloaded.count_params() == model.count_params()
    x = random_images(2, SMALL, seed=2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(x)),
        keras.ops.convert_to_numpy(model(x)),
        atol=1e-5,
    )


def test_no_auto_generated_layer_names(case):
    _, model = case
    for layer in model.layers:
        auto = _snake(type(layer).__name__)
        assert not re.fullmatch(rf"{auto}(_\d+)?", layer.name), layer.name


def test_every_layer_is_prefixed_by_its_block_or_a_known_part(case):
    _, model = case
    allowed = re.compile(
        r"images|conv1_.*|pool\d+(_.*)?|(conv\d+|transformer)_block\d+_.*"
        r"|(post_)?(bn|relu)|avg_pool|max_pool|predictions"
        r"|patch_embed(_.*)?|cls_token|norm|token_pool"
    )
    for layer in model.layers:
        assert allowed.fullmatch(layer.name), layer.name


def test_list_models_describes_every_model_in_one_line():
    models = kr.list_models()
    from keras_residual.models.zoo import MODELS as registry

    assert list(models) == [name for name, _ in registry.items()]
    assert {"ResNet20", "ResNet50", "DenseNet121", "HighwayNet20"} <= set(models)
    for name, description in models.items():
        assert description and "\n" not in description, name
