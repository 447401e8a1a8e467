"""Every code example of README.md runs, so that the README cannot drift from the library.

The ```python blocks run in order in one namespace (later blocks use names of earlier ones), in a
temporary folder. The ```bash blocks' ``repalign`` lines run through the command line's entry point
in the same folder, on files made here: ``X.npy`` and ``Y.npz`` (two populations, ``Y.npz:model``)
and ``data.npz`` (a saved Dataset), beside a copy of ``examples/`` (the sweep's spec). The set-up
lines (``make ...``) are not run by the suite: they
are what runs it.
"""

import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"```(python|bash)\n(.*?)```", re.DOTALL)

pytestmark = pytest.mark.slow


def blocks(language: str) -> list[str]:
    return [code for lang, code in BLOCK.findall(README.read_text()) if lang == language]


def test_the_readme_has_examples():
    assert len(blocks("python")) >= 6 and len(blocks("bash")) >= 2


def test_python_examples_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme"}
    for number, code in enumerate(blocks("python")):
        try:
            exec(compile(code, f"README.md python block {number}", "exec"), namespace)  # noqa: S102
        except Exception as error:  # noqa: BLE001 -- say which block failed
            pytest.fail(f"README python block {number} raised {error!r}:\n{code}")
    assert (tmp_path / "figures" / "optimization.png").exists() and (tmp_path / "results" / "perturb").is_dir()


def _command_lines() -> list[str]:
    lines = []
    for code in blocks("bash"):
        for line in code.splitlines():
            command = line.split("  #")[0].strip()
            if command.startswith("repalign "):
                lines.append(command)
    return lines


def test_command_line_examples_run(tmp_path, monkeypatch, capsys):
    from repalign.cli import main
    from repalign.data import mante_like

    monkeypatch.chdir(tmp_path)
    shutil.copytree(README.parent / "examples", tmp_path / "examples")  # the sweep's spec
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8))
    np.save("X.npy", x)
    np.savez("Y.npz", model=np.hstack([x[:, :5] + 0.2 * rng.normal(size=(300, 5)), rng.normal(size=(300, 5))]),
             other=x)
    mante_like(n_units=30, n_time=4, seed=0).save("data.npz")
    lines = _command_lines()
    assert len(lines) >= 8
    for line in lines:
        code = main(shlex.split(line)[1:])
        assert code == 0, f"README command {line!r} exited with {code}:\n{capsys.readouterr().err}"
