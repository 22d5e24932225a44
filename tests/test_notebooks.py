"""The notebooks (jupytext percent format) execute end to end on small data, and print no record."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["training.py", "evaluation.py"])
def test_notebook_executes(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jupytext
    from nbclient import NotebookClient

    monkeypatch.setenv("MPI_NB_PERSONS", "200")
    monkeypatch.setenv("MPI_NB_FIGURES", str(tmp_path / "figures"))
    monkeypatch.delenv("MPI_NB_LINKS", raising=False)
    notebook = jupytext.read(NOTEBOOKS / name)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    if name == "evaluation.py":
        assert (tmp_path / "figures" / "threshold_curve.svg").stat().st_size > 10_000
