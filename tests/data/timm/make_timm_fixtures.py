"""Writes the timm fixtures the converter tests load, and timm's own logits.

Needs `timm`, `torch` and `safetensors` (not keras_residual, not CI):

    pip install torch timm safetensors
    python tests/data/timm/make_timm_fixtures.py

writes, next to this script, reduced-width models of the real layouts with
random weights and random BatchNorm statistics:

- `resnet_basic.safetensors` (and `.pth`): timm `ResNet(BasicBlock)`,
  the resnet18/34 layout;
- `resnet_bottleneck.safetensors`: timm `ResNet(Bottleneck)`, the
  resnet50/101/152 ("v1.5") layout;
- `resnetv2.safetensors`: timm `ResNetV2` with BatchNorm (`resnetv2_50`);
- `densenet.safetensors`: timm `DenseNet` (densenet121/169/201), and
  `densenet_legacy.safetensors`, the same tensors under torchvision's old
  key names (`norm.1`);
- `resnext.safetensors`: timm `ResNet(Bottleneck, cardinality=4,
  base_width=32)`, the resnext50_32x4d layout;
- `seresnet.safetensors`: timm `ResNet(Bottleneck)` with `attn_layer="se"`,
  the seresnet50 layout;
- `resnet_d.safetensors`: timm `ResNet(Bottleneck, stem_type="deep",
  avg_down=True)`, the resnet50d layout;
- `vit.safetensors`: timm `VisionTransformer` (patch 8 at 32 px, width 128,
  2 heads of 64, LayerScale), the vit_*_patch16_224 layout; its logits are
  at 32 px only (`vit_32`, input `input_32`);
- `logits.npz`: the inputs (NHWC) and what timm computes for them in eval
  mode, per fixture and input size.

`--names resnext,vit` writes only those fixtures and merges their logits
into the existing `logits.npz`.

`--full resnet50 --out DIR` instead writes a full-size timm `resnet50`
with random weights to `DIR/resnet50.safetensors` and its logits to
`DIR/resnet50_logits.npz` (see the README's converter section).
"""

import argparse
import os

import numpy as np
import timm
import torch
from safetensors.torch import save_file
from timm.layers import BatchNormAct2d
from timm.layers import create_conv2d
from timm.models.densenet import DenseNet
from timm.models.resnet import BasicBlock
from timm.models.resnet import Bottleneck
from timm.models.resnet import ResNet
from timm.models.resnetv2 import ResNetV2
from timm.models.vision_transformer import VisionTransformer

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = (64, 57)  # an even and an odd size: padding differences show on both
VIT_SIZE = 32  # the ViT fixture's own size (patch 8, a 4x4 grid)


def fixtures():
    """The reduced models, by fixture name."""
    return {
        "resnet_basic": ResNet(
            BasicBlock,
            [2, 2, 2, 2],
            channels=(4, 8, 16, 32),
            stem_width=8,
            num_classes=10,
        ),
        "resnet_bottleneck": ResNet(
            Bottleneck,
            [2, 2, 2, 2],
            channels=(4, 8, 16, 32),
            stem_width=8,
            num_classes=10,
        ),
        "resnetv2": ResNetV2(
            layers=[2, 1, 1, 1],
            channels=(32, 64, 128, 256),
            stem_chs=8,
            conv_layer=create_conv2d,
            norm_layer=BatchNormAct2d,
            num_classes=10,
        ),
        "densenet": DenseNet(growth_rate=8, block_config=(2, 2, 2, 2), num_classes=10),
        "resnext": ResNet(
            Bottleneck,
            [2, 2, 2, 2],
            channels=(8, 16, 32, 64),
            cardinality=4,
            base_width=32,
            stem_width=8,
            num_classes=10,
        ),
        "seresnet": ResNet(
            Bottleneck,
            [2, 2, 2, 2],
            channels=(8, 16, 32, 64),
            stem_width=8,
            block_args={"attn_layer": "se"},
            num_classes=10,
        ),
        "resnet_d": ResNet(
            Bottleneck,
            [2, 2, 2, 2],
            channels=(4, 8, 16, 32),
            stem_width=8,
            stem_type="deep",
            avg_down=True,
            num_classes=10,
        ),
        "vit": VisionTransformer(
            img_size=VIT_SIZE,
            patch_size=8,
            embed_dim=128,
            depth=2,
            num_heads=2,
            mlp_ratio=2.0,
            init_values=0.1,
            num_classes=10,
        ),
    }


def randomize(model, seed):
    """Random BatchNorm affine parameters and statistics, so that a wrong
    epsilon or a swapped mean/variance shows in the logits."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            count = module.num_features
            module.weight.data = 0.5 + torch.rand(count, generator=generator)
            module.bias.data = 0.1 * torch.randn(count, generator=generator)
            module.running_mean.data = 0.1 * torch.randn(count, generator=generator)
            module.running_var.data = 0.5 + torch.rand(count, generator=generator)
        if isinstance(module, torch.nn.LayerNorm):
            count = module.normalized_shape[0]
            module.weight.data = 0.5 + torch.rand(count, generator=generator)
            module.bias.data = 0.1 * torch.randn(count, generator=generator)
        if hasattr(module, "gamma") and isinstance(module.gamma, torch.nn.Parameter):
            module.gamma.data = 0.5 + torch.rand(
                module.gamma.shape, generator=generator
            )
    if getattr(model, "cls_token", None) is not None:
        model.cls_token.data = torch.randn(model.cls_token.shape, generator=generator)
    return model.eval()


def inputs(seed=0):
    """One NHWC batch per size."""
    rng = np.random.default_rng(seed)
    return {
        size: rng.normal(size=(2, size, size, 3)).astype(np.float32)
        for size in (*SIZES, VIT_SIZE)
    }


def logits(model, images):
    with torch.no_grad():
        return model(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()


def legacy_keys(state):
    """torchvision's pre-0.3 DenseNet key names (`norm1` -> `norm.1`)."""
    renamed = {}
    for key, value in state.items():
        for part in ("norm1", "norm2", "conv1", "conv2"):
            marker = f".{part}."
            if "denselayer" in key and marker in key:
                key = key.replace(marker, f".{part[:-1]}.{part[-1]}.")
        renamed[key] = value
    return renamed


def write_fixtures(out, names=None):
    torch.manual_seed(0)
    batches = inputs()
    arrays = {f"input_{size}": batch for size, batch in batches.items()}
    existing = os.path.join(out, "logits.npz")
    if names and os.path.exists(existing):
        arrays = {**dict(np.load(existing)), **arrays}
    for seed, (name, model) in enumerate(fixtures().items()):
        if names and name not in names:
            continue
        model = randomize(model, seed)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, os.path.join(out, f"{name}.safetensors"))
        sizes = (VIT_SIZE,) if name == "vit" else SIZES
        for size in sizes:
            arrays[f"{name}_{size}"] = logits(model, batches[size])
        if name == "resnet_basic":
            torch.save(state, os.path.join(out, f"{name}.pth"))
        if name == "densenet":
            save_file(
                legacy_keys(state), os.path.join(out, "densenet_legacy.safetensors")
            )
    arrays["timm_version"] = np.array(timm.__version__)
    arrays["torch_version"] = np.array(torch.__version__)
    np.savez(os.path.join(out, "logits.npz"), **arrays)


def write_full(name, out):
    torch.manual_seed(0)
    model = randomize(timm.create_model(name, pretrained=False), 0)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    os.makedirs(out, exist_ok=True)
    save_file(state, os.path.join(out, f"{name}.safetensors"))
    images = np.random.default_rng(0).normal(size=(2, 224, 224, 3)).astype(np.float32)
    np.savez(
        os.path.join(out, f"{name}_logits.npz"),
        input=images,
        logits=logits(model, images),
        timm_version=np.array(timm.__version__),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", help="a timm model name, e.g. resnet50")
    parser.add_argument("--out", default=HERE, help="output folder")
    parser.add_argument("--names", help="comma-separated fixtures to (re)write")
    args = parser.parse_args()
    if args.full:
        write_full(args.full, args.out)
    else:
        write_fixtures(args.out, args.names.split(",") if args.names else None)


if __name__ == "__main__":
    main()
