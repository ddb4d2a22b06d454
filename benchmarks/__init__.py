"""Benchmarks: repeatable commands that print speed and quality figures.

Each module runs with `python -m benchmarks.<name>`; `--record` also writes
the output to benchmarks/results/<name>.txt, which the book includes.
"""
