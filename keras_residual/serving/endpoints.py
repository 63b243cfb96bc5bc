"""The names of the serving signatures and their inputs and outputs, shared
by the exporter and every reader of an export (no imports, so a reader
loads nothing else)."""

# The formats `export()` writes.
FORMATS = ("saved_model", "keras", "tflite", "onnx")

# `images` (uint8 of any size, or the model's float input) -> outputs.
SERVE_SIGNATURE = "serving_default"
SERVE_ENDPOINTS = ("serve", SERVE_SIGNATURE)
# `inputs` (float, already preprocessed) -> outputs: the model alone.
PREPROCESSED_ENDPOINT = "serve_preprocessed"

IMAGES_INPUT = "images"
# An audio model's served input: int16 PCM samples (batch, samples).
AUDIO_INPUT = "audio"
PREPROCESSED_INPUT = "inputs"
PROBABILITIES_OUTPUT = "probabilities"
FEATURES_OUTPUT = "features"
TOP_K_CLASSES_OUTPUT = "top_k_classes"
TOP_K_SCORES_OUTPUT = "top_k_scores"
