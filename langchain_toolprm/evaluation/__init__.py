"""Benchmarks, their scoring, and the evaluation harness."""
