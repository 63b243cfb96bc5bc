"""Fine-tuning that never ends worse than where it started.

- **The start is a candidate.** The model phase 2 receives (the pretrained
  backbone with its fitted linear probe, or the pretrained model itself
  when its classifier is kept) is scored on the validation images and
  saved as `checkpoints/start.keras`; a fine-tune that does not beat it
  there ends with it (`keep_start`).
- **A divergence guard.** When phase 2's validation loss rises far above
  the start's (`DIVERGENCE_FACTOR` times, and `DIVERGENCE_MARGIN` above
  it at least), or a training loss is not finite, the weights roll back to the
  best epoch so far (the start included) and phase 2 goes on at a tenth of
  the rate (`ROLLBACK_RATE_FACTOR`), once; `checkpoints/rollback.json`
  keeps the decision, so a resumed run trains at the same rate.
"""

import dataclasses
import os

import keras
import numpy as np

from keras_residual.training.runs import load_saved_weights
from keras_residual.utils.atomic import save_keras
from keras_residual.utils.atomic import write_json
from keras_residual.utils.strict_parsing import read_json_file

# A validation loss this many times the start's, and at least
# DIVERGENCE_MARGIN above it, is a divergence (the margin keeps a start
# loss near 0 from making noise a divergence).
DIVERGENCE_FACTOR = 3.0
DIVERGENCE_MARGIN = 1.0
# The rate of phase 2 after a rollback, as a fraction of its own.
ROLLBACK_RATE_FACTOR = 0.1
START_FILE = "start.keras"
ROLLBACK_FILE = "rollback.json"
_RECORD_BYTES = 1 << 16


@dataclasses.dataclass(frozen=True)
class StartScore:
    """The validation figures of the model phase 2 starts from.

    Args:
        accuracy: float. Validation accuracy.
        loss: float. Validation loss.
        images: int or None. Validation images, where known.
    """

    accuracy: float
    loss: float
    images: int = None


def score_start(network, validation, images=None, label_smoothing=0.0):
    """Scores `network` on the validation batches with the loss `fit`
    reports as `val_loss` (the run's, label smoothing included), and
    returns a `StartScore`; None without validation.

    Args:
        network: `keras.Model`. The model phase 2 starts from.
        validation: `tf.data.Dataset` or None. Validation batches.
        images: int or None. Validation images. Defaults to `None`.
        label_smoothing: float. The run's. Defaults to `0.0`.
    """
    if validation is None:
        return None
    from keras_residual.core.heads import head_outputs_logits
    from keras_residual.training.losses import ClassificationCrossentropy

    crossentropy = ClassificationCrossentropy(
        from_logits=head_outputs_logits(network),
        label_smoothing=label_smoothing,
        reduction=None,
    )
    hits = total = loss_sum = 0.0
    for batch in validation.as_numpy_iterator():
        inputs, labels = batch[0], batch[1]
        weights = batch[2] if len(batch) > 2 else np.ones(len(labels), "float32")
        outputs = network(inputs, training=False)
        truth = labels if labels.ndim == 1 else np.argmax(labels, -1)
        losses = keras.ops.convert_to_numpy(
            crossentropy(labels, keras.ops.cast(outputs, "float32"))
        ).reshape(-1)
        predicted = np.argmax(keras.ops.convert_to_numpy(outputs), -1)
        hits += float(np.sum((predicted == truth.reshape(-1)) * weights))
        loss_sum += float(np.sum(losses * weights))
        total += float(np.sum(weights))
    if total == 0:
        return None
    return StartScore(hits / total, loss_sum / total, images)


def save_start(network, run_dir, score):
    """Saves the start model (`checkpoints/start.keras`) and its score
    (`checkpoints/start.json`).

    Args:
        network: `keras.Model`. The model phase 2 starts from.
        run_dir: str. The run directory.
        score: `StartScore`. Its validation figures.
    """
    folder = os.path.join(run_dir, "checkpoints")
    os.makedirs(folder, exist_ok=True)
    save_keras(network, os.path.join(folder, START_FILE))
    write_json(os.path.join(folder, "start.json"), dataclasses.asdict(score))


def read_start(run_dir):
    """The saved start score of a run, or None when there is none.

    Args:
        run_dir: str. The run directory.
    """
    path = os.path.join(run_dir, "checkpoints", "start.json")
    if not os.path.isfile(path) or not os.path.isfile(
        os.path.join(run_dir, "checkpoints", START_FILE)
    ):
        return None
    record = read_json_file(path, "the start model's score", _RECORD_BYTES)
    try:
        return StartScore(
            float(record["accuracy"]), float(record["loss"]), record.get("images")
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ValueError(
            f"{path!r} is not a start score (accuracy, loss); start the run again."
        ) from None


def fine_tune_beats_start(last, start):
    """Whether phase 2's kept epoch beats the start on the same validation
    images: more of them right, or as many with a lower loss. (A margin of
    one standard error in the start's favour would, on the 9-50 images of
    a small validation split, keep the probe however good the fine-tune;
    the two are scored on the same images, so their difference is far
    less noisy than either.)

    Args:
        last: dict. The kept epoch's history row.
        start: `StartScore`. The start's figures.
    """
    accuracy = last.get("val_accuracy")
    if accuracy is None:
        return True
    one_image = 0.5 / start.images if start.images else 1e-6
    if accuracy > start.accuracy + one_image:
        return True
    if accuracy < start.accuracy - one_image:
        return False
    loss = last.get("val_loss")
    return loss is None or loss <= start.loss


def keep_start(model, rows, kept_epoch, run_dir):
    """Ends a fine-tune with the start model when its kept epoch does not
    beat it (see `fine_tune_beats_start`), and says so.

    Args:
        model: `keras.Model`. The trained model, holding `kept_epoch`.
        rows: list of dict. The history.
        kept_epoch: int or None. The epoch the model holds.
        run_dir: str. The run directory.

    Returns:
        The epoch the model now holds: 0 for the start.
    """
    start = read_start(run_dir)
    row = next((r for r in rows if r.get("epoch") == kept_epoch), None)
    if start is None or row is None or fine_tune_beats_start(row, start):
        return kept_epoch
    load_saved_weights(model, os.path.join(run_dir, "checkpoints", START_FILE))
    print(
        f"Fine-tuning did not beat its start on validation (epoch {kept_epoch}: "
        f"{row.get('val_accuracy', float('nan')):.4f} accuracy, loss "
        f"{row.get('val_loss', float('nan')):.4f}; start: {start.accuracy:.4f}, "
        f"loss {start.loss:.4f}): keeping the start model (the pretrained "
        "backbone with its fitted classifier) for the test figures, "
        "model.keras and the export.",
        flush=True,
    )
    return 0


class DivergenceGuard(keras.callbacks.Callback):
    """Stops phase 2 when its validation loss exceeds `DIVERGENCE_FACTOR`
    times the start's (and by `DIVERGENCE_MARGIN` at least), or a training
    loss is not finite, after restoring
    the weights of the lowest validation loss so far (the start's
    included). Place it before the
    checkpoint callbacks, so that they save the restored weights.

    Args:
        start: `StartScore`. The start's validation figures.

    Attributes:
        diverged_at: int or None. The 1-based epoch it stopped at.
    """

    def __init__(self, start):
        super().__init__()
        self.start = start
        self.best_loss = start.loss
        self.best_epoch = 0
        self._best_weights = None
        self._epoch = 0
        self.diverged_at = None

    @property
    def threshold(self):
        """The validation loss above which phase 2 has diverged."""
        return max(
            DIVERGENCE_FACTOR * self.start.loss, self.start.loss + DIVERGENCE_MARGIN
        )

    def on_train_begin(self, logs=None):
        self._best_weights = [np.array(w) for w in self.model.get_weights()]

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if self.diverged_at is None and loss is not None and not np.isfinite(loss):
            self._roll_back(self._epoch, float(loss), "training loss")

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("val_loss")
        if loss is None or self.diverged_at is not None:
            return
        if np.isfinite(loss) and loss < self.best_loss:
            self.best_loss, self.best_epoch = float(loss), epoch + 1
            self._best_weights = [np.array(w) for w in self.model.get_weights()]
            return
        if np.isfinite(loss) and loss <= self.threshold:
            return
        self._roll_back(epoch, loss, "validation loss")

    def _roll_back(self, epoch, loss, what):
        self.diverged_at = epoch + 1
        self.model.set_weights(self._best_weights)
        self.model.stop_training = True
        where = "the start" if self.best_epoch == 0 else f"epoch {self.best_epoch}"
        going_on = epoch + 1 < self.params.get("epochs", epoch + 1)
        print(
            f"The {what} rose to {loss:.4g} at epoch {epoch + 1} (the start's "
            f"validation loss: {self.start.loss:.4g}; the limit: "
            f"{self.threshold:.4g}): rolled back to {where}'s weights"
            + (
                f"; phase 2 goes on at {ROLLBACK_RATE_FACTOR:g}x its rate."
                if going_on
                else "."
            ),
            flush=True,
        )


def write_rollback(run_dir, epoch):
    """Records a rollback at `epoch` (`checkpoints/rollback.json`).

    Args:
        run_dir: str. The run directory.
        epoch: int. The completed epochs phase 2 goes on from.
    """
    write_json(
        os.path.join(run_dir, "checkpoints", ROLLBACK_FILE),
        {"epoch": int(epoch), "rate_factor": ROLLBACK_RATE_FACTOR},
    )


def read_rollback(run_dir):
    """The epoch of a recorded rollback, or None.

    Args:
        run_dir: str. The run directory.
    """
    path = os.path.join(run_dir, "checkpoints", ROLLBACK_FILE)
    if not os.path.isfile(path):
        return None
    record = read_json_file(path, "the rollback record", _RECORD_BYTES)
    epoch = record.get("epoch") if isinstance(record, dict) else None
    if type(epoch) is not int or epoch < 0:
        raise ValueError(f"{path!r} holds no rollback epoch; start the run again.")
    return epoch
