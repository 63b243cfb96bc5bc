"""A worker of `benchmarks.cpu_training`: builds one framework's contenders
and times their training steps on request (JSON lines on stdin/stdout).

    python -m benchmarks.cpu_training_worker tensorflow|jax|torch

Requests: `{"cmd": "setup", "model", "case", "warmup"}` -> the contender
labels; `{"cmd": "time", "contender", "steps"}` -> the median step in
seconds; `{"cmd": "release"}` frees the models. The torch worker imports
neither Keras nor this package, so it runs in any Python with torch.
"""

import gc
import json
import os
import statistics
import sys
import time


def keras_contenders(model_name, case):
    """Ours (float32 and auto on TensorFlow; float32 and bfloat16 on JAX),
    and keras.applications' ResNet50 on TensorFlow."""
    import keras
    import numpy as np

    import keras_residual as kr
    from keras_residual.models.zoo import model_spec
    from keras_residual.training.precision import resolve_precision
    from keras_residual.training.precision_probe import probe_shapes

    shape = (case["size"], case["size"], 3)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        spec = model_spec(model_name)
        auto = resolve_precision("auto", shapes=probe_shapes(spec, shape))
        policies = {"ours TF float32": "float32", "ours TF auto": auto}
    else:
        policies = {
            "ours JAX float32": "float32",
            "ours JAX bfloat16": "mixed_bfloat16",
        }
    builders = {
        label: (
            lambda: kr.build(model_name, input_shape=shape, classes=case["classes"])
        )
        for label in policies
    }
    if backend == "tensorflow" and hasattr(keras.applications, model_name):
        policies["keras.applications float32"] = "float32"
        builders["keras.applications float32"] = lambda: getattr(
            keras.applications, model_name
        )(weights=None, input_shape=shape, classes=case["classes"])
    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor(
        rng.uniform(-1, 1, (case["batch"], *shape)).astype("float32")
    )
    y = keras.ops.convert_to_tensor(rng.integers(0, case["classes"], case["batch"]))
    steppers = {}
    for label, build in builders.items():
        keras.config.set_dtype_policy(policies[label])
        try:
            model = build()
        finally:
            keras.config.set_dtype_policy("float32")
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss="sparse_categorical_crossentropy",
            jit_compile=backend == "jax",
        )
        steppers[label] = lambda model=model: model.train_on_batch(x, y)
    notes = {label: f"policy {policy}" for label, policy in policies.items()}
    return steppers, notes


def torch_contenders(model_name, case):
    """torchvision's ResNet50 (or a CIFAR ResNet20) in float32, bfloat16
    autocast, channels_last and `torch.compile`."""
    import torch

    from benchmarks.torch_models import build_torch_model

    torch.set_num_threads(os.cpu_count())
    x = torch.randn(case["batch"], 3, case["size"], case["size"])
    y = torch.randint(0, case["classes"], (case["batch"],))
    variants = {
        "torch float32": {},
        "torch bfloat16 autocast": {"autocast": True},
        "torch float32 channels_last": {"channels_last": True},
        "torch bfloat16 channels_last": {"autocast": True, "channels_last": True},
        "torch float32 compile": {"compile": True},
    }
    steppers, notes = {}, {"torch": f"torch {torch.__version__}"}
    loss_fn = torch.nn.CrossEntropyLoss()
    for label, options in variants.items():
        model = build_torch_model(model_name, case["classes"])
        inputs = x
        if options.get("channels_last"):
            model = model.to(memory_format=torch.channels_last)
            inputs = x.contiguous(memory_format=torch.channels_last)
        forward = torch.compile(model) if options.get("compile") else model
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step(forward=forward, optimizer=optimizer, inputs=inputs, options=options):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(
                "cpu", torch.bfloat16, enabled=bool(options.get("autocast"))
            ):
                loss = loss_fn(forward(inputs), y)
            loss.backward()
            optimizer.step()
            return float(loss.detach())

        if options.get("compile"):
            try:
                step()
            except Exception as error:  # inductor needs a C++ compiler
                notes[label] = f"left out: {type(error).__name__}: {str(error)[:200]}"
                continue
        steppers[label] = step
    return steppers, notes


def serve(framework, requests, replies):
    factory = torch_contenders if framework == "torch" else keras_contenders
    steppers = {}
    for line in requests:
        request = json.loads(line)
        try:
            if request["cmd"] == "setup":
                steppers, notes = factory(request["model"], request["case"])
                for stepper in steppers.values():
                    for _ in range(request["warmup"]):
                        stepper()
                reply = {"contenders": list(steppers), "notes": notes}
            elif request["cmd"] == "time":
                stepper = steppers[request["contender"]]
                durations = []
                for _ in range(request["steps"]):
                    started = time.perf_counter()
                    stepper()
                    durations.append(time.perf_counter() - started)
                reply = {"median_step": statistics.median(durations)}
            elif request["cmd"] == "release":
                steppers = {}
                gc.collect()
                reply = {"released": True}
            else:
                reply = {"error": f"unknown command {request['cmd']!r}"}
        except Exception as error:
            reply = {"error": f"{type(error).__name__}: {error}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main():
    # Replies go to the real stdout; anything a library prints goes to stderr.
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.argv[1], sys.stdin, replies)


if __name__ == "__main__":
    main()
