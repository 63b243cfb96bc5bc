"""`evaluate --report`: per-class precision, recall and F1, top-k and the
confusion matrix, checked against scikit-learn's; the report of the
shipped digits SavedModel, its PNGs and its most wrong images."""

import json
import os

import numpy as np
import pytest
from sklearn import metrics

from keras_residual.analysis.classification import classification_report
from keras_residual.analysis.classification import most_wrong
from keras_residual.serving.evaluation import evaluate_export
from tests.conftest import run_cli_here

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIGITS_MODEL = os.path.join(ROOT, "saved_models", "ResNet20-digits")
PNG = b"\x89PNG\r\n\x1a\n"


def test_the_report_agrees_with_scikit_learn():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 500)
    logits = rng.normal(0, 1, (500, 7))
    logits[np.arange(500), labels] += rng.uniform(0, 2.5, 500)  # mostly right
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    names = [f"c{i}" for i in range(7)]
    report = classification_report(labels, probabilities, names, top_k=5)
    predicted = probabilities.argmax(-1)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        labels, predicted, labels=range(7), zero_division=0
    )
    for index, row in enumerate(report["classes"]):
        assert row["name"] == names[index]
        assert row["precision"] == pytest.approx(precision[index])
        assert row["recall"] == pytest.approx(recall[index])
        assert row["f1"] == pytest.approx(f1[index])
        assert row["support"] == support[index]
    assert report["confusion"] == metrics.confusion_matrix(labels, predicted).tolist()
    assert report["top1"] == pytest.approx(metrics.accuracy_score(labels, predicted))
    assert report["top5"] == pytest.approx(
        metrics.top_k_accuracy_score(labels, probabilities, k=5)
    )
    assert report["macro_f1"] == pytest.approx(
        metrics.f1_score(labels, predicted, average="macro")
    )
    worst = most_wrong(labels, probabilities, count=5)
    true_probability = probabilities[np.arange(500), labels]
    wrong = np.flatnonzero(predicted != labels)
    expected = wrong[np.argsort(true_probability[wrong])][:5]
    assert [row["index"] for row in worst] == expected.tolist()


def test_the_digits_model_reports_per_class_figures_and_pngs(tmp_path):
    report_dir = tmp_path / "report"
    results = evaluate_export(DIGITS_MODEL, "digits", verbose=0, report=report_dir)
    report = json.load(open(report_dir / "report.json"))
    assert report["top1"] == pytest.approx(results["accuracy"])
    assert report["examples"] == results["examples"]
    confusion = np.array(report["confusion"])
    assert confusion.sum() == results["examples"]
    assert np.trace(confusion) / confusion.sum() == pytest.approx(results["accuracy"])
    assert [row["support"] for row in report["classes"]] == confusion.sum(1).tolist()
    assert report["top5"] >= report["top1"] and results["top5"] == report["top5"]
    assert len(report["class_names"]) == 10
    for row in report["most_wrong"]:
        assert row["label"] != row["predicted"]
        assert confusion[row["label"], row["predicted"]] >= 1
    for name in ("confusion.png", "most_wrong.png"):
        assert (report_dir / name).read_bytes()[:8] == PNG


def test_the_report_names_each_wrong_image_by_its_file_or_split_index(tmp_path):
    from PIL import Image

    from keras_residual.data import load_digits_arrays

    images, labels = load_digits_arrays()["test"]
    folder = tmp_path / "digits"
    swapped = set()
    for digit in range(3):
        (folder / str(digit)).mkdir(parents=True)
    for digit in range(3):
        for i in np.flatnonzero(labels == digit)[:6]:
            # Two images of each digit filed under the next digit's folder:
            # the model is sure they are not what their folder says.
            wrong = len([p for p in swapped if f"/{digit}_" in p]) < 2
            target = (digit + 1) % 3 if wrong else digit
            path = folder / str(target) / f"{digit}_{i}.png"
            Image.fromarray(images[i, :, :, 0].astype("uint8")).save(path)
            if wrong:
                swapped.add(str(path))
    results = evaluate_export(
        DIGITS_MODEL, str(folder), split="all", verbose=0, report=tmp_path / "r"
    )
    assert results["examples"] == 18
    report = json.load(open(tmp_path / "r" / "report.json"))
    named = {row["image"] for row in report["most_wrong"]}
    assert named == swapped, report["most_wrong"]
    # Digits: "digits SPLIT[INDEX]", the index into that split.
    evaluate_export(
        DIGITS_MODEL, "digits", split="all", verbose=0, report=tmp_path / "d"
    )
    rows = json.load(open(tmp_path / "d" / "report.json"))["most_wrong"]
    arrays = load_digits_arrays()
    for row in rows:
        split, index = row["image"].removeprefix("digits ").rstrip("]").split("[")
        assert arrays[split][1][int(index)] == row["label"], row


def test_images_of_a_split_of_unknown_size_are_named_by_index_only():
    import types

    from keras_residual.serving.evaluation import image_names

    data = types.SimpleNamespace(files=None, sizes={"train": 2, "test": None})
    assert image_names(data, "mnist", ["train"]) == ["mnist train[0]", "mnist train[1]"]
    # A TFDS split without a size: later names would be off, so none.
    assert image_names(data, "mnist", ["test", "train"]) is None


@pytest.mark.slow  # an evaluation of the test split
def test_the_evaluate_command_writes_the_report(tmp_path):
    done = run_cli_here(
        "evaluate", DIGITS_MODEL, "--dataset", "digits", "--report", tmp_path / "r"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "macro F1" in done.stdout
    assert sorted(os.listdir(tmp_path / "r")) == [
        "confusion.png",
        "most_wrong.png",
        "report.json",
    ]
