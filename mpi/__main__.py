"""``python -m mpi`` runs the command line."""

from mpi.cli import app

app()
