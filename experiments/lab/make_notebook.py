"""Generate lab.ipynb from lab.py, so the notebook and the script never drift apart.

    python make_notebook.py          # rewrite lab.ipynb
    python make_notebook.py --check  # exit 1 if lab.ipynb is not what lab.py gives

lab.py is the source, in the "percent" format that Jupytext, VS Code and Spyder understand:
``# %%`` starts a code cell, ``# %% [markdown]`` a Markdown cell whose lines are comments.
The notebook is written without outputs, so it diffs cleanly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "lab.py"
NOTEBOOK = HERE / "lab.ipynb"


def cells(source: str) -> list[tuple[str, str]]:
    """Split a percent-format script into ``(kind, text)`` cells, kind code or markdown."""
    out: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        if line.startswith("# %%"):
            out.append(("markdown" if "[markdown]" in line else "code", []))
            continue
        if not out:
            if line.strip():
                raise ValueError(f"{SOURCE.name}: text before the first '# %%' line: {line!r}")
            continue
        kind, lines = out[-1]
        if kind == "markdown":
            if line.strip() and not line.startswith("#"):
                raise ValueError(f"{SOURCE.name}: markdown line is not a comment: {line!r}")
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        else:
            lines.append(line)
    result = []
    for kind, lines in out:
        text = "\n".join(lines).strip("\n")
        if text:
            result.append((kind, text))
    return result


def notebook(source: str) -> dict[str, Any]:
    """The nbformat 4.5 notebook of ``source`` (no outputs)."""
    nb_cells = []
    for i, (kind, text) in enumerate(cells(source)):
        lines = text.split("\n")
        cell: dict[str, Any] = {
            "cell_type": kind, "id": f"cell-{i:02d}", "metadata": {},
            "source": [line + "\n" for line in lines[:-1]] + [lines[-1]],
        }
        if kind == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        nb_cells.append(cell)
    return {
        "cells": nb_cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def render(source: str) -> str:
    return json.dumps(notebook(source), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render(SOURCE.read_text(encoding="utf-8"))
    if args == ["--check"]:
        current = NOTEBOOK.read_text(encoding="utf-8") if NOTEBOOK.exists() else ""
        if current != text:
            print(f"{NOTEBOOK.name} is out of date: run python make_notebook.py",
                  file=sys.stderr)
            return 1
        return 0
    if args:
        print("usage: python make_notebook.py [--check]", file=sys.stderr)
        return 2
    NOTEBOOK.write_text(text, encoding="utf-8")
    print(f"wrote {NOTEBOOK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
