"""Training callbacks whose files survive SIGKILL: an atomic
`BackupAndRestore`, an atomic best-model checkpoint, a non-finite-loss guard
that remembers where it stopped, a throughput meter, and the epoch clock of
an epoch-seeded pipeline."""

import csv
import io
import math
import os
import time

import keras

from keras_residual.training.checkpoint_state import read_state_file
from keras_residual.training.checkpoint_state import restore_seed_states
from keras_residual.training.checkpoint_state import seed_states
from keras_residual.training.optimizers import averaged_weights
from keras_residual.utils.atomic import atomic_path
from keras_residual.utils.atomic import remove_stale_staging
from keras_residual.utils.atomic import save_keras
from keras_residual.utils.atomic import write_json
from keras_residual.utils.atomic import write_text
from keras_residual.utils.download import file_digest

STATE_FILE = "state.json"


def finite_loss(logs):
    """True when `logs` has no loss or a finite one.

    Args:
        logs: dict or None. Keras logs.
    """
    loss = (logs or {}).get("loss")
    return loss is None or math.isfinite(float(loss))


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` with atomic, self-consistent saves and a history.

    At each epoch end it writes `epoch-NNNN.weights.h5` (model and optimizer
    state) through a temporary file and rename, then `state.json` naming
    that file, the completed epoch count and every epoch's logs so far, in
    the same way. A kill at any instant leaves the previous consistent
    state. An epoch whose loss is not finite is never saved. The backup is
    kept after training, so rerunning a finished run resumes at its end.

    Args:
        backup_dir: str. Directory for the state.
        csv_path: str or None. Where to (re)write the full history as CSV
            after each epoch. Defaults to `None`.
    """

    def __init__(self, backup_dir, csv_path=None):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)
        self.csv_path = csv_path
        self.rows = []
        self.resumed_from = 0
        # False: a later `fit` of the same run (after a rollback) reloads
        # the state without calling it a resume.
        self.announce = True
        self._epoch_started = None

    @property
    def state_path(self):
        return os.path.join(self.backup_dir, STATE_FILE)

    def read_state(self):
        """The saved state dict, or None when there is none.

        Raises:
            ValueError: a `state.json` that is not a regular file of at most
                `MAX_STATE_BYTES`, not JSON, or not shaped as `_save` writes
                it (`check_state`).
        """
        if not os.path.lexists(self.state_path):
            return None
        return read_state_file(self.state_path)

    def on_train_begin(self, logs=None):
        remove_stale_staging(self.backup_dir)
        state = self.read_state()
        if state is None:
            return
        state = self._intact_checkpoint(state)
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self.model.load_weights(os.path.join(self.backup_dir, state["weights"]))
        restore_seed_states(self.model, state.get("seed_states"))
        self.rows = list(state["history"])
        # The resume hook of our parent, keras.callbacks.BackupAndRestore:
        # Keras' fit starts from `model._initial_epoch` when a callback sets
        # it in on_train_begin (there is no public way to do so).
        self.model._initial_epoch = state["epoch"]
        if not self.announce:
            return
        self.resumed_from = state["epoch"]
        print(
            f"Resuming from {self.backup_dir}: {state['epoch']} epoch(s) "
            "already completed.",
            flush=True,
        )

    def _intact_checkpoint(self, state):
        """The newest saved state whose weights file matches the sha256
        recorded for it: the latest, else the one before it (said so)."""
        candidates = [state] + ([state["previous"]] if state.get("previous") else [])
        for index, candidate in enumerate(candidates):
            path = os.path.join(self.backup_dir, candidate["weights"])
            expected = candidate.get("sha256")
            if os.path.isfile(path) and (
                expected is None or file_digest(path, "sha256") == expected
            ):
                return candidate
            following = candidates[index + 1] if index + 1 < len(candidates) else None
            print(
                f"Checkpoint {path} is missing or does not match the sha256 "
                "recorded in state.json (corrupt)"
                + (
                    f"; falling back to the one of epoch {following['epoch']}."
                    if following
                    else "."
                ),
                flush=True,
            )
        raise ValueError(
            f"No intact checkpoint in {self.backup_dir}: every weights file "
            "named in state.json is missing or corrupt. Remove that folder "
            "to start the run over."
        )

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        # Keras keeps the resume hook set after fit; clear it so that a
        # later fit of the same model (fine-tuning's second phase) starts
        # at the epoch it is given.
        self.model._initial_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if not finite_loss(logs):
            return
        row = {"epoch": epoch + 1}
        row.update({key: float(value) for key, value in logs.items()})
        if self._epoch_started is not None:
            row["epoch_seconds"] = time.perf_counter() - self._epoch_started
        self.rows.append(row)
        self._save(epoch + 1)
        if self.csv_path:
            write_text(self.csv_path, history_csv(self.rows))

    def on_train_batch_end(self, batch, logs=None):
        pass

    def _save(self, completed_epochs):
        os.makedirs(self.backup_dir, exist_ok=True)
        weights_name = f"epoch-{completed_epochs:04d}.weights.h5"
        path = os.path.join(self.backup_dir, weights_name)
        with atomic_path(path, suffix=".weights.h5") as temporary:
            self.model.save_weights(temporary)
        previous = self.read_state()
        if previous is not None:
            previous.pop("previous", None)
        write_json(
            self.state_path,
            {
                "epoch": completed_epochs,
                "weights": weights_name,
                "sha256": file_digest(path, "sha256"),
                "history": self.rows,
                "seed_states": seed_states(self.model),
                # Kept (with its file) for a fallback if this one is corrupt.
                "previous": previous,
            },
        )
        keep = {weights_name, previous["weights"] if previous else None}
        for name in os.listdir(self.backup_dir):
            if (
                name.startswith("epoch-")
                and name not in keep
                and name.endswith(".weights.h5")
            ):
                os.remove(os.path.join(self.backup_dir, name))


class EpochClock(keras.callbacks.Callback):
    """Tells an epoch-seeded training pipeline (`load_data(...,
    epoch_seeded=True)`) which epoch starts, so its order is drawn from
    `(seed, epoch)`.

    Args:
        clock: `tf.Variable`. `DataBundle.epoch_clock`.
    """

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def on_epoch_begin(self, epoch, logs=None):
        self.clock.assign(epoch)


def history_csv(rows):
    """Renders history rows (dicts) as CSV text with a stable column order.

    Args:
        rows: list of dict. One row per epoch.
    """
    columns = ["epoch"]
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


class BestModelCheckpoint(keras.callbacks.Callback):
    """Saves the whole model (`.keras`) whenever `monitor` improves, through
    a temporary file and rename; with a weight average (EMA) in the
    optimizer, the average is saved, as validation measured it. Epochs
    with a non-finite loss are skipped.

    Args:
        filepath: str. A `.keras` path.
        monitor: str. The logged metric to watch. Defaults to
            `"val_accuracy"`.
        mode: str. `"max"` or `"min"`. Defaults to `"max"`.
        backup: `ResumableBackup` or None. On a resumed run, the best value
            so far is taken from its history, so a worse first epoch does
            not overwrite the best model. Place it before this callback.
            Defaults to `None`.
    """

    def __init__(self, filepath, monitor="val_accuracy", mode="max", backup=None):
        super().__init__()
        if not str(filepath).endswith(".keras"):
            raise ValueError(f"`filepath` must end in '.keras'; received {filepath!r}.")
        if mode not in ("max", "min"):
            raise ValueError(f"`mode` must be 'max' or 'min'; received {mode!r}.")
        self.filepath = filepath
        self.monitor = monitor
        self.mode = mode
        self.backup = backup
        self.best = None

    def on_train_begin(self, logs=None):
        rows = self.backup.rows if self.backup is not None else []
        values = [
            float(row[self.monitor])
            for row in rows
            if row.get(self.monitor) is not None and math.isfinite(row[self.monitor])
        ]
        if values and os.path.exists(self.filepath):
            self.best = max(values) if self.mode == "max" else min(values)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None or not finite_loss(logs) or not math.isfinite(value):
            return
        better = self.best is None or (
            value > self.best if self.mode == "max" else value < self.best
        )
        if better:
            self.best = float(value)
            with averaged_weights(self.model):
                save_keras(self.model, self.filepath)


class NonFiniteLossGuard(keras.callbacks.TerminateOnNaN):
    """`TerminateOnNaN` that remembers where the loss went non-finite.

    Attributes:
        stopped_at: dict or None. `{"epoch", "batch", "loss"}` once stopped.
    """

    def __init__(self):
        super().__init__(raise_error=False)
        self.stopped_at = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        if self.stopped_at is None and not finite_loss(logs):
            self.stopped_at = {
                "epoch": self._epoch + 1,
                "batch": batch,
                "loss": float(logs["loss"]),
            }
        super().on_batch_end(batch, logs)


class Throughput(keras.callbacks.Callback):
    """Adds `train_seconds` (the epoch's training phase, without validation)
    and `images_per_second` to each epoch's logs.

    Args:
        images_per_epoch: int. Training images in one epoch.
    """

    def __init__(self, images_per_epoch):
        super().__init__()
        self.images_per_epoch = images_per_epoch
        self._started = self._trained = None

    def on_epoch_begin(self, epoch, logs=None):
        self._started, self._trained = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        if self._started is not None and self._trained is None:
            self._trained = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or self._started is None:
            return
        seconds = (self._trained or time.perf_counter()) - self._started
        logs["train_seconds"] = seconds
        logs["images_per_second"] = self.images_per_epoch / seconds


class LearningRateLog(keras.callbacks.Callback):
    """Adds `learning_rate` (the optimizer's base rate at the end of the
    epoch, after its schedule) to each epoch's logs, so that the history
    and `curves.png` show it."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            rate = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(rate))


def run_callbacks(run_dir, monitor="val_accuracy", tensorboard=True):
    """A run's callbacks, writing into `run_dir`: a non-finite-loss guard,
    the resumable backup (`checkpoints/`, `history.csv`), the best model
    (`checkpoints/best.keras`) and TensorBoard logs (`logs/`).

    Args:
        run_dir: str. Where the callbacks write.
        monitor: str. The metric the best model follows. Defaults to
            `"val_accuracy"`.
        tensorboard: bool. Add TensorBoard logs. Defaults to `True`.
    """
    backup = ResumableBackup(
        os.path.join(run_dir, "checkpoints"),
        csv_path=os.path.join(run_dir, "history.csv"),
    )
    callbacks = [NonFiniteLossGuard(), backup]
    if monitor:
        callbacks.append(
            BestModelCheckpoint(
                os.path.join(run_dir, "checkpoints", "best.keras"),
                monitor=monitor,
                mode="min" if "loss" in monitor else "max",
                backup=backup,
            )
        )
    if tensorboard:
        callbacks.append(
            keras.callbacks.TensorBoard(
                os.path.join(run_dir, "logs"), write_graph=False
            )
        )
    return callbacks
