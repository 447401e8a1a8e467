"""Progress off a terminal: plain lines at a bounded rate (a fake stream and a fake clock), tqdm in a terminal."""

import io
import sys
import types

import numpy as np

from repalign import _checks, optimize
from repalign._checks import ProgressLog, progress_bar


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class NotATerminal(io.StringIO):
    def isatty(self):
        return False


def test_lines_come_at_most_every_ten_seconds_plus_the_last():
    clock, out = Clock(), io.StringIO()
    log = ProgressLog(total=1000, description="optimize", unit="step", stream=out, clock=clock)
    for _ in range(1000):  # 1/16 s a step (exact in binary): 62.5 s in all
        clock.now += 0.0625
        log.update(1)
    log.close()
    log.close()  # once only
    lines = out.getvalue().splitlines()
    times = [float(line.split(", ")[1].removesuffix(" s")) for line in lines]
    assert times == [10, 20, 30, 40, 50, 60, 62.5]  # every 10 s, then the last
    assert lines[0] == "optimize: 160/1000 step (16%), 10.0 s, about 52 s left"
    assert lines[-1] == "optimize: 1000/1000 step (100%), 62.5 s"


def test_short_work_prints_nothing_unless_asked():
    clock, out = Clock(), io.StringIO()
    log = ProgressLog(range(50), total=50, description="L-curve", stream=out, clock=clock)
    for _ in log:  # exhausting the iterable closes it
        clock.now += 0.1
    assert out.getvalue() == ""  # 5 s: under the interval, nothing
    asked = ProgressLog(range(3), total=3, description="L-curve", last=True, stream=out, clock=clock)
    assert list(asked) == [0, 1, 2]
    assert out.getvalue() == "L-curve: 3/3 it (100%), 0.0 s\n"


def test_postfix_is_appended_and_a_resumed_run_counts_from_its_start():
    clock, out = Clock(), io.StringIO()
    log = ProgressLog(total=200, description="optimize", initial=100, unit="step", stream=out, clock=clock)
    log.set_postfix_str("cka 0.93", refresh=False)
    clock.now += 10
    log.update(50)
    assert out.getvalue() == "optimize: 150/200 step (75%), 10.0 s, about 10 s left [cka 0.93]\n"


def test_off_a_terminal_progress_is_a_log_never_a_bar(monkeypatch):
    monkeypatch.setattr(sys, "stderr", NotATerminal())
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    for enabled in (None, True):
        assert isinstance(progress_bar(range(3), enabled=enabled, total=3, description="d"), ProgressLog)
    assert progress_bar(enabled=False, total=3, description="d") is None
    result = optimize(np.random.default_rng(0).normal(size=(30, 4)), "cka", max_steps=5, progress=True)
    assert result.steps == 5
    written = sys.stderr.getvalue()
    assert written.startswith("optimize: 5/5 step (100%)") and "\r" not in written  # no bar redraws


def fake_terminal_tqdm(monkeypatch) -> list[dict]:
    """In a terminal, with tqdm replaced by a fake that records the options of each bar (returned)."""
    calls = []

    def fake_tqdm(iterable=None, **options):
        calls.append(options)
        return iterable

    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = fake_tqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    monkeypatch.setattr(_checks, "_interactive", lambda: True)
    return calls


def test_in_a_terminal_progress_is_tqdm(monkeypatch):
    calls = fake_terminal_tqdm(monkeypatch)
    assert list(progress_bar(range(2), enabled=None, total=2, description="rotation curve")) == [0, 1]
    assert [options["desc"] for options in calls] == ["rotation curve"]


def test_a_capped_total_shows_the_time_left_as_an_upper_bound(monkeypatch):
    clock, out = Clock(), io.StringIO()
    log = ProgressLog(total=10_000, description="train", unit="step", stream=out, clock=clock, cap=True)
    clock.now += 10
    log.update(100)
    assert out.getvalue() == "train: 100/10000 step (1%), 10.0 s, at most 990 s left\n"
    calls = fake_terminal_tqdm(monkeypatch)
    progress_bar(enabled=True, total=5, description="train", cap=True)
    progress_bar(enabled=True, total=5, description="optimize")
    formats = [options["bar_format"] for options in calls]
    assert "≤{remaining}" in formats[0] and formats[1] is None
