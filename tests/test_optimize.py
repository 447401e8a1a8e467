"""repalign.optimize: noise optimized towards a reference (seed paper, appendix B.2)."""

import importlib
import math

import numpy as np
import pytest
import torch

import repalign
from repalign.optimization import OptimizationResult
from repalign.optimization.objectives import objectives

SHAPE = (4, 6, 5)  # (time, condition, unit)


pytestmark = pytest.mark.usefixtures("single_threaded")  # see conftest.py


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return rng.normal(size=SHAPE) * np.array([3.0, 2.0, 1.0, 0.5, 0.2])  # unequal variances, like data


def optimize(*args, **options):
    """repalign.optimize in float64 unless a test says otherwise: these tests compare values and trajectories
    to 1e-10 (the default precision, the seed paper's float32, is tested in test_defaults_are_the_seed_papers)."""
    return repalign.optimize(*args, **{"dtype": "float64", **options})


def ridge3():
    return repalign.measure("ridge-cv", cv=3)


def paper_noise(seed, shape=SHAPE):
    """The documented start: standard normal from torch.Generator().manual_seed(seed), float64."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def per_run(result, run):
    table = result.trajectory
    return table[table.run == run]


# -- the method --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, low, high", [("cka", 0.5, 0.99), ("angular-procrustes", 0.5, 0.98)])
def test_score_rises_from_noise_to_near_one(X, name, low, high):
    result = optimize(X, name, max_steps=100, record_every=10, seed=0)
    scores = per_run(result, 0).value.to_numpy()
    assert scores[0] < low and scores[-1] > high
    assert result.final_value[0] == scores[-1]
    assert result.settings["maximize"] == [True]
    value = repalign.measure(name)(X, result.Y[0])  # the reported value is the measure's value of the final Y
    assert value == pytest.approx(scores[-1], abs=1e-12)


def test_cross_validated_regression_rises(X):
    result = optimize(X, ridge3(), max_steps=100, record_every=50, seed=0)
    scores = per_run(result, 0).value.to_numpy()
    assert scores[0] < 0.2 and scores[-1] > 0.8


def test_distance_is_minimized(X):
    result = optimize(X, "procrustes", max_steps=100, record_every=25, seed=0)  # angular distance
    assert repalign.measure("procrustes").kind == "distance" and result.settings["maximize"] == [False]
    distances = per_run(result, 0).value.to_numpy()
    assert distances[0] > 0.5 and distances[-1] < 0.05
    assert np.all(np.diff(distances) < 0)


def test_same_seed_same_result_other_seed_other_result(X):
    first = optimize(X, "cka", max_steps=20, record_every=5, seed=3)
    again = optimize(X, "cka", max_steps=20, record_every=5, seed=3)
    other = optimize(X, "cka", max_steps=20, record_every=5, seed=4)
    assert np.array_equal(first.Y, again.Y)
    assert first.trajectory.equals(again.trajectory)
    assert not np.allclose(first.Y, other.Y)
    assert first.trajectory.value.iloc[0] != other.trajectory.value.iloc[0]


def test_gaussian_start_is_the_documented_noise(X):
    seeds = [5, 9]
    gaussian = optimize(X, "cka", max_steps=3, seed=seeds, n_runs=2, record_every=1)
    explicit = optimize(X, "cka", max_steps=3, init=torch.stack([paper_noise(s) for s in seeds]), n_runs=2,
                        record_every=1)
    assert np.array_equal(gaussian.Y, explicit.Y)
    scaled = optimize(X, "cka", max_steps=1, seed=5, init_scale=2.5, optimizer="sgd", lr=1e-12)
    assert np.allclose(scaled.Y[0], 2.5 * paper_noise(5).numpy(), atol=1e-9)


def test_seed_of_run_k_is_seed_plus_k(X):
    batch = optimize(X, "cka", max_steps=2, seed=7, n_runs=3)
    assert batch.settings["seeds"] == [7, 8, 9]
    assert batch.trajectory.groupby("run").seed.first().tolist() == [7, 8, 9]


# -- batching ----------------------------------------------------------------------------------------------------


def test_batched_runs_equal_separate_runs(X):
    seeds = [0, 1, 2]
    batch = optimize(X, "cka", max_steps=30, seed=seeds, n_runs=3, record_every=10)
    for k, s in enumerate(seeds):
        alone = optimize(X, "cka", max_steps=30, seed=s, record_every=10)
        assert np.allclose(batch.Y[k], alone.Y[0], rtol=0, atol=1e-10)
        assert np.allclose(per_run(batch, k).value, alone.trajectory.value, rtol=0, atol=1e-10)


def test_several_measures_in_one_loop_equal_separate_loops(X):
    names = ["cka", "angular-procrustes", ridge3()]
    together = optimize(X, names, max_steps=25, seed=[3, 4], n_runs=2, record_every=5)
    assert together.Y.shape == (6, *SHAPE)
    canonical = [repalign.measure(n).name if isinstance(n, str) else n.name for n in names]
    assert together.settings["measures"] == canonical
    assert list(together.trajectory.groupby("run").measure.first()) == [c for c in canonical for _ in range(2)]
    for m, name in enumerate(names):
        alone = optimize(X, name, max_steps=25, seed=[3, 4], n_runs=2, record_every=5)
        assert np.allclose(together.Y[2 * m:2 * m + 2], alone.Y, rtol=0, atol=1e-10)
    # every measure starts from the same noise
    start = together.trajectory[together.trajectory.step == 0]
    assert start.seed.tolist() == [3, 4] * 3


def test_runs_evaluated_in_chunks_or_in_threads_follow_their_own_trajectories(X, monkeypatch):
    """On the CPU, large runs are scored a few at a time (chunks) or in parallel threads; neither may
    change a run's trajectory, including around runs that stopped (gaps between the active runs)."""
    steps_module = importlib.import_module("repalign.optimization.steps")

    names = ["cka", "angular-procrustes", ridge3()]
    settings = dict(max_steps=40, stop_at=0.97, seed=[0, 1, 2], n_runs=3, record_every=5)
    whole = optimize(X, names, **settings)  # tiny runs: one call per measure and step
    assert len(set(whole.reached_step)) > 2  # runs stop at different steps, leaving gaps
    monkeypatch.setattr(steps_module, "CPU_CHUNK_BYTES", 2 * np.prod(SHAPE) * 8)  # two runs per call
    chunked = optimize(X, names, **settings)
    monkeypatch.setattr(steps_module, "PARALLEL_MIN_BYTES", 0)  # one run per call, two threads
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert steps_module.parallel_workers(torch.zeros(2, *SHAPE), objectives(
            "cka", torch.as_tensor(X), None)) == 2
        torch.set_num_threads(1)
        seen = []
        loop_module = importlib.import_module("repalign.optimization.loop")
        real = loop_module.parallel_workers
        monkeypatch.setattr(loop_module, "parallel_workers", lambda *a: seen.append(real(*a)) or seen[-1])
        threaded = optimize(X, names, **settings, threads=2)
        assert seen == [2]  # the runs were evaluated in two threads
        assert torch.get_num_threads() == 1  # optimize's thread count, restored when it returns
    finally:
        torch.set_num_threads(threads)
    for result in (chunked, threaded):
        assert result.reached_step == whole.reached_step
        assert np.allclose(result.Y, whole.Y, rtol=0, atol=1e-10)
        assert np.allclose(result.trajectory.value, whole.trajectory.value, rtol=0, atol=1e-10)


def test_user_callables_are_not_called_from_other_threads(X, monkeypatch):
    import threading

    steps_module = importlib.import_module("repalign.optimization.steps")
    seen = set()

    def my_score(reference, Y):
        seen.add(threading.current_thread().name)
        return repalign.measure("cka").bind(reference).batch(Y)

    monkeypatch.setattr(steps_module, "PARALLEL_MIN_BYTES", 0)
    optimize(X, my_score, maximize=True, max_steps=3, n_runs=3, threads=2)
    assert seen == {threading.current_thread().name}


@pytest.fixture
def evaluation(monkeypatch):
    """Switch the loop's CPU evaluation between one call per measure ("whole"), two runs per call
    ("chunked") and one run per call in two threads ("threaded")."""
    steps_module = importlib.import_module("repalign.optimization.steps")
    threads = torch.get_num_threads()

    def use(mode):
        monkeypatch.setattr(steps_module, "CPU_CHUNK_BYTES", 2**40 if mode == "whole" else 2 * np.prod(SHAPE) * 8)
        monkeypatch.setattr(steps_module, "PARALLEL_MIN_BYTES", 0 if mode == "threaded" else 2**40)
        torch.set_num_threads(2 if mode == "threaded" else 1)
        return 2 if mode == "threaded" else 1  # optimize's threads

    yield use
    torch.set_num_threads(threads)


@pytest.mark.parametrize("mode", ["chunked", "threaded"])
def test_chunked_and_threaded_gradients_equal_one_batched_call(X, evaluation, mode):
    """evaluate's values and Y.grad, chunk by chunk or thread by thread, against one call per measure,
    with a gap of frozen runs and two measures of opposite direction (score up, distance down)."""
    steps_module = importlib.import_module("repalign.optimization.steps")
    reference = torch.as_tensor(X)
    evaluated = objectives(["cka", "procrustes"], reference, None)
    n_runs = 4
    Y = torch.randn(2 * n_runs, *SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    runs = torch.tensor([0, 1, 3, 4, 5, 6, 7])  # run 2 is frozen
    sign = torch.tensor([-1.0] * n_runs + [1.0] * n_runs, dtype=torch.float64)

    def evaluate(chunk_runs, pool):
        Y.grad = torch.zeros_like(Y)
        values, finite = steps_module.evaluate(evaluated, Y, runs, n_runs, sign, chunk_runs, pool)
        return values, Y.grad.clone(), finite

    whole = evaluate(len(Y), None)
    evaluation(mode)
    pool = None
    if mode == "threaded":
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(2)
    try:
        split = evaluate(1 if mode == "threaded" else 2, pool)
    finally:
        if pool is not None:
            pool.shutdown()
    assert torch.allclose(split[0], whole[0], rtol=0, atol=1e-13)
    assert torch.allclose(split[1], whole[1], rtol=0, atol=1e-13)
    assert bool(split[2].all()) and split[2].shape == (len(runs),)
    assert torch.count_nonzero(whole[1][2]) == 0  # the frozen run gets no gradient
    assert torch.count_nonzero(whole[1][runs]) > 0
    # the independent reference: autograd through one call per run
    for r in runs.tolist():
        y = Y[r].clone().requires_grad_(True)
        value = evaluated[r // n_runs].evaluate(y[None])[0]
        (grad,) = torch.autograd.grad(sign[r] * value, y)
        assert torch.allclose(split[1][r], grad, rtol=0, atol=1e-13)


def test_a_users_callable_gets_all_its_active_runs_in_one_call(X, evaluation):
    """Chunking is for registry measures only: a callable that needs the whole batch (joint_optimize's
    loss) gets every active run at once, in order, also after some runs stopped."""
    evaluation("chunked")
    cka = repalign.measure("cka")
    sizes = []

    def whole_batch_cka(reference, Y):
        sizes.append(len(Y))
        return cka.batch(reference.expand(len(Y), *reference.shape), Y)

    settings = dict(max_steps=40, stop_at=0.97, seed=[0, 1, 2, 3], n_runs=4, record_every=5)
    mine = optimize(X, whole_batch_cka, maximize=True, **settings)
    registry = optimize(X, "cka", **settings)
    assert len(set(mine.reached_step)) > 1  # runs stop at different steps
    active = [sum(1 for s in mine.reached_step if s is None or s >= step) for step in range(mine.steps + 1)]
    assert sizes == active  # one call per step, with every run still active
    assert mine.reached_step == registry.reached_step
    assert np.allclose(mine.Y, registry.Y, rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", ["whole", "chunked", "threaded"])
def test_checkpoint_resume_is_bit_identical_in_chunks_and_threads(X, tmp_path, evaluation, mode):
    """Also when a run stops at the very step the first call ends on (run 4 at step 12): resuming
    evaluates that step again, so the checkpoint must hold the run as still active there."""
    threads = evaluation(mode)
    settings = dict(max_steps=30, seed=1, n_runs=3, record_every=4, stop_at=0.9, threads=threads)
    straight = optimize(X, ["angular-procrustes", "cka"], **settings)
    assert straight.reached_step[4] == 12
    path = tmp_path / "run.pt"
    optimize(X, ["angular-procrustes", "cka"], **{**settings, "max_steps": 12}, checkpoint=path)
    resumed = optimize(X, ["angular-procrustes", "cka"], **settings, checkpoint=path)
    assert torch.equal(torch.from_numpy(resumed.Y), torch.from_numpy(straight.Y))
    assert resumed.trajectory.equals(straight.trajectory)


# -- stopping, recording, trackers -------------------------------------------------------------------------------


def test_stop_at_freezes_each_run_at_its_step_while_others_go_on(X):
    target = 0.97
    result = optimize(X, "cka", max_steps=200, stop_at=target, seed=0, n_runs=4, record_every=1000)
    reached = result.reached_step
    assert all(r is not None for r in reached)
    assert len(set(reached)) > 1  # runs stop at different steps, so some go on after others froze
    assert result.steps == max(reached) < 200
    for k, step in enumerate(reached):
        rows = per_run(result, k)
        assert rows.step.iloc[-1] == step and rows.value.iloc[-1] >= target  # the stopping step is recorded
        assert result.final_value[k] == rows.value.iloc[-1]
        just_before = optimize(X, "cka", max_steps=step - 1, seed=k, record_every=1000)
        assert just_before.final_value[0] < target
        # the frozen Y is the Y at its stopping step, untouched by Adam's momentum afterwards
        alone = optimize(X, "cka", max_steps=step, seed=k, record_every=1000)
        assert np.allclose(result.Y[k], alone.Y[0], rtol=0, atol=1e-10)


def test_stop_at_for_a_distance_means_at_most(X):
    result = optimize(X, "procrustes", max_steps=300, stop_at=0.2, seed=0)
    assert result.reached_step[0] is not None and result.final_value[0] <= 0.2
    assert result.steps == result.reached_step[0]


def test_never_reached_is_none(X):
    result = optimize(X, "cka", max_steps=5, stop_at=1.5, seed=0)
    assert result.reached_step == (None,) and result.steps == 5


def test_rows_every_record_every_steps_and_at_the_end(X):
    result = optimize(X, "cka", max_steps=20, record_every=7, n_runs=2)
    table = result.trajectory
    assert list(table.columns) == ["run", "measure", "seed", "step", "value", "kind"]
    assert table.step.tolist() == [0, 0, 7, 7, 14, 14, 20, 20]
    assert table.run.tolist() == [0, 1] * 4
    assert len(optimize(X, "cka", max_steps=20, record_every=1).trajectory) == 21


def test_kind_column_says_score_or_distance_per_measure(X):
    """The table's ``kind``: a registry measure's own kind (also when its direction is overridden), a
    callable's from the direction it is optimized in."""
    result = optimize(X, ["cka", "procrustes"], max_steps=2, record_every=1)
    kinds = result.table.groupby("measure").kind.unique()
    assert kinds[repalign.measure("cka").name].tolist() == ["score"]
    assert kinds[repalign.measure("procrustes").name].tolist() == ["distance"]
    assert optimize(X, "procrustes", maximize=True, max_steps=1).table.kind.tolist() == ["distance", "distance"]

    def spread(reference, Y):
        return Y.flatten(1).std(dim=1)

    assert set(optimize(X, spread, maximize=False, max_steps=1).table.kind) == {"distance"}
    assert set(optimize(X, spread, maximize=True, max_steps=1).table.kind) == {"score"}


class NormTracker:
    name = "norm"

    def __call__(self, reference, Y):
        return Y.flatten(1).norm(dim=1)


def test_tracker_columns(X):
    calls = []

    def centre(reference, Y):
        calls.append((tuple(reference.shape), tuple(Y.shape), Y.requires_grad))
        return {"mean": Y.mean(dim=(1, 2, 3)), "ref_sq": (reference ** 2).sum().repeat(len(Y)).numpy()}

    result = optimize(X, "cka", max_steps=10, record_every=5, n_runs=2, trackers=[centre, NormTracker()])
    table = result.trajectory
    assert list(table.columns) == ["run", "measure", "seed", "step", "value", "kind", "mean", "ref_sq", "norm"]
    assert calls == [(SHAPE, (2, *SHAPE), False)] * 3
    final = table[table.step == 10]
    assert np.allclose(final.norm, np.linalg.norm(result.Y.reshape(2, -1), axis=1), atol=1e-12)
    assert np.allclose(final["mean"], result.Y.mean(axis=(1, 2, 3)), atol=1e-12)
    assert np.allclose(table.ref_sq, (X ** 2).sum())


class TwoValues:
    name = "bad"

    def __call__(self, reference, Y):
        return torch.zeros(2)


def test_tracker_errors(X):
    with pytest.raises(ValueError, match="tracker 'bad': column 'bad' has 2 value"):
        optimize(X, "cka", max_steps=1, n_runs=3, trackers=[TwoValues()])
    for reserved in ("value", "kind"):
        with pytest.raises(ValueError, match=f"'{reserved}' is reserved"):
            optimize(X, "cka", max_steps=1, trackers=[lambda r, y, c=reserved: {c: torch.zeros(len(y))}])
    with pytest.raises(ValueError, match="not numeric"):
        optimize(X, "cka", max_steps=1, trackers=[lambda r, y: {"label": ["a"] * len(y)}])


# -- checkpoints -------------------------------------------------------------------------------------------------


def test_checkpoint_resume_is_bit_identical(X, tmp_path):
    settings = dict(max_steps=30, seed=1, n_runs=2, record_every=4, trackers=[NormTracker()])
    straight = optimize(X, "angular-procrustes", **settings)
    path = tmp_path / "run.pt"
    first = optimize(X, "angular-procrustes", **{**settings, "max_steps": 15}, checkpoint=path)
    assert first.steps == 15 and path.exists()
    resumed = optimize(X, "angular-procrustes", **settings, checkpoint=path)
    assert torch.equal(torch.from_numpy(resumed.Y), torch.from_numpy(straight.Y))
    assert resumed.trajectory.equals(straight.trajectory)
    with pytest.warns(UserWarning, match=r"holds a run that finished at step 30; its result is returned without "
                                         r"optimizing again .*raise max_steps to go on"):
        again = optimize(X, "angular-procrustes", **settings, checkpoint=path)  # finished: nothing left to do
    assert np.array_equal(again.Y, straight.Y) and again.trajectory.equals(straight.trajectory)


class CrashingCKA:
    """CKA as a user measure that raises KeyboardInterrupt when asked for the value at step ``crash_at``."""

    name, maximize = "cka (may crash)", True

    def __init__(self, crash_at=None):
        self.crash_at, self.calls = crash_at, 0
        self.cka = repalign.measure("cka")

    def __call__(self, reference, Y):
        if self.calls == self.crash_at:  # one call per step
            raise KeyboardInterrupt
        self.calls += 1
        return self.cka.batch(reference.expand(len(Y), *reference.shape), Y)


def test_checkpoint_resume_after_a_crash(X, tmp_path):
    path = tmp_path / "deep" / "run.pt"
    settings = dict(max_steps=30, seed=2, record_every=3, stop_at=0.95, n_runs=3, checkpoint_every=5)
    straight = optimize(X, CrashingCKA(), **settings)
    assert straight.reached_step == (14, 19, 15) and straight.steps == 19  # run 0 frozen before the crash
    with pytest.raises(KeyboardInterrupt):
        optimize(X, CrashingCKA(crash_at=18), **settings, checkpoint=path)
    saved = torch.load(path, weights_only=True)
    assert set(saved) == {"format", "settings", "step", "Y", "optimizer", "active", "reached", "last_value",
                          "rows", "rng"}
    assert saved["step"] == 15 and saved["rows"]["step"].max() == 14  # the state at the start of step 15
    assert saved["active"].tolist() == [False, True, True]
    resumed = optimize(X, CrashingCKA(), **settings, checkpoint=path)
    assert np.array_equal(resumed.Y, straight.Y)
    assert resumed.reached_step == straight.reached_step
    assert resumed.trajectory.equals(straight.trajectory)


def test_checkpoint_with_other_settings_is_refused(X, tmp_path):
    path = tmp_path / "run.pt"
    optimize(X, "cka", max_steps=3, seed=0, checkpoint=path)
    with pytest.raises(ValueError, match=r"other settings \(lr: checkpoint 0.1, now 0.05\)"):
        optimize(X, "cka", max_steps=6, seed=0, lr=0.05, checkpoint=path)
    with pytest.raises(ValueError, match="reference"):
        optimize(X + 1.0, "cka", max_steps=6, seed=0, checkpoint=path)
    with pytest.raises(ValueError, match="beyond max_steps=2"):
        optimize(X, "cka", max_steps=2, seed=0, checkpoint=path)
    path.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="exists but is not a readable repalign.optimize checkpoint"):
        optimize(X, "cka", max_steps=3, seed=0, checkpoint=path)


def test_checkpoint_records_every_trackers_settings_and_refuses_a_resume_that_changes_them(X, tmp_path):
    """A trajectory never mixes tracker values computed with other settings: each difference is listed."""
    from repalign._checks import SettingsError
    from repalign.trackers import PCCapture

    path = tmp_path / "run.pt"
    settings = dict(max_steps=10, seed=0, record_every=2)
    first = optimize(X, "cka", **{**settings, "max_steps": 4}, trackers=[PCCapture(X, n_pcs=3), NormTracker()],
                     checkpoint=path)
    recorded = first.settings["trackers"]
    assert [t["name"] for t in recorded] == ["pc_capture", "norm"]
    assert {k: v for k, v in recorded[0]["settings"].items() if k != "reference"} == {
        "n_pcs": 3, "ridge": 0.0, "cv": None, "seed": 0, "record_every": 1}
    assert "settings" not in recorded[1]  # a callable without settings(): recorded by its name
    assert torch.load(path, weights_only=True)["settings"]["trackers"] == recorded
    changed = [PCCapture(X, n_pcs=3, ridge=0.5, cv=2, seed=1), NormTracker()]
    with pytest.raises(SettingsError, match=r"other settings \(tracker 'pc_capture' cv: checkpoint None, now 2; "
                                            r"tracker 'pc_capture' ridge: checkpoint 0.0, now 0.5; "
                                            r"tracker 'pc_capture' seed: checkpoint 0, now 1\)") as error:
        optimize(X, "cka", **settings, trackers=changed, checkpoint=path)
    assert error.value.argument == "checkpoint"
    with pytest.raises(SettingsError, match=r"tracker 'pc_capture' reference: checkpoint 'sha256:"):
        optimize(X, "cka", **settings, trackers=[PCCapture(2 * X, n_pcs=3), NormTracker()], checkpoint=path)
    with pytest.raises(SettingsError, match=r"other settings \(trackers: checkpoint \[.*'name': 'norm'\}\], now "
                                            r"\[\{'name': 'pc_capture'"):
        optimize(X, "cka", **settings, trackers=[PCCapture(X, n_pcs=3)], checkpoint=path)  # one tracker fewer
    # the same trackers: resumed, as if never interrupted
    resumed = optimize(X, "cka", **settings, trackers=[PCCapture(X, n_pcs=3), NormTracker()], checkpoint=path)
    straight = optimize(X, "cka", **settings, trackers=[PCCapture(X, n_pcs=3), NormTracker()])
    assert resumed.trajectory.equals(straight.trajectory)


def test_checkpoint_of_the_decoding_tracker_refuses_other_folds(tmp_path):
    from repalign.data import mante_like
    from repalign.trackers import Decoding

    data = mante_like(n_units=12, n_time=2, seed=0)
    path = tmp_path / "run.pt"
    optimize(data, "cka", max_steps=2, trackers=[Decoding(data, variables="context")], checkpoint=path)
    with pytest.raises(ValueError, match=r"^checkpoint: .*\(tracker 'decoding' folds: checkpoint 5, now 3\)"):
        optimize(data, "cka", max_steps=4, trackers=[Decoding(data, variables="context", folds=3)], checkpoint=path)


def test_checkpoint_of_an_earlier_format_is_refused_as_such(X, tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"format": "repalign.optimize checkpoint 1", "settings": {}}, path)
    with pytest.raises(ValueError, match=r"written by another version of repalign \('repalign.optimize checkpoint 1'"):
        optimize(X, "cka", max_steps=2, checkpoint=path)


def test_a_finished_checkpoint_is_reused_with_a_warning(X, tmp_path):
    path = tmp_path / "run.pt"
    done = optimize(X, "cka", max_steps=200, stop_at=0.9, checkpoint=path)
    assert done.reached_step[0] is not None
    with pytest.warns(UserWarning, match=rf"holds a run that finished at step {done.steps}; its result is returned "
                                         r"without optimizing again \(remove the file or choose another path to "
                                         r"start afresh\)") as caught:
        again = optimize(X, "cka", max_steps=300, stop_at=0.9, checkpoint=path)
    assert caught[0].filename == __file__  # attributed to the caller's line
    assert np.array_equal(again.Y, done.Y) and again.trajectory.equals(done.trajectory)


def test_defaults_are_the_seed_papers(X):
    """Adam, lr 0.1, at most 1000 steps, standard Gaussian noise, float32 (nacloos/diffscore,
    diffscore/training/measure_optim.py), no stopping value: a loop written here gives the same Y."""
    import dataclasses
    import inspect

    defaults = {f.name: f.default for f in dataclasses.fields(repalign.OptimizeSettings) if f.init}
    signature = inspect.signature(repalign.optimize).parameters
    assert {name: p.default for name, p in signature.items() if name in defaults} == defaults
    assert {k: defaults[k] for k in ("optimizer", "lr", "max_steps", "init", "init_scale", "stop_at", "threads")} == {
        "optimizer": "adam", "lr": 0.1, "max_steps": 1000, "init": "gaussian", "init_scale": 1.0, "stop_at": None,
        "threads": None}
    result = repalign.optimize(X, "cka", max_steps=5)
    assert result.settings["dtype"] == "float32" and result.Y.dtype == np.float32 and result.steps == 5
    Y = paper_noise(0).to(torch.float32).requires_grad_(True)
    reference = torch.tensor(X, dtype=torch.float32).reshape(-1, SHAPE[-1])
    adam = torch.optim.Adam([Y], lr=0.1)
    cka = repalign.measure("cka")
    for _ in range(5):
        adam.zero_grad()
        (-cka(reference, Y.reshape(-1, SHAPE[-1]))).backward()
        adam.step()
    np.testing.assert_allclose(result.Y[0], Y.detach().numpy(), rtol=0, atol=1e-5)
    assert repalign.optimize(X, "cka").steps == 1000


# -- user measures and failures ----------------------------------------------------------------------------------


def negative_squared_error(reference, Y):
    return -((Y - reference) ** 2).flatten(1).mean(dim=1)


def test_user_callable_measure(X):
    negative_squared_error.maximize = True
    try:
        result = optimize(X, negative_squared_error, max_steps=300, record_every=100, lr=0.05)
    finally:
        del negative_squared_error.maximize
    assert result.settings["measures"] == ["negative_squared_error"]
    assert result.final_value[0] > -1e-3
    assert np.allclose(result.Y[0], X, atol=0.05)
    explicit = optimize(X, negative_squared_error, max_steps=5, maximize=True)
    assert explicit.trajectory.value.is_monotonic_increasing
    with pytest.raises(ValueError, match="cannot tell whether higher values are better"):
        optimize(X, negative_squared_error, max_steps=5)


def test_user_measure_called_one_run_at_a_time(X):
    sizes = []

    def squared_error(reference, Y):
        sizes.append(len(Y))
        return ((Y - reference) ** 2).flatten(1).mean(dim=1)[0]

    squared_error.kind, squared_error.batched, squared_error.name = "distance", False, "mse"
    result = optimize(X, squared_error, max_steps=4, n_runs=3)
    assert set(sizes) == {1} and result.settings["measures"] == ["mse"]
    assert result.trajectory.groupby("run").value.is_monotonic_decreasing.all()


def test_non_finite_value_stops_with_an_error(X):
    cka = repalign.measure("cka")
    calls = {"n": 0}

    def fails_at_step_3(reference, Y):
        calls["n"] += 1
        value = cka.batch(reference.expand(len(Y), *reference.shape), Y)
        return value * (math.nan if calls["n"] == 4 else 1.0)

    fails_at_step_3.maximize = True
    with pytest.raises(FloatingPointError, match=r"non-finite value at step 3 for run 0 \(measure 'fails_at_step_3'"):
        optimize(X, fails_at_step_3, max_steps=10)


def test_non_finite_gradient_stops_with_an_error(X):
    cka = repalign.measure("cka")
    calls = {"n": 0}

    def nan_gradient_for_run_1(reference, Y):
        calls["n"] += 1
        value = cka.batch(reference.expand(len(Y), *reference.shape), Y)
        if calls["n"] == 3:  # finite value, gradient 0 * inf = nan for run 1 only
            value = value + torch.cat([torch.zeros(1), torch.sqrt(Y[1:, 0, 0, 0] * 0.0)])
        return value

    nan_gradient_for_run_1.kind = "score"
    with pytest.raises(FloatingPointError, match="non-finite gradient at step 2 for run 1 "):
        optimize(X, nan_gradient_for_run_1, max_steps=10, n_runs=2, seed=[0, 4], optimizer="sgd")


def test_user_measure_with_the_wrong_output(X):
    with pytest.raises(ValueError, match=r"expected a tensor of shape \(2,\)"):
        optimize(X, lambda r, Y: (Y - r).sum(), max_steps=2, n_runs=2, maximize=False)
    with pytest.raises(ValueError, match="no gradient"):
        optimize(X, lambda r, Y: torch.zeros(len(Y)), max_steps=2, maximize=False)


# -- options and arguments ---------------------------------------------------------------------------------------


def test_units_sgd_float32_and_reference_scale(X):
    result = optimize(X, "cka", max_steps=50, units=3, optimizer="sgd", lr=5.0, dtype="float32", seed=0,
                      init_scale="reference")
    assert result.Y.shape == (1, 4, 6, 3) and result.Y.dtype == np.float32
    assert result.settings["dtype"] == "float32" and result.settings["shape"] == [4, 6, 3]
    scores = result.trajectory.value.to_numpy()
    assert scores[-1] > scores[0] + 0.3


def test_dtype_and_device_follow_a_tensor_reference(X):
    result = repalign.optimize(torch.tensor(X, dtype=torch.float32), "cka", max_steps=2)
    assert result.Y.dtype == np.float32 and result.settings["device"] == "cpu"
    assert repalign.optimize(torch.tensor(X), "cka", max_steps=2).Y.dtype == np.float64
    assert repalign.optimize(X, "cka", max_steps=2).Y.dtype == np.float32  # numpy: the seed paper's float32


@pytest.mark.parametrize("kwargs, message", [
    (dict(measure="rsa"), "'rsa-rdm=correlation-compare=spearman' is not differentiable"),
    (dict(measure="nope"), "unknown measure 'nope'"),
    (dict(measure=42), "expected a measure name, a Measure or a callable"),
    (dict(measure=[]), "non-empty sequence"),
    (dict(measure=["cka", "cka"]), "more than once"),
    (dict(max_steps=0), "max_steps: expected an integer >= 1, got 0"),
    (dict(max_steps=2.5), "max_steps: expected an integer"),
    (dict(record_every=0), "record_every: expected an integer >= 1"),
    (dict(n_runs=0), "n_runs: expected an integer >= 1"),
    (dict(units=0), "units: expected an integer >= 1"),
    (dict(checkpoint_every=0), "checkpoint_every"),
    (dict(lr=0), "lr: expected a positive number"),
    (dict(lr=math.nan), "lr: expected a finite real number"),
    (dict(stop_at=math.inf), "stop_at: expected a finite real number"),
    (dict(optimizer="lbfgs"), "optimizer: expected one of \\['adam', 'sgd'\\]"),
    (dict(init="uniform"), "init: expected 'gaussian' or an array"),
    (dict(init=np.zeros((3, 3))), r"init: expected 'gaussian' or an array of shape \(4, 6, 5\)"),
    (dict(init=np.full(SHAPE, np.nan)), "init: contains 120 NaN"),
    (dict(init_scale=-1.0), "init_scale: expected a positive number"),
    (dict(init_scale="data"), "init_scale: expected a positive number or 'reference'"),
    (dict(seed=-1), "seed: expected a non-negative integer below 2\\*\\*63"),
    (dict(seed=[1, 2], n_runs=3), "seed: expected one seed per run \\(3\\), got 2"),
    (dict(seed="0"), "seed: expected a non-negative integer or one per run"),
    (dict(dtype=torch.float16), "dtype: expected torch.float32 or torch.float64"),
    (dict(maximize="yes"), "maximize: expected True, False or None"),
    (dict(progress=1), "progress: expected True, False or None"),
    (dict(trackers=[3]), "trackers: expected callables"),
])
def test_bad_arguments(X, kwargs, message):
    arguments = dict(measure="cka", max_steps=3)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        optimize(X, arguments.pop("measure"), **arguments)


def test_bad_reference_and_bound_measure(X):
    with pytest.raises(ValueError, match="reference: contains 1 NaN"):
        optimize(np.where(np.arange(120).reshape(SHAPE) == 0, np.nan, X), "cka", max_steps=1)
    with pytest.raises(ValueError, match="got a BoundMeasure"):
        optimize(X, repalign.measure("cka").bind(X), max_steps=1)


def test_progress_bar_runs(X, capsys):
    result = optimize(X, "cka", max_steps=5, progress=True)
    assert result.steps == 5
    assert "optimize" in capsys.readouterr().err


# -- the result --------------------------------------------------------------------------------------------------


def test_plot_and_save(X, tmp_path):
    import matplotlib.pyplot as plt

    result = optimize(X, ["cka", "procrustes"], max_steps=10, record_every=2, n_runs=2, stop_at=0.5)
    assert isinstance(result, OptimizationResult)
    ax = result.plot()
    assert len(ax.lines) == 5  # four runs and the stop_at line
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [*result.settings["measures"], "stop_at"]
    plt.close(ax.figure)
    written = result.save(tmp_path / "figures" / "trajectory")
    assert [p.rsplit(".", 1)[1] for p in written] == ["png", "pdf", "csv"]
    import pandas as pd

    assert pd.read_csv(written[2]).equals(result.trajectory.astype({"measure": str}))
    assert result.to_frame().equals(result.trajectory) and result.to_frame() is not result.trajectory
