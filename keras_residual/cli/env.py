"""`keras-residual env`: the detected hardware, TensorFlow's CPU kernels,
the cached precision probe figures and what `precision="auto"` chooses
here."""

import os

from keras_residual.cli.commands import add_command_parser


def _env(args):
    import keras

    from keras_residual.models.zoo import model_spec
    from keras_residual.training.precision import CPU_BF16_FLAGS
    from keras_residual.training.precision import PRECISION_ENV
    from keras_residual.training.precision import detect_hardware
    from keras_residual.training.precision import resolve_precision
    from keras_residual.training.precision_probe import DEFAULT_SHAPES
    from keras_residual.training.precision_probe import cache_path
    from keras_residual.training.precision_probe import probe_shapes
    from keras_residual.training.precision_probe import read_cache

    hardware = detect_hardware()
    shapes = DEFAULT_SHAPES
    if args.model:
        size = args.image_size or model_spec(args.model).default_size
        shapes = probe_shapes(model_spec(args.model), (size, size, 3))
    print(f"backend: {keras.backend.backend()} (keras {keras.__version__})")
    print(f"device: {hardware.accelerator}, {hardware.device_name}")
    if hardware.gpu_compute_capability:
        print(f"compute capability: {tuple(hardware.gpu_compute_capability)}")
    print(f"CPU cores: {os.cpu_count()}")
    if keras.backend.backend() == "tensorflow":
        print(f"TensorFlow CPU kernels: {_kernels()}")
    flags = sorted(hardware.cpu_flags & set(CPU_BF16_FLAGS)) or ["none"]
    print(f"CPU bfloat16 flags: {', '.join(flags)}")
    if os.environ.get(PRECISION_ENV):
        print(f"{PRECISION_ENV}={os.environ[PRECISION_ENV]} (overrides the probe)")
    choice = resolve_precision("auto", hardware, shapes=shapes)
    print(f"probe shapes (resolution, width): {list(shapes)}")
    print(f"precision='auto' chooses: {choice}")
    print(f"probe cache: {cache_path()}")
    for key, entry in sorted(read_cache().items()):
        print(
            f"  {key}\n    float32 {entry['float32_seconds'] * 1000:.1f} ms/step, "
            f"bfloat16 {entry['bfloat16_seconds'] * 1000:.1f} ms/step, "
            f"bfloat16 speed {entry['speedup']:.2f}x -> {entry['choice']}"
        )


def _kernels():
    """Which CPU kernels the loaded TensorFlow runs, and its switch."""
    from keras_residual.utils.kernel_library import SWITCH
    from keras_residual.utils.kernel_library import onednn_enabled

    library = "oneDNN" if onednn_enabled() else "Eigen (TensorFlow's own)"
    return f"{library}; {SWITCH}={os.environ.get(SWITCH, 'unset')}"


def add_env_parser(commands):
    """Adds the `env` sub-command.

    Args:
        commands: the `add_subparsers()` object of the main parser.
    """
    env = add_command_parser(commands, "env")
    env.add_argument("--model", help="Probe shapes of this model's stages.")
    env.add_argument("--image-size", type=int, help="With --model: the image size.")
    env.set_defaults(run=_env)
