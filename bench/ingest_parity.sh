#!/bin/bash
# Decisions unchanged by a change to the ingest path: ingest a 400-person province (one HOSO per file: group
# commit) plus a 150-person one (files of 5 HOSO), then the first again, into a fresh SQLite store; export the
# links and dump the rows of every table (timestamps aside, bench/dump_store.py). Run it with the code
# before and after the change and diff the two output folders: links.csv and rows.txt must be identical.
# usage: bench/ingest_parity.sh WORKTREE OUTDIR [DATADIR]   (MPI=... replaces the `mpi` command)
set -euo pipefail
WT=$(cd "$1" && pwd); OUT=$2; DATA=${3:-$(dirname "$OUT")/parity-data}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
if [ ! -d "$DATA/a" ]; then
  "$WT/.venv/bin/mpi" synth --persons 400 --seed 3 --out "$DATA/a" >/dev/null
  "$WT/.venv/bin/mpi" synth --persons 150 --seed 4 --batch 5 --out "$DATA/b" >/dev/null
fi
rm -f "$OUT"/store.sqlite3*
MPI=${MPI:-$WT/.venv/bin/mpi}
export MPI_DATABASE_URL="sqlite:///$OUT/store.sqlite3"
cd "$WT"
$MPI ingest "$DATA/a" --json > "$OUT/a.json" || true
$MPI ingest "$DATA/b" --json > "$OUT/b.json" || true
$MPI ingest "$DATA/a" --json > "$OUT/a2.json" || true
$MPI export links --out "$OUT/links.csv"
"$WT/.venv/bin/python" "$WT/bench/dump_store.py" "$OUT/store.sqlite3" > "$OUT/rows.txt"
wc -l "$OUT/links.csv" "$OUT/rows.txt"
