"""Compares a full-size timm model converted by keras_residual with the
logits timm computed (files from `make_timm_fixtures.py --full NAME`).

    python tests/data/timm/check_full_parity.py /tmp/full/resnet50
"""

import sys

import numpy as np

import keras_residual as kr

ZOO = {
    "resnet18": "ResNet18",
    "resnet34": "ResNet34",
    "resnet50": "ResNet50",
    "resnet101": "ResNet101",
    "resnet152": "ResNet152",
    "resnetv2_50": "ResNet50V2",
    "densenet121": "DenseNet121",
    "densenet169": "DenseNet169",
    "densenet201": "DenseNet201",
}


def main(stem):
    name = stem.rstrip("/").split("/")[-1]
    reference = np.load(f"{stem}_logits.npz")
    model = kr.build(
        ZOO[name], weights=f"{stem}.safetensors", classifier_activation=None
    )
    logits = model.predict(reference["input"], verbose=0)
    difference = float(np.abs(logits - reference["logits"]).max())
    scale = float(np.abs(reference["logits"]).max())
    print(
        f"{name} -> {ZOO[name]}: max abs diff {difference:.3g}, max |logit| "
        f"{scale:.4g}, relative {difference / scale:.2g}, params "
        f"{model.count_params():,} (timm {reference['timm_version']})"
    )


if __name__ == "__main__":
    main(sys.argv[1])
