"""The Hugging Face Hub and keras-hub in one place: Hub ids (`hf-hub:` /
`hf://`, timm's `config.json`), downloading Hub files, the preset format
(read: `load_preset`, `weights=`; write: `save_to_preset`), publishing
(`push_to_hub`), and keras-hub presets in and out (`from_keras_hub`,
`to_keras_hub`; each family's mapping registers itself from its model
module)."""

from keras_residual.utils.lazy_exports import lazy_exports

_EXPORTS = {
    "fetch_hub_file": "keras_residual.hub.files",
    "from_keras_hub": "keras_residual.hub.keras_hub",
    "is_hub_id": "keras_residual.hub.ids",
    "load_preset": "keras_residual.hub.preset_format",
    "PresetOptions": "keras_residual.hub.hub_options",
    "PushOptions": "keras_residual.hub.hub_options",
    "push_to_hub": "keras_residual.hub.push",
    "save_to_preset": "keras_residual.hub.preset_writer",
    "to_keras_hub": "keras_residual.hub.keras_hub",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
