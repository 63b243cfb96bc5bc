"""`keras-residual train` and `search`: a recipe run and an architecture
search from the command line."""

import argparse

import keras_residual
from keras_residual.cli.zoo import add_model_overrides
from keras_residual.cli.zoo import model_overrides
from keras_residual.core.preprocessing import PREPROCESSING_MODES
from keras_residual.data.loader import AUGMENTATIONS
from keras_residual.data.loader import COLOR_MODES
from keras_residual.search.run import search
from keras_residual.search.tuners import TUNERS
from keras_residual.search.tuners import configure_distributed_search
from keras_residual.training.distribute import DISTRIBUTIONS
from keras_residual.training.precision import PRECISIONS


def _train(args):
    recipe_overrides = {
        key: value
        for key, value in (
            ("learning_rate", args.learning_rate),
            ("label_smoothing", args.label_smoothing),
            ("mixup_alpha", args.mixup),
            ("cutmix_alpha", args.cutmix),
            ("steps_per_execution", args.steps_per_execution),
            ("head_epochs", args.head_epochs),
            ("unfreeze", _unfreeze(args.unfreeze)),
            ("backbone_lr_ratio", args.backbone_lr_ratio),
            ("layer_decay", args.layer_decay),
            ("freeze_bn", args.freeze_bn),
        )
        if value is not None
    }
    result = keras_residual.train(
        args.model,
        args.dataset,
        args.out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        recipe=args.recipe,
        weights=args.weights,
        preprocessing=args.preprocessing,
        precision=args.precision,
        jit_compile=_jit(args.jit_compile),
        seed=args.seed,
        resume=args.resume,
        distribute=args.distribute,
        coordinator_address=args.coordinator_address,
        num_processes=args.num_processes,
        process_id=args.process_id,
        data_dir=args.data_dir,
        download=args.download,
        image_size=args.image_size,
        classes=args.classes,
        augment=args.augment,
        color_mode=args.color_mode,
        skip_bad_images=args.skip_bad_images,
        export=not args.no_export,
        verbose=args.verbose,
        model_overrides=model_overrides(args),
        recipe_overrides=recipe_overrides,
    )
    metrics = result.metrics
    accuracy = metrics["test_accuracy"]
    print(
        f"{metrics['model']} on {metrics['dataset']}: "
        f"{metrics['epochs_completed']} epochs, test accuracy "
        f"{'n/a' if accuracy is None else f'{accuracy:.4f}'}, "
        f"{metrics['params']:,} parameters, "
        f"{metrics['images_per_second'] or 0:.0f} images/s "
        f"({metrics['precision']}), {metrics['wall_seconds']:.1f} s. "
        f"Run directory: {result.run_dir}"
    )


def _unfreeze(value):
    """`--unfreeze`: "all", a number of stages, or None."""
    if value is None or value == "all":
        return value
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"`--unfreeze` must be 'all' or a number of stages; received {value!r}."
        ) from None


def _ratio(value):
    """`--backbone-lr-ratio`: "auto" or a number."""
    if value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be 'auto' or a number in (0, 1]; received {value!r}"
        ) from None


def _jit(value):
    return {"auto": "auto", "on": True, "off": False}[value]


def add_train_parser(commands):
    """Adds the `train` and `tune` sub-commands.

    Args:
        commands: the `add_subparsers()` object of the main parser.
    """
    train = commands.add_parser(
        "train", help="Train a model with a recipe into a run directory."
    )
    train.add_argument(
        "--model", default="ResNet20", help="A name from `keras-residual models`."
    )
    _add_data_options(train)
    train.add_argument("--out", required=True, help="The run directory.")
    train.add_argument("--epochs", type=int)
    train.add_argument(
        "--recipe",
        help="he2015, modern, fast or finetune (see `keras-residual recipes`). "
        "Defaults to finetune with --weights, else fast.",
    )
    train.add_argument(
        "--weights",
        help="Fine-tune from pretrained weights: a registered name (imagenet, "
        "digits), a weights file, a .keras file or a run directory.",
    )
    train.add_argument(
        "--preprocessing",
        choices=PREPROCESSING_MODES,
        help="How images are scaled; defaults to the weights' own, else tf.",
    )
    train.add_argument(
        "--head-epochs", type=int, help="Fine-tuning: epochs of the new head alone."
    )
    train.add_argument(
        "--unfreeze", help="Fine-tuning: 'all', or the number of last stages to train."
    )
    train.add_argument(
        "--backbone-lr-ratio",
        type=_ratio,
        help="Fine-tuning: the backbone's learning rate / the head's, or "
        "'auto' (from the linear probe; the finetune recipe's default).",
    )
    train.add_argument(
        "--layer-decay",
        type=float,
        help="Fine-tuning: a learning-rate factor per stage.",
    )
    batch_norm = train.add_mutually_exclusive_group()
    batch_norm.add_argument(
        "--freeze-bn",
        dest="freeze_bn",
        action="store_const",
        const=True,
        help="Fine-tuning: keep BatchNorm layers frozen (statistics and scale) "
        "in phase 2 (trained by default).",
    )
    batch_norm.add_argument(
        "--train-bn",
        dest="freeze_bn",
        action="store_const",
        const=False,
        help="Fine-tuning: train BatchNorm layers in phase 2 (the default).",
    )
    train.add_argument("--precision", default="auto", choices=PRECISIONS)
    train.add_argument("--jit-compile", default="auto", choices=("auto", "on", "off"))
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--resume",
        action="store_true",
        help="Continue the run in --out from its last completed epoch.",
    )
    train.add_argument("--distribute", default="none", choices=DISTRIBUTIONS)
    train.add_argument(
        "--coordinator-address", help="host:port of process 0 (multi-process JAX)."
    )
    train.add_argument("--num-processes", type=int)
    train.add_argument("--process-id", type=int)
    train.add_argument("--classes", type=int)
    train.add_argument("--augment", default="auto", choices=AUGMENTATIONS)
    train.add_argument(
        "--color-mode",
        default="auto",
        choices=COLOR_MODES,
        help="An image folder's channels: auto (grey when all its images are "
        "grey), rgb or grayscale.",
    )
    train.add_argument(
        "--skip-bad-images",
        action="store_true",
        help="Leave out image files that cannot be decoded (counted and "
        "reported) instead of refusing the folder.",
    )
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--label-smoothing", type=float)
    train.add_argument("--mixup", type=float, help="MixUp alpha.")
    train.add_argument("--cutmix", type=float, help="CutMix alpha.")
    train.add_argument("--steps-per-execution", type=int)
    train.add_argument(
        "--verbose",
        type=int,
        default=1,
        choices=(0, 1, 2),
        help="1 shows a progress bar. Defaults to 1.",
    )
    train.add_argument(
        "--no-export", action="store_true", help="Skip model.keras and saved_model/."
    )
    add_model_overrides(train)
    train.set_defaults(run=_train)
    add_tune_parser(commands)


def _add_data_options(parser):
    parser.add_argument(
        "--dataset",
        default="digits",
        help="'digits' (embedded), 'fashion_mnist' (offline after `apt-get "
        "install dataset-fashion-mnist`), a TFDS name or an image directory.",
    )
    parser.add_argument(
        "--data-dir",
        help="TFDS data directory, also searched for Fashion-MNIST's IDX files.",
    )
    parser.add_argument(
        "--download", action="store_true", help="Let TFDS download a missing dataset."
    )
    parser.add_argument("--image-size", type=int)
    parser.add_argument("--batch-size", type=int)


def add_tune_parser(commands):
    """Adds the `search` sub-command (`tune`, its 0.1 name, is an alias), the
    command line of `keras_residual.search.search()`.

    Args:
        commands: the `add_subparsers()` object of the main parser.
    """
    tune = commands.add_parser(
        "search",
        aliases=["tune"],
        help="Search block family, depth and width with Keras Tuner (also `tune`).",
    )
    _add_data_options(tune)
    tune.add_argument(
        "--out", required=True, help="Output directory; rerunning resumes the search."
    )
    tune.add_argument("--tuner", default="random", choices=TUNERS)
    tune.add_argument("--max-trials", type=int, default=10)
    tune.add_argument(
        "--epochs", type=int, default=10, help="Epochs per trial (Hyperband's maximum)."
    )
    tune.add_argument("--space", help="A JSON or YAML search-space file.")
    tune.add_argument("--max-params", type=int)
    tune.add_argument("--max-flops", type=int)
    tune.add_argument("--objective", default="val_accuracy")
    tune.add_argument("--recipe", default="fast")
    tune.add_argument("--seed", type=int, default=0)
    tune.add_argument("--precision", default="auto", choices=PRECISIONS)
    tune.add_argument(
        "--overwrite", action="store_true", help="Discard a previous search in --out."
    )
    tune.add_argument("--no-export", action="store_true")
    tune.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    role = tune.add_mutually_exclusive_group()
    role.add_argument(
        "--chief",
        action="store_true",
        help="Serve the oracle to workers (distributed search).",
    )
    role.add_argument(
        "--worker", metavar="ID", help="Run trials for the chief at --oracle-address."
    )
    tune.add_argument(
        "--oracle-address",
        metavar="HOST:PORT",
        help="The chief's address (distributed search).",
    )
    tune.set_defaults(run=_tune)


def _tune(args):
    configure_distributed_search(args.chief, args.worker, args.oracle_address)
    search(
        args.dataset,
        args.out,
        tuner=args.tuner,
        max_trials=args.max_trials,
        epochs=args.epochs,
        space=args.space,
        max_params=args.max_params,
        max_flops=args.max_flops,
        objective=args.objective,
        recipe=args.recipe,
        batch_size=args.batch_size,
        seed=args.seed,
        precision=args.precision,
        data_dir=args.data_dir,
        download=args.download,
        image_size=args.image_size,
        overwrite=args.overwrite,
        export=not args.no_export,
        verbose=args.verbose,
    )
