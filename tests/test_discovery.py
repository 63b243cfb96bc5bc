"""Finding models and weights (#28, discovery): fnmatch patterns and
`pretrained=` as in timm, and each weights entry's top-1, source, licence
and size."""

import os

import keras
import pytest

import keras_residual as kr
from keras_residual import cli
from keras_residual.models.zoo import MODELS
from keras_residual.weights.registry import get_weights_entry
from keras_residual.weights.registry import weight_tags

NAMES = MODELS.names()


def test_patterns_match_names_in_any_case_and_weights_tags():
    expected = [n for n in NAMES if n.lower().startswith("resnet5")]
    assert list(kr.list_models("resnet5*")) == expected
    assert list(kr.list_models("RESNET5*")) == expected
    both = kr.list_models(["resnet5*", "*vit*"])
    assert set(both) == set(expected) | {n for n in NAMES if "vit" in n.lower()}
    assert list(kr.list_models("resnet50.a1_in1k")) == ["ResNet50"]  # timm's id
    assert "ResNet50" in kr.list_models("*a1_in1k")  # a weights tag
    assert list(kr.list_models("*.digits")) == [
        n for n in NAMES if "digits" in weight_tags(n)
    ]
    assert kr.list_models() == {n: MODELS.get(n).description for n in NAMES}
    with pytest.raises(TypeError, match="`pattern`"):
        kr.list_models(5)
    with pytest.raises(TypeError, match="`pretrained`"):
        kr.list_models(pretrained="yes")


def test_pretrained_lists_exactly_the_models_with_registered_weights():
    registered = weight_tags()  # {model: [tags]}
    assert set(kr.list_models(pretrained=True)) == {n for n in registered if n}
    assert set(kr.list_models("resnet2*", pretrained=True)) == {"ResNet20"}


def test_list_weights_gives_top1_source_licence_and_size():
    table = kr.list_weights("ResNet20")
    assert "digits" in table and "fashion_mnist" in table  # `in` still works
    digits = table["digits"]
    entry = get_weights_entry("ResNet20", "digits")
    assert digits.top1 == entry.top1 and digits.license == entry.license
    assert digits.size_mb == round(os.path.getsize(entry.top.path) / 1e6, 1)
    peer = keras.applications.ResNet50(weights=None).count_params()
    assert kr.list_weights("ResNet50")["imagenet"].size_mb == round(4 * peer / 1e6, 1)
    assert kr.list_weights("ResNet34") == {}
    assert kr.list_weights() == weight_tags()
    assert kr.weights.list_weights is kr.list_weights  # one list_weights
    with pytest.raises(ValueError, match="Did you mean 'ResNet50'"):
        kr.list_weights("Resnet50")


def test_models_and_weights_commands(capsys):
    assert cli.main(["models", "--pretrained", "resnet2*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ResNet20 ")
    assert "digits" in lines[0]
    assert cli.main(["weights", "ResNet20"]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "MB" in out and "top-1" in out
    assert cli.main(["models", "no-such-*"]) == 2
    assert "No model matches" in capsys.readouterr().err


@pytest.mark.jax
def test_create_model_takes_names_timm_ids_and_refuses_the_rest():
    from keras_residual.hub.ids import parse_hub_id

    model = kr.create_model("resnet18.tv_in1k", num_classes=5)  # timm's id
    assert model.name == "resnet18" and model.output.shape == (None, 5)
    assert kr.create_model("ResNet20", num_classes=3).output.shape == (None, 3)
    with pytest.raises(ValueError, match=r"Did you mean .*'ResNet50'") as error:
        kr.create_model("resnet5O")
    assert "'imagenet'" not in str(error.value)  # a tag, not a timm id
    with pytest.raises(ValueError, match="no weights are registered for ResNet34"):
        kr.create_model("ResNet34", pretrained=True)
    with pytest.raises(TypeError, match="`num_classes` or `classes`"):
        kr.create_model("ResNet20", num_classes=3, classes=3)
    assert parse_hub_id("hf-hub:timm/resnet50.a1_in1k") == (
        "timm/resnet50.a1_in1k",
        None,
    )
    assert parse_hub_id("hf://me/model@v2") == ("me/model", "v2")
    for bad in ("hf-hub:model", "hf://me/../x", "hf-hub:/x"):
        with pytest.raises(ValueError, match="not a Hub id"):
            parse_hub_id(bad)


def test_the_weights_page_lists_every_registered_entry():
    page = open(os.path.join(os.path.dirname(__file__), "..", "docs", "weights.md"))
    rows = {
        tuple(cell.strip() for cell in line.strip().strip("|").split("|"))
        for line in page
        if line.startswith("| ")
    }
    for model, tags in kr.list_weights().items():
        for tag in tags:
            entry = get_weights_entry(model, tag)
            top1 = "n/a" if entry.top1 is None else f"{entry.top1:.2f}"
            assert any(
                row[:3] == (model, f"`{tag}`", top1) and row[4] == entry.license
                for row in rows
            ), (model, tag)
