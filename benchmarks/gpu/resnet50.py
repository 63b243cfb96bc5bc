"""ResNet50 on a GPU: keras_residual on Keras/JAX against torchvision's
`resnet50` trained in the same job with AMP, channels_last and
`torch.compile`. Training images/s at 224x224, batch 256, in bfloat16 and
float16 mixed precision, plus inference images/s at batch 256; the ratio
ours/torchvision and the share of MLPerf Training v4.0's ~7,160 images/s
per H100 (../shared/REFERENCE.md).

Runs with KERAS_BACKEND=jax (the GPU image has JAX and PyTorch, no
TensorFlow). Both sides train on one synthetic batch resident on the device,
so the input pipeline is not timed; each round times --steps steps after
warm-up and synchronises the device; figures are medians over --rounds.

    KERAS_BACKEND=jax python -m benchmarks.gpu.resnet50
    KERAS_BACKEND=jax python -m benchmarks.gpu.resnet50 --smoke   # CPU, tiny
"""

import argparse
import os
import platform
import statistics
import time

MLPERF_H100_IMAGES_PER_SECOND = 7160.0
PRECISIONS = {"bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def _median_rate(step, batch, steps, rounds, synchronize):
    step()  # warm-up: compile
    step()
    synchronize()
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        synchronize()
        rates.append(batch * steps / (time.perf_counter() - start))
    return {
        "median": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
        "runs": rounds,
    }


def keras_figures(precision, size, batch, steps, rounds, smoke=False):
    """Training and inference images/s of our ResNet50 on Keras/JAX (one
    block per stage when `smoke`: see `benchmarks/models.py`)."""
    import jax
    import keras
    import numpy as np

    from benchmarks.models import ours

    keras.config.set_dtype_policy(PRECISIONS[precision])
    try:
        model = ours("ResNet50", smoke, input_shape=(size, size, 3), classes=1000)
    finally:
        keras.config.set_dtype_policy("float32")
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        jit_compile=True,
    )
    rng = np.random.default_rng(0)
    images = jax.device_put(
        rng.uniform(-1, 1, (batch, size, size, 3)).astype("float32")
    )
    labels = jax.device_put(rng.integers(0, 1000, batch).astype("int32"))

    def synchronize():
        jax.block_until_ready(model.trainable_variables[0].value)

    train = _median_rate(
        lambda: model.train_on_batch(images, labels, return_dict=False),
        batch,
        steps,
        rounds,
        synchronize,
    )
    infer = _median_rate(
        lambda: model.predict_on_batch(images), batch, steps, rounds, synchronize
    )
    return {"train_images_per_second": train, "inference_images_per_second": infer}


def torch_figures(precision, size, batch, steps, rounds, compile_model):
    """The same for torchvision's resnet50 with AMP and channels_last."""
    import torch
    import torchvision

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}[precision]
    model = (
        torchvision.models.resnet50().to(device).to(memory_format=torch.channels_last)
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = torch.amp.GradScaler(device, enabled=precision == "float16")
    forward = torch.compile(model) if compile_model else model
    images = torch.randn(batch, 3, size, size, device=device).to(
        memory_format=torch.channels_last
    )
    labels = torch.randint(0, 1000, (batch,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def synchronize():
        if device == "cuda":
            torch.cuda.synchronize()

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device, dtype=dtype):
            loss = loss_fn(forward(images), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    def infer_step():
        with torch.no_grad(), torch.autocast(device_type=device, dtype=dtype):
            forward(images)

    model.train()
    train = _median_rate(train_step, batch, steps, rounds, synchronize)
    model.eval()
    infer = _median_rate(infer_step, batch, steps, rounds, synchronize)
    return {"train_images_per_second": train, "inference_images_per_second": infer}


def environment():
    """The accelerator and the software stack."""
    import jax
    import keras

    info = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "jax": jax.__version__,
        "backend": keras.backend.backend(),
        "devices": [str(d) for d in jax.devices()],
        "gpu": None,
        "driver": None,
    }
    try:
        import torch
        import torchvision

        info.update(torch=torch.__version__, torchvision=torchvision.__version__)
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["cuda"] = torch.version.cuda
    except ImportError:
        info["torch"] = None
    try:
        import subprocess

        info["driver"] = (
            subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precisions", default="bfloat16,float16")
    parser.add_argument("--no-torch-compile", action="store_true")
    parser.add_argument(
        "--smoke", action="store_true", help="Tiny sizes; runs on JAX's CPU backend."
    )
    args = parser.parse_args(argv)
    if os.environ.get("KERAS_BACKEND") != "jax":
        raise SystemExit(
            "Run with KERAS_BACKEND=jax (the GPU image has no TensorFlow)."
        )
    if args.smoke:  # float16 takes the same path with another policy
        args.size, args.batch, args.steps, args.rounds = 32, 2, 1, 1
        args.precisions = "bfloat16"

    from benchmarks.common import write_result

    info = environment()
    measured_on_gpu = info["gpu"] is not None and not args.smoke
    result = {
        "environment": info,
        "settings": vars(args),
        "measured_on_gpu": measured_on_gpu,
        "precisions": {},
    }
    for precision in args.precisions.split(","):
        figures = {
            "keras_residual (JAX)": keras_figures(
                precision, args.size, args.batch, args.steps, args.rounds, args.smoke
            )
        }
        if info.get("torch"):
            figures["torchvision"] = torch_figures(
                precision,
                args.size,
                args.batch,
                args.steps,
                args.rounds,
                compile_model=not args.no_torch_compile and info["gpu"] is not None,
            )
        ours = figures["keras_residual (JAX)"]["train_images_per_second"]["median"]
        entry = {
            "figures": figures,
            "share_of_mlperf_h100": ours / MLPERF_H100_IMAGES_PER_SECOND,
        }
        if "torchvision" in figures:
            theirs = figures["torchvision"]
            entry["train_ratio_ours_over_torchvision"] = (
                ours / theirs["train_images_per_second"]["median"]
            )
            entry["inference_ratio_ours_over_torchvision"] = (
                figures["keras_residual (JAX)"]["inference_images_per_second"]["median"]
                / theirs["inference_images_per_second"]["median"]
            )
        result["precisions"][precision] = entry
        for name, figure in figures.items():
            print(
                f"{precision:<9} {name:<22} train "
                f"{figure['train_images_per_second']['median']:9.1f} img/s  "
                "inference "
                f"{figure['inference_images_per_second']['median']:9.1f} img/s",
                flush=True,
            )
    if not measured_on_gpu:
        print("No GPU measurement: these are CPU smoke figures, not results.")
    print(
        "wrote",
        write_result("gpu_resnet50", result, smoke=args.smoke or not measured_on_gpu),
    )
    return result


def table_rows(result):
    if not result.get("measured_on_gpu"):
        return not_measured_rows()
    gpu = result["environment"]["gpu"]
    rows = []
    for precision, entry in result["precisions"].items():
        ours = entry["figures"]["keras_residual (JAX)"]
        theirs = entry["figures"].get("torchvision")
        rows.append(
            {
                "benchmark": f"ResNet50 training on {gpu}, 224×224, batch "
                f"{result['settings']['batch']}, {precision}",
                "measure": "images/s (JAX) vs torchvision AMP + compile",
                "ours": f"{ours['train_images_per_second']['median']:.0f} img/s "
                f"({entry['share_of_mlperf_h100']:.0%} of MLPerf H100)",
                "peer": "—"
                if theirs is None
                else f"{theirs['train_images_per_second']['median']:.0f} img/s",
                "ratio": "—"
                if theirs is None
                else f"{entry['train_ratio_ours_over_torchvision']:.2f}×",
                "target": "≥ 1.0×; ≥ 40% of 7,160",
            }
        )
    return rows


def not_measured_rows():
    """The README rows while no GPU has run this benchmark."""
    return [
        {
            "benchmark": "ResNet50 training on a GPU, 224×224, batch 256, "
            "bfloat16 and float16",
            "measure": "images/s (JAX) vs torchvision AMP + compile",
            "ours": "not yet measured (no GPU lent)",
            "peer": "not yet measured",
            "ratio": "—",
            "target": "≥ 1.0×; ≥ 40% of 7,160",
        }
    ]


if __name__ == "__main__":
    main()
