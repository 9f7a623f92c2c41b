"""Benchmarks, their scoring, and the evaluation harness, one job per module: ``benchmarks`` (the
registry and its loaders), ``metrics`` (scoring answers), ``specs`` (settings and their labels),
``baselines`` (plain text decoding), ``runner`` (runs into resumable results files), ``reports``
(tables from those files), ``plots`` (the N x M grid) and ``agent_eval`` (agent graphs on API-Bank
level 1, their calls executed)."""
