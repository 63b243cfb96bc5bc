"""Small helpers every layer of the package may use: argument validation,
named registries, atomic file writes and hash-checked downloads.

Nothing here imports other subpackages of keras_residual.
"""
