"""GPU benchmarks: Keras on JAX against PyTorch, run where a GPU is lent."""
