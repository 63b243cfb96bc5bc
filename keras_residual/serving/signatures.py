"""Serving signatures: a `tf.Module`-free `ExportArchive` whose endpoints
take uint8 images of any size and return float32 probabilities and top-k
classes, with the model's preprocessing inside the graph.

Endpoints (each also a SavedModel signature):

- `serve` and `serving_default`: `images` uint8 `(batch, height, width,
  channels)`, any height and width (resized bilinearly inside) ->
  `probabilities` float32 `(batch, classes)`, `top_k_classes` int32 and
  `top_k_scores` float32 `(batch, k)`. A model without a classifier returns
  `features` instead. With `preprocessing="none"`, `images` is the model's own
  float32 input instead.
- `serve_preprocessed`: `inputs` float32 with the model's input shape,
  already preprocessed -> `probabilities` (or `features`); the model alone,
  for exact comparisons with `model.predict`.

The model part is traced by the active Keras backend (jax2tf on JAX); the
preprocessing and top-k parts are TensorFlow ops, so a client needs
TensorFlow (or TF Serving / TFLite) and nothing else.
"""

import keras

from keras_residual.core.heads import head_outputs_logits
from keras_residual.core.heads import is_classifier
from keras_residual.core.preprocessing import as_preprocessing
from keras_residual.core.preprocessing import preprocess
from keras_residual.serving.endpoints import AUDIO_INPUT
from keras_residual.serving.endpoints import FEATURES_OUTPUT
from keras_residual.serving.endpoints import IMAGES_INPUT
from keras_residual.serving.endpoints import PREPROCESSED_ENDPOINT
from keras_residual.serving.endpoints import PREPROCESSED_INPUT
from keras_residual.serving.endpoints import PROBABILITIES_OUTPUT
from keras_residual.serving.endpoints import SERVE_ENDPOINTS
from keras_residual.serving.endpoints import TOP_K_CLASSES_OUTPUT
from keras_residual.serving.endpoints import TOP_K_SCORES_OUTPUT
from keras_residual.utils.validation import check_int


def preprocess_uint8(images, mode, image_size):
    """TensorFlow preprocessing of a uint8 batch, as the model was trained:
    the central `crop_fraction` of each image, resized with the
    preprocessing's `interpolation`, then scaled.

    Args:
        images: `tf.Tensor`. uint8 `(batch, height, width, channels)`.
        mode: str, dict or `Preprocessing`. `"tf"` ([-1, 1]), `"caffe"`
            (BGR, ImageNet mean subtracted), `"torch"` ([0, 1], ImageNet
            mean and std), as in `keras.applications`' `preprocess_input`,
            or any other `Preprocessing`.
        image_size: tuple of int. `(height, width)` to resize to.

    Returns:
        A float32 `tf.Tensor` of shape `(batch, *image_size, channels)`.
    """
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    spec = as_preprocessing(mode, "mode")
    x = tf.cast(images, tf.float32)
    if spec.crop_fraction < 1.0:
        x = _central_crop(x, spec.crop_fraction)
    x = tf.image.resize(x, image_size, method=spec.interpolation)
    return preprocess(x, spec, channels_first=False)


def _central_crop(images, fraction):
    """The central `fraction` of each image's height and width (at least
    one pixel), in float32 and int32 ops that TFLite has (unlike
    `tf.image.central_crop`'s float64 arithmetic and asserts)."""
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    shape = tf.shape(images)
    sizes = tf.cast(shape[1:3], tf.float32) * fraction
    kept = tf.maximum(tf.cast(tf.round(sizes), tf.int32), 1)
    start = (shape[1:3] - kept) // 2
    end = start + kept
    return images[:, start[0] : end[0], start[1] : end[1], :]


def _endpoint_inputs(model, preprocessing, image_size):
    """`(model input spec, served input spec, served -> model input)`: for
    an audio model, int16 samples `(batch, samples)` of any length, cast;
    for an image model, uint8 images of any size through `preprocessing`
    (or, without it, the model's own float input)."""
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    if image_size is None:  # an audio model
        return (
            tf.TensorSpec((None, None), tf.float32, name=PREPROCESSED_INPUT),
            tf.TensorSpec((None, None), tf.int16, name=AUDIO_INPUT),
            lambda samples: tf.cast(samples, tf.float32),
        )
    channels = model.input_shape[-1]
    model_spec = tf.TensorSpec(
        (None, *image_size, channels), tf.float32, name=PREPROCESSED_INPUT
    )
    if preprocessing is None:
        served = tf.TensorSpec(
            (None, *image_size, channels), tf.float32, name=IMAGES_INPUT
        )
        return model_spec, served, lambda images: images
    served = tf.TensorSpec((None, None, None, channels), tf.uint8, name=IMAGES_INPUT)
    return (
        model_spec,
        served,
        lambda images: preprocess_uint8(images, preprocessing, image_size),
    )


def build_archive(
    model, *, preprocessing, image_size, top_k, serve_names=SERVE_ENDPOINTS
):
    """Returns a `keras.export.ExportArchive` with the serving endpoints.

    Args:
        model: `keras.Model`. A float32 model with one image input.
        preprocessing: `Preprocessing` or None. What the uint8 endpoints
            apply; None for a signature that takes the model's input as
            it is.
        image_size: tuple of int or None. `(height, width)` the model
            sees; None for an audio model (served int16 samples).
        top_k: int. Classes returned per image by `serve`.
        serve_names: tuple of str. Names of the uint8 endpoint. Defaults to
            `("serve", "serving_default")`.
    """
    import tensorflow as tf  # lazy: `import keras_residual` on JAX skips TF

    preprocessing = as_preprocessing(preprocessing)
    classifier = is_classifier(model)
    if classifier:
        top_k = check_int("top_k", top_k, minimum=1, maximum=model.output.shape[-1])
    softmax = classifier and head_outputs_logits(model)
    output_name = PROBABILITIES_OUTPUT if classifier else FEATURES_OUTPUT

    def model_part(inputs):
        outputs = keras.ops.cast(model(inputs, training=False), "float32")
        if softmax:
            outputs = keras.ops.softmax(outputs, axis=-1)
        return {output_name: outputs}

    archive = keras.export.ExportArchive()
    if keras.backend.backend() == "jax":
        archive.track(model)  # jax2tf endpoints read the tracked variables
    input_spec, images_spec, to_model = _endpoint_inputs(
        model, preprocessing, image_size
    )
    model_endpoint = archive.add_endpoint(
        PREPROCESSED_ENDPOINT, model_part, input_signature=[input_spec]
    )

    @tf.function(input_signature=[images_spec], autograph=False)
    def serve(images):
        inputs = to_model(images)
        outputs = dict(model_endpoint(inputs))
        if classifier:
            scores, classes = tf.math.top_k(outputs[output_name], k=top_k)
            outputs[TOP_K_SCORES_OUTPUT] = scores
            outputs[TOP_K_CLASSES_OUTPUT] = tf.cast(classes, tf.int32)
        return outputs

    serve.get_concrete_function()
    for name in serve_names:
        archive.add_endpoint(name, serve)
    return archive
