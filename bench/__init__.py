"""Benchmarks (`make bench`) and fault drills (`make chaos`) against the Graph sandbox.

Not part of `make test`: they time whole runs on a real server process. See README.md,
"Benchmarks and fault drills".
"""
