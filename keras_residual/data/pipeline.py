"""The one `tf.data` pipeline every source ends in: cache, shuffle,
augment each image (pad-and-crop, plus flips for natural images, and
RandAugment), batch, augment batches (rotation, colour jitter, erasing),
preprocess, optional MixUp/CutMix, `prefetch(AUTOTUNE)`."""

import dataclasses

import keras

from keras_residual.core.preprocessing import MODES
from keras_residual.core.preprocessing import Preprocessing
from keras_residual.core.preprocessing import preprocess
from keras_residual.data.augmentation import Augmentation
from keras_residual.data.balance import balanced_sample

# Seeds of successive epochs under an epoch clock: seed * stride + epoch.
EPOCH_STRIDE = 1_000_003


@dataclasses.dataclass
class Pipeline:
    """Turns an unbatched `(image, label)` dataset into a training or
    evaluation pipeline: decode, cache, shuffle, augment, preprocess,
    batch, mix, prefetch.

    Args:
        batch_size: int. Global batch size.
        size: tuple or None. `(height, width)` to resize to.
        augment: str. `"none"`, `"crop"` or `"crop_flip"`.
        seed: int. Shuffle and augmentation seed.
        cache: bool or str. Cache in memory, or in this file.
        label_mode: str. `"sparse"` or `"categorical"`.
        num_classes: int. For one-hot labels.
        mixup_alpha: float. MixUp strength; 0 is off.
        cutmix_alpha: float. CutMix strength; 0 is off.
        uniform: bool. Make every batch full-size (multi-process).
            Defaults to `False`.
        preprocessing: `Preprocessing`. How the images are scaled.
            Defaults to `"tf"`.
        augmentation: `Augmentation`. Augmentation beyond crop and flip.
            Defaults to `Augmentation()` (none).
        epoch_clock: `tf.Variable` or None. The epoch about to run (set by
            `EpochClock`): when given, each epoch's training order is drawn
            from `(seed, epoch)` rather than from how many epochs this
            dataset has served, so a resumed run sees the batches an
            uninterrupted one would. Defaults to `None`.
    """

    batch_size: int
    size: tuple
    augment: str
    seed: int
    cache: object
    label_mode: str
    num_classes: int
    mixup_alpha: float
    cutmix_alpha: float
    uniform: bool = False
    preprocessing: Preprocessing = MODES["tf"]
    augmentation: Augmentation = Augmentation()
    epoch_clock: object = None

    def __call__(self, dataset, training, size=None, class_counts=None):
        """Returns the batched pipeline over `dataset`, or None.

        Args:
            dataset: `tf.data.Dataset` or None. Unbatched `(image, label)`.
            training: bool. Shuffle, augment and mix.
            size: int or None. Examples in `dataset` (to pad the last batch
                under `uniform`).
            class_counts: sequence of int or None. With counts, training
                draws every class equally often (see `balanced_sample`).
                Defaults to `None`.
        """
        import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

        if dataset is None:
            return None
        dataset = dataset.map(self._decode, num_parallel_calls=tf.data.AUTOTUNE)
        if self.cache:
            dataset = (
                dataset.cache(self.cache)
                if isinstance(self.cache, str)
                else dataset.cache()
            )
        if training:
            dataset = self._shuffled(dataset, class_counts)
            per_image = self._image_augmenter()
            if per_image is not None:
                dataset = dataset.map(per_image, num_parallel_calls=tf.data.AUTOTUNE)
        channels = dataset.element_spec[0].shape[-1]
        per_batch = self._batch_augmenter(channels) if training else None
        if per_batch is None:
            # Per example, so that nothing but prefetching follows the batch
            # (tf.data's batch-size inference, which multi-process Keras
            # needs for padded evaluation batches, stops at a map).
            dataset = dataset.map(self._normalize, num_parallel_calls=tf.data.AUTOTUNE)
        drop_remainder = False
        if self.uniform and training:
            drop_remainder = True
        elif self.uniform:
            dataset, drop_remainder = self._pad(dataset, size)
        dataset = dataset.batch(self.batch_size, drop_remainder=drop_remainder)
        if per_batch is not None:  # augments pixels, then preprocesses
            dataset = dataset.map(per_batch, num_parallel_calls=tf.data.AUTOTUNE)
            dataset = dataset.map(self._normalize, num_parallel_calls=tf.data.AUTOTUNE)
        mixer = self._mixer() if training else None
        if mixer is not None:
            dataset = dataset.map(mixer, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def _shuffled(self, dataset, class_counts):
        """The training order: shuffled, or every class drawn equally often
        (`class_counts`); epoch by epoch from `(seed, epoch)` under an
        `epoch_clock`."""
        import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

        def order(seed):
            if class_counts is not None:
                return balanced_sample(dataset, class_counts, sum(class_counts), seed)
            return dataset.shuffle(4096, seed=seed, reshuffle_each_iteration=True)

        if self.epoch_clock is None:
            return order(self.seed)
        size = sum(class_counts) if class_counts is not None else dataset.cardinality()
        clock = self.epoch_clock

        @tf.autograph.experimental.do_not_convert
        def epoch_order(_):
            # Runs as each epoch's iterator starts, after `EpochClock` set
            # the clock. tf.data refuses a tensor seed beside a global seed
            # of 0 (it tests the pair against (0, 0) in Python), so this
            # function's own graph gets a fixed one; the eager seed is
            # untouched.
            tf.random.set_seed(EPOCH_STRIDE)
            return order(self.seed * EPOCH_STRIDE + clock.read_value())

        keyed = tf.data.Dataset.from_tensors(0).flat_map(epoch_order)
        if class_counts is not None or int(size) >= 0:
            keyed = keyed.apply(tf.data.experimental.assert_cardinality(size))
        return keyed

    def _decode(self, image, label):
        import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

        image = tf.cast(image, tf.float32)
        if self.size is not None and tuple(image.shape[:2]) != self.size:
            image = tf.image.resize(image, self.size)
        label = tf.cast(tf.reshape(label, []), tf.int32)
        return image, label

    def _image_augmenter(self):
        """Pad-and-crop, flip and RandAugment of one image, or None."""
        import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

        layers = self.augmentation.image_layers(self.seed)
        if self.augment == "none" and not layers:
            return None

        @tf.autograph.experimental.do_not_convert  # static Python branches
        def augment(image, label):
            if self.augment != "none":
                shape = tf.shape(image)
                pad = max(int(image.shape[0] or 32) // 8, 1)
                padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
                image = tf.image.random_crop(padded, shape)
            if self.augment == "crop_flip":
                image = tf.image.random_flip_left_right(image)
            for layer in layers:
                image = layer(image, training=True)
            return image, label

        return augment

    def _batch_augmenter(self, channels):
        """Rotation, colour jitter and erasing of a batch, or None.

        Args:
            channels: int. The images' channels.
        """
        import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

        layers = self.augmentation.batch_layers(channels, self.seed)
        if not layers:
            return None

        @tf.autograph.experimental.do_not_convert  # a static loop
        def augment(images, *rest):
            for layer in layers:
                images = layer(images, training=True)
            return (images, *rest)

        return augment

    def _normalize(self, images, labels, *weights):
        import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

        images = preprocess(tf.cast(images, tf.float32), self.preprocessing)
        if self.label_mode == "categorical":
            labels = tf.one_hot(labels, self.num_classes)
        return (images, labels, *weights)

    def _pad(self, dataset, size):
        """Appends zero-weight copies of the first example so that `size`
        examples fill whole batches. Without a known size, the last partial
        batch is dropped instead."""
        if size is None:
            return dataset, True
        dataset = dataset.map(lambda image, label: (image, label, 1.0))
        missing = -size % self.batch_size
        if missing:
            filler = dataset.take(1).map(
                lambda image, label, weight: (image, label, 0.0)
            )
            dataset = dataset.concatenate(filler.repeat(missing))
        return dataset, False

    def _mixer(self):
        layers = []
        if self.mixup_alpha > 0:
            layers.append(
                keras.layers.MixUp(alpha=self.mixup_alpha, seed=self.seed, name="mixup")
            )
        if self.cutmix_alpha > 0:
            layers.append(
                keras.layers.CutMix(
                    factor=self.cutmix_alpha, seed=self.seed, name="cutmix"
                )
            )
        if not layers:
            return None

        def mix(images, labels):
            data = {"images": images, "labels": labels}
            for layer in layers:
                data = layer(data)
            return data["images"], data["labels"]

        return mix


def new_epoch_clock():
    """A fresh epoch counter for `Pipeline.epoch_clock`."""
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    return tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch_clock")
