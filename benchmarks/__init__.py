"""Benchmarks: ppl against its peers, side by side (see DESIGN.md section 9).

Run one with ``python -m benchmarks.nuts``; results go to ``benchmarks/results/``.
Peers (PyMC, hand-written NumPyro/Pyro) are optional extras, never runtime
dependencies of ppl.
"""
