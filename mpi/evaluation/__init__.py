"""Measuring the MPI against a ground truth, outside the runtime path.

- :mod:`mpi.evaluation.report`: pairwise and cluster figures of `mpi export links` against a truth table,
  beside the CCCD-exact and default-Splink baselines and FEBRL (`mpi evaluate`);
- :mod:`mpi.evaluation.calibration`: the threshold curve the link thresholds are read from (`mpi calibrate`);
- :mod:`mpi.evaluation.commands`: those two commands.

The links export they read is written by :mod:`mpi.identity.export` (the API and the Parquet lake read
the same query). The linkage-level metrics live in :mod:`linkage.metrics`.
"""
