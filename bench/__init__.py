"""Benchmarks (run as scripts, not imported by the app)."""
