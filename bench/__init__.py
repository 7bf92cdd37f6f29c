"""Benchmarks (`make bench-*`): measured numbers printed beside the predecessor's figures."""
