"""Benchmark scripts: figures measured side by side with a peer in one run."""
