"""Looking inside models: FLOP counts, per-block gradient norms, highway
gate telemetry, Grad-CAM and attention rollout, and PNG plots."""

from keras_residual.analysis.diagnostics import block_gradient_norms
from keras_residual.analysis.flops import count_flops
from keras_residual.analysis.flops import count_macs
from keras_residual.analysis.plots import plot_history
from keras_residual.analysis.saliency import attention_rollout
from keras_residual.analysis.saliency import explain
from keras_residual.analysis.saliency import grad_cam
from keras_residual.analysis.saliency import save_overlays
from keras_residual.analysis.telemetry import GateTelemetry
from keras_residual.analysis.telemetry import gate_activations
from keras_residual.analysis.telemetry import plot_gate_activations
