"""The thread policy (repalign._threads): one thread by default, a `threads` setting, nothing left changed."""

import numpy as np
import pytest
import torch

import repalign
from repalign import experiments
from repalign._checks import SettingsError
from repalign._threads import DEFAULT_THREADS, limit_threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def blas_threads() -> set[int]:
    """The thread counts of the BLAS libraries numpy and scipy loaded (threadpoolctl's view)."""
    return {info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"}


@pytest.fixture
def two_threads():
    """A caller that runs on two torch and BLAS threads (restored after the test)."""
    previous = torch.get_num_threads()
    limits = threadpoolctl.threadpool_limits(limits=2, user_api="blas")
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)
    limits.restore_original_limits()


class ThreadCount:
    """A tracker that records the torch and BLAS thread counts it runs under."""

    name = "threads"

    def __init__(self):
        self.seen = set()

    def __call__(self, reference, Y):
        self.seen.add((torch.get_num_threads(), frozenset(blas_threads())))
        return torch.zeros(len(Y))


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(20, 4)) * [3.0, 2.0, 1.0, 0.5]


def test_limit_threads_sets_the_count_inside_and_restores_it_after(two_threads):
    assert torch.get_num_threads() == 2 and blas_threads() == {2}
    with limit_threads(1) as count:
        assert count == 1 and torch.get_num_threads() == 1 and blas_threads() == {1}
        with limit_threads(3):
            assert torch.get_num_threads() == 3 and blas_threads() == {3}
        assert torch.get_num_threads() == 1 and blas_threads() == {1}
    assert torch.get_num_threads() == 2 and blas_threads() == {2}


def test_limit_threads_restores_after_an_exception(two_threads):
    with pytest.raises(KeyError), limit_threads(1):
        raise KeyError("inside")
    assert torch.get_num_threads() == 2 and blas_threads() == {2}


def test_none_is_the_enclosing_count_else_the_default(two_threads):
    with limit_threads(None) as count:
        assert count == DEFAULT_THREADS == 1 and torch.get_num_threads() == 1
    with limit_threads(3), limit_threads(None) as inner:
        assert inner == 3 and torch.get_num_threads() == 3
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_invalid_counts_raise_naming_threads(X, threads):
    for call in (lambda: limit_threads(threads).__enter__(),
                 lambda: repalign.optimize(X, "cka", max_steps=1, threads=threads),
                 lambda: repalign.OptimizeSettings(threads=threads),
                 lambda: experiments.run("compare", {"x": X, "y": X, "measures": ["cka"]}, threads=threads)):
        with pytest.raises(SettingsError, match=r"^threads: expected an integer >= 1") as error:
            call()
        assert error.value.argument == "threads"


def test_optimize_runs_on_one_thread_by_default_and_restores_the_callers(X, two_threads):
    tracker = ThreadCount()
    result = repalign.optimize(X, "cka", max_steps=3, record_every=1, trackers=[tracker])
    assert tracker.seen == {(1, frozenset({1}))} and result.settings["threads"] == 1
    assert torch.get_num_threads() == 2 and blas_threads() == {2}
    tracker = ThreadCount()
    repalign.optimize(X, "cka", max_steps=3, record_every=1, trackers=[tracker], threads=3)
    assert tracker.seen == {(3, frozenset({3}))}
    assert torch.get_num_threads() == 2 and blas_threads() == {2}


def test_optimize_restores_the_callers_threads_after_an_exception(X, two_threads):
    def failing(reference, Y):
        raise RuntimeError("tracker failed")

    with pytest.raises(RuntimeError, match="tracker failed"):
        repalign.optimize(X, "cka", max_steps=3, trackers=[failing])
    assert torch.get_num_threads() == 2 and blas_threads() == {2}


def test_experiments_run_under_their_threads_setting_and_optimize_follows_it(X, monkeypatch, two_threads):
    compare = experiments._module("compare")
    seen = []
    real = compare.run

    def spy(settings, out=None):
        tracker = ThreadCount()
        repalign.optimize(X, "cka", max_steps=1, trackers=[tracker])  # threads=None: the experiment's count
        seen.append((torch.get_num_threads(), tracker.seen))
        return real(settings, out)

    monkeypatch.setattr(compare, "run", spy)
    data = repalign.data.Dataset(X)
    experiments.run("compare", {"x": data, "y": data, "measures": ["cka"]})
    experiments.run("compare", {"x": data, "y": data, "measures": ["cka"]}, threads=3)
    assert seen == [(1, {(1, frozenset({1}))}), (3, {(3, frozenset({3}))})]
    assert torch.get_num_threads() == 2 and blas_threads() == {2}


def test_command_line_threads_option(tmp_path, capsys, monkeypatch, two_threads):
    from repalign.cli import main

    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).normal(size=(20, 4)))
    compare = experiments._module("compare")
    seen = []
    real = compare.run
    monkeypatch.setattr(compare, "run", lambda settings, out=None: seen.append(torch.get_num_threads())
                        or real(settings, out))
    assert main(["compare", str(path), str(path), "-m", "cka", "--threads", "3"]) == 0
    assert main(["compare", str(path), str(path), "-m", "cka"]) == 0
    assert seen == [3, 1] and torch.get_num_threads() == 2
    capsys.readouterr()
    assert main(["compare", str(path), str(path), "--threads", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --threads: expected an integer >= 1, got 0")
