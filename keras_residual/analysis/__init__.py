"""Looking inside models: FLOP counts, per-block gradient norms, highway
gate telemetry and PNG plots."""

from keras_residual.analysis.diagnostics import block_gradient_norms
from keras_residual.analysis.flops import count_flops
from keras_residual.analysis.flops import count_macs
from keras_residual.analysis.plots import plot_history
from keras_residual.analysis.telemetry import GateTelemetry
from keras_residual.analysis.telemetry import gate_activations
from keras_residual.analysis.telemetry import plot_gate_activations
