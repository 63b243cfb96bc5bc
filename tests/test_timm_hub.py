"""Registered timm weights through huggingface_hub against a local Hub on
127.0.0.1 (HF_ENDPOINT): download, cache, reuse, and a corrupt file
refused and not cached. The client runs in a real child process, since
huggingface_hub reads HF_ENDPOINT when it is imported."""

import hashlib
import json
import os

import pytest

from tests.conftest import run_python
from tests.local_hub import hub_env
from tests.local_hub import start_hub
from tests.local_hub import stop_hub

pytest.importorskip("huggingface_hub")

FIXTURE = os.path.join(
    os.path.dirname(__file__), "data", "timm", "resnet_basic.safetensors"
)
CLIENT = """
import json, os, sys, warnings
import numpy as np
import keras_residual as kr
from keras_residual.weights.converters import read_checkpoint

fixture, repo, builds = sys.argv[1], sys.argv[2], int(sys.argv[3])
spec = read_checkpoint(fixture).architecture.spec
kr.register_model("TinyHubResNet", spec, description="test", classes=10)
kr.register_weights(
    "TinyHubResNet", "tiny.hub_in1k", top={"hub_repo": repo},
    classes=10, preprocessing="torch",
)
logits = np.load(os.path.join(os.path.dirname(fixture), "logits.npz"))
for _ in range(builds):  # each build resolves the weights again
    try:
        model = kr.build(
            "TinyHubResNet", weights="tiny.hub_in1k", input_shape=(64, 64, 3),
            classifier_activation=None,
        )
    except (ValueError, OSError) as error:
        print(json.dumps({"error": type(error).__name__, "message": str(error)}))
        sys.exit(0)
    out = model.predict(logits["input_64"], verbose=0)
    print(json.dumps({
        "max_diff": float(np.abs(out - logits["resnet_basic_64"]).max()),
        "preprocessing": model.preprocessing.to_json(),
    }))
"""


@pytest.fixture
def hub():
    server = start_hub()
    yield server
    stop_hub(server)


def fetch(hub, repo, hf_home, builds=1):
    """Runs the client in a child process against the local Hub: `builds`
    builds of the model; the last one's result (all of them when more)."""
    env = hub_env(hub, hf_home, KERAS_HOME=str(hf_home / "keras"))
    result = run_python(CLIENT, FIXTURE, repo, str(builds), env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()[-builds:]]
    return lines if builds > 1 else lines[0]


def cached_files(hf_home):
    return [
        os.path.join(folder, name)
        for folder, _, names in os.walk(hf_home / "hub")
        for name in names
        if not name.endswith(".lock")
    ]


@pytest.mark.slow  # a real process
def test_hub_weights_download_match_timm_and_are_reused_from_the_cache(hub, tmp_path):
    data = open(FIXTURE, "rb").read()
    path = "/timm/tiny.hub_in1k/resolve/main/model.safetensors"
    hub.files[path] = (data, hashlib.sha256(data).hexdigest())
    # Two builds in one process (nothing here memoises a download): one GET.
    first, second = fetch(hub, "timm/tiny.hub_in1k", tmp_path, builds=2)
    assert first["max_diff"] < 1e-4 and second["max_diff"] < 1e-4
    assert first["preprocessing"] == "torch"
    assert hub.gets == [path]  # the second from huggingface_hub's cache


@pytest.mark.slow  # a real process
def test_corrupt_hub_file_is_refused_and_not_cached(hub, tmp_path):
    data = open(FIXTURE, "rb").read()
    corrupt = bytearray(data)
    corrupt[-100] ^= 0xFF  # a flipped byte inside a tensor: still parses
    path = "/timm/tiny.hub_in1k/resolve/main/model.safetensors"
    hub.files[path] = (bytes(corrupt), hashlib.sha256(data).hexdigest())
    refused = fetch(hub, "timm/tiny.hub_in1k", tmp_path)
    assert refused["error"] == "ValueError"
    assert "does not match its sha256" in refused["message"]
    assert [f for f in cached_files(tmp_path) if "blobs" in f] == []
    assert not any(f.endswith("model.safetensors") for f in cached_files(tmp_path))
    hub.files[path] = (data, hashlib.sha256(data).hexdigest())
    repaired = fetch(hub, "timm/tiny.hub_in1k", tmp_path)
    assert repaired["max_diff"] < 1e-4
    assert hub.gets == [path, path]


@pytest.mark.slow  # a real process
def test_missing_hub_file_is_a_clear_os_error(hub, tmp_path):
    missing = fetch(hub, "timm/not-there", tmp_path)
    assert missing["error"] == "OSError"
    assert hub.endpoint in missing["message"]
    assert "pass its path as `weights`" in missing["message"]


CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
BY_ID = (
    f"CLIP_MEAN, CLIP_STD = {CLIP_MEAN}, {CLIP_STD}"
    + """
import json, os, sys
import numpy as np
import keras_residual as kr
from keras_residual.weights.converters import read_checkpoint
from keras_residual.hub.ids import register_hub_architecture

fixture = sys.argv[1]
spec = read_checkpoint(fixture).architecture.spec
kr.register_model("TinyHubResNet", spec, description="test", classes=10)
register_hub_architecture("tiny_resnet", "TinyHubResNet")
logits = np.load(os.path.join(os.path.dirname(fixture), "logits.npz"))
model = kr.create_model(
    "hf-hub:me/tiny", pretrained=True, classifier_activation=None
)
out = model.predict(logits["input_64"], verbose=0)
other = kr.build("TinyHubResNet", weights="hf://me/tiny", classes=3)
pinned = kr.create_model("hf-hub:me/tiny@v1", pretrained=True)
result = {
    "max_diff": float(np.abs(out - logits["resnet_basic_64"]).max()),
    "preprocessing": model.preprocessing.to_json(),
    "class_names": model.class_names,
    "input_shape": list(model.input_shape),
    "other_classes": other.classes,
    "pinned_names": pinned.class_names,
}
# A checkpoint normalised unlike ImageNet (CLIP's mean and std) that crops
# 87.5%: raw uint8 pixels must give the logits of the pixels normalised by
# hand, through the model's config, a .keras file and a SavedModel.
clip = kr.create_model("hf-hub:me/clip", pretrained=True, classifier_activation=None)
pixels = np.random.default_rng(1).integers(0, 256, (2, 73, 73, 3), dtype=np.uint8)
mean, std = np.array(CLIP_MEAN), np.array(CLIP_STD)
by_hand = ((pixels[:, 4:68, 4:68] / 255.0 - mean) / std).astype("float32")
expected = clip.predict(by_hand, verbose=0)
probabilities = np.exp(expected) / np.exp(expected).sum(-1, keepdims=True)
clip.save(os.path.join(sys.argv[2], "clip.keras"))
saved = kr.export(clip, os.path.join(sys.argv[2], "clip_sm"), "saved_model")
result["clip"] = {
    "recorded": kr.load_predictor(saved).card["preprocessing"]["mode"],
    "keras_diff": float(np.abs(
        kr.load_predictor(os.path.join(sys.argv[2], "clip.keras"))
        .predict_images(pixels) - probabilities).max()),
    "saved_model_diff": float(np.abs(
        kr.load_predictor(saved).predict_images(pixels) - probabilities).max()),
}
for name in ("hf-hub:me/effnet", "hf-hub:me/tiny"):
    try:
        kr.build("ResNet50", weights=name)
    except ValueError as error:
        result[name] = str(error)
print(json.dumps(result))
"""
)


@pytest.mark.slow  # a real process
def test_a_hub_id_builds_the_architecture_its_config_names(hub, tmp_path):
    """`weights="hf-hub:ORG/REPO"`: config.json (timm's pretrained_cfg)
    picks the model, the preprocessing, the input size and the class names;
    an architecture without a model is refused before its weights are
    fetched."""
    data = open(FIXTURE, "rb").read()
    names = [f"class {i}" for i in range(10)]
    old = [f"old class {i}" for i in range(10)]
    configs = {
        "me/tiny": {
            "architecture": "tiny_resnet",
            "num_classes": 10,
            "label_names": names,
            "pretrained_cfg": {
                "input_size": [3, 64, 64],
                "mean": [0.485, 0.456, 0.406],
                "std": [0.229, 0.224, 0.225],
            },
        },
        "me/effnet": {"architecture": "efficientnet_b0", "num_classes": 1000},
        "me/clip": {
            "architecture": "tiny_resnet",
            "num_classes": 10,
            "pretrained_cfg": {
                "input_size": [3, 64, 64],
                "mean": CLIP_MEAN,
                "std": CLIP_STD,
                "interpolation": "bilinear",
                "crop_pct": 0.875,
            },
        },
    }
    # The repo as it was at tag v1: other label names.
    configs_at = {("me/tiny", "v1"): dict(configs["me/tiny"], label_names=old)}
    for (repo, revision), config in {
        **{(repo, "main"): config for repo, config in configs.items()},
        **configs_at,
    }.items():
        text = json.dumps(config).encode()
        hub.files[f"/{repo}/resolve/{revision}/config.json"] = (
            text,
            hashlib.sha256(text).hexdigest(),
        )
    hub.files["/me/tiny/resolve/v1/model.safetensors"] = (
        data,
        hashlib.sha256(data).hexdigest(),
    )
    for repo in configs:  # both have weights; only one may be fetched
        hub.files[f"/{repo}/resolve/main/model.safetensors"] = (
            data,
            hashlib.sha256(data).hexdigest(),
        )
    done = run_python(
        BY_ID, FIXTURE, str(tmp_path), env=hub_env(hub, tmp_path), timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["max_diff"] < 1e-4
    assert result["preprocessing"] == "torch"
    assert result["class_names"] == names
    assert result["input_shape"] == [None, 64, 64, 3]
    assert result["other_classes"] == 3
    clip = result["clip"]
    assert clip["recorded"] == {
        "scale": 255.0,
        "mean": CLIP_MEAN,
        "std": CLIP_STD,
        "channel_order": "rgb",
        "interpolation": "bilinear",
        "crop_fraction": 0.875,
        "layout": "channels_last",
    }
    assert clip["keras_diff"] < 1e-5 and clip["saved_model_diff"] < 1e-5
    assert result["pinned_names"] == old  # @v1 pins the repo as it was
    assert "'efficientnet_b0'" in result["hf-hub:me/effnet"]
    assert "nothing was downloaded but its config.json" in result["hf-hub:me/effnet"]
    assert "not a ResNet50" in result["hf-hub:me/tiny"]
    assert "/me/effnet/resolve/main/model.safetensors" not in hub.gets
    assert hub.gets.count("/me/tiny/resolve/main/model.safetensors") == 1  # cached


FAMILIES_BY_ID = """
import json, os, sys
import numpy as np
import keras_residual as kr
from keras_residual.weights.converters import read_checkpoint
from keras_residual.hub.ids import register_hub_architecture

folder, families = sys.argv[1], json.loads(sys.argv[2])
logits = np.load(os.path.join(folder, "logits.npz"))
result = {}
for family, size in families.items():
    architecture = read_checkpoint(os.path.join(folder, family + ".safetensors"))
    kr.register_model(
        f"Tiny_{family}", architecture.architecture.spec, description=family, classes=10
    )
    register_hub_architecture(f"tiny_{family}", f"Tiny_{family}")
    model = kr.create_model(
        f"hf-hub:me/{family}", pretrained=True, classifier_activation=None
    )
    out = model.predict(logits[f"input_{size}"], verbose=0)
    result[family] = {
        "max_diff": float(np.abs(out - logits[f"{family}_{size}"]).max()),
        "input_shape": list(model.input_shape),
        "blocks": sorted({s.block for s in model.spec.stages}),
    }
print(json.dumps(result))
"""
# Every family the converters read, as a timm-written fixture, and the
# input size its logits were recorded at.
FAMILY_FIXTURES = {
    "resnet_basic": 64,
    "resnet_bottleneck": 64,
    "resnext": 64,
    "seresnet": 64,
    "resnet_d": 64,
    "resnetv2": 64,
    "densenet": 64,
    "vit": 32,
}


@pytest.mark.slow  # a real process
def test_a_hub_id_builds_each_supported_family_from_its_config(hub, tmp_path):
    """For every converter family, a repository of a timm-written checkpoint
    and a config.json naming its architecture builds that architecture at
    the config's input size, with timm's logits; offline, on 127.0.0.1."""
    folder = os.path.dirname(FIXTURE)
    for family, size in FAMILY_FIXTURES.items():
        data = open(os.path.join(folder, family + ".safetensors"), "rb").read()
        config = json.dumps(
            {
                "architecture": f"tiny_{family}",
                "num_classes": 10,
                "pretrained_cfg": {"input_size": [3, size, size]},
            }
        ).encode()
        for name, content in (("config.json", config), ("model.safetensors", data)):
            hub.files[f"/me/{family}/resolve/main/{name}"] = (
                content,
                hashlib.sha256(content).hexdigest(),
            )
    families = json.dumps(FAMILY_FIXTURES)
    env = hub_env(hub, tmp_path)
    done = run_python(FAMILIES_BY_ID, folder, families, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) == set(FAMILY_FIXTURES)
    for family, size in FAMILY_FIXTURES.items():
        assert result[family]["max_diff"] < 1e-4, family
        assert result[family]["input_shape"] == [None, size, size, 3], family
    assert result["resnext"]["blocks"] == ["resnext"]
    assert result["densenet"]["blocks"] == ["dense"]
    assert result["vit"]["blocks"] == ["transformer"]
    assert result["resnetv2"]["blocks"] == ["preact_bottleneck"]
