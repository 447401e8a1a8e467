"""Tasks: the protocol, the Mante et al. 2013 task (seed code's definition) and centre-out reaching."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from repalign import data
from repalign.recording import velocity_fit
from repalign.tasks import ManteTask, ReachingTask, Task, TaskBatch, bell_velocity, held_out_batch, r2_score

M1 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hatsopoulos2007_m1.npz"
needs_m1 = pytest.mark.skipif(not M1.is_file(), reason=f"the M1 recording is absent ({M1})")

FIX, STIM, DEC = 350 // 50, 750 // 50, 300 // 50  # diffscore/env/mante.py: env_mante timing at dt = 50 ms
TASK_COLUMNS = ["context", "motion", "colour", "choice", "motion_sign", "colour_sign"]


# ------------------------------------------------------------------------------------------- Mante
def test_mante_shapes_and_dtypes():
    task = ManteTask()
    b = task.batch(64, seed=0)
    assert b.inputs.shape == (40, 64, 7) and b.inputs.dtype == torch.float32  # 2000 ms // 50: the seed's seq_len
    assert b.targets.shape == (40, 64) and b.targets.dtype == torch.int64
    assert b.mask.shape == (40, 64) and b.record_steps is None
    assert list(b.conditions.columns) == TASK_COLUMNS + ["delay_ms"] and len(b.conditions) == 64
    rec = task.trials(repeats=3, seed=1)
    assert rec.inputs.shape == (FIX + STIM + 300 // 50 + DEC, 216, 7)
    assert rec.record_steps.tolist() == list(range(FIX, FIX + STIM))  # 15 bins of 50 ms over the stimulus
    assert task.record_window == pytest.approx((0.35, 1.10))
    assert (rec.mask == 1).all()
    assert task.n_inputs == 7 and task.n_outputs == 3 and task.dt == 0.05


def test_mante_seeding():
    task = ManteTask()
    a, b, c = task.batch(32, seed=5), task.batch(32, seed=5), task.batch(32, seed=6)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets) and a.conditions.equals(b.conditions)
    assert not torch.equal(a.inputs, c.inputs)
    r1, r2, r3 = task.trials(seed=0), task.trials(seed=0), task.trials(seed=1)
    assert torch.equal(r1.inputs, r2.inputs) and not torch.equal(r1.inputs, r3.inputs)


def _expected_from_inputs(inputs, mask):
    """Context, relevant evidence and decision steps read off the inputs alone."""
    x = inputs.numpy().astype(np.float64)
    context = np.where(x[0, :, 5] > x[0, :, 6], 1, -1)
    stimulus = x[FIX:FIX + STIM]
    motion = (stimulus[..., 1] - stimulus[..., 2]).mean(0)
    colour = (stimulus[..., 3] - stimulus[..., 4]).mean(0)
    relevant = np.where(context > 0, motion, colour)
    decision = (x[..., 0] == 0) & (mask.numpy() == 1)  # the seed's task_acc: fixation input 0
    return context, motion, colour, relevant, decision


@pytest.mark.parametrize("sigma", [0.0, 1.0])
def test_mante_correct_choice_is_the_sign_of_the_cued_evidence(sigma):
    task = ManteTask(sigma=sigma)
    b = task.batch(2000, seed=3)
    context, motion, colour, relevant, decision = _expected_from_inputs(b.inputs, b.mask)
    choice = b.conditions["choice"].to_numpy()
    assert np.array_equal(context, b.conditions["context"].to_numpy())
    if sigma == 0:
        assert np.allclose(motion, 0.8 * b.conditions["motion"], atol=1e-6)  # u1 - u2 = 0.8 c
        assert np.allclose(colour, 0.8 * b.conditions["colour"], atol=1e-6)
        assert np.array_equal(np.sign(relevant), choice)
    else:  # noise: the means decide whenever the evidence is strong (0.4 against a std of 0.05)
        strong = np.abs(relevant) > 0.3
        assert strong.sum() > 500 and np.array_equal(np.sign(relevant[strong]), choice[strong])
    expected = np.where(decision, np.where(choice > 0, 1, 2)[None, :], 0)
    assert np.array_equal(b.targets.numpy(), expected)
    assert (decision.sum(0) == DEC).all()
    assert torch.equal(b.periods["decision"], torch.from_numpy(decision))


def test_mante_context_gates_which_modality_counts():
    task = ManteTask(sigma=0.0)
    table = pd.DataFrame({"context": [1, -1], "motion": [0.5, 0.5], "colour": [-0.5, -0.5]})
    rec = task.trials(table)
    assert rec.conditions["choice"].tolist() == [1, -1]
    assert rec.targets[-1].tolist() == [1, 2]


def test_mante_conditions_equal_mante_like_up_to_order():
    reference = data.mante_like(n_units=20, seed=0).conditions
    levels = {"motion_strengths": sorted({abs(v) for v in data.MOTION_COHERENCES}),
              "colour_strengths": sorted({abs(v) for v in data.COLOUR_COHERENCES})}
    table = ManteTask(**levels).conditions()
    assert list(table.columns) == list(reference.columns) and (table.dtypes == reference.dtypes).all()
    shuffled = table.sample(frac=1.0, random_state=0)
    merged = reference.merge(shuffled, on=TASK_COLUMNS, how="outer", indicator=True)
    assert len(merged) == 72 and (merged["_merge"] == "both").all()
    # the seed's levels: the same conditions by context, choice, signs and coherence rank
    seed = ManteTask().conditions()
    assert len(seed) == 72 and not seed.duplicated(TASK_COLUMNS).any()
    assert sorted(set(seed["motion"])) == [-0.5, -0.17, -0.06, 0.06, 0.17, 0.5]

    def ranked(t):
        return t.assign(motion=t.motion.rank(method="dense"), colour=t.colour.rank(method="dense"))

    assert ranked(seed).merge(ranked(reference.sample(frac=1.0, random_state=1)), on=TASK_COLUMNS).shape[0] == 72


def test_mante_trials_follow_the_given_conditions_by_value():
    task = ManteTask(sigma=0.0)
    given = task.conditions().sample(frac=1.0, random_state=2).reset_index(drop=True)
    rec = task.trials(given[["context", "motion", "colour"]], repeats=2)
    assert rec.conditions["repeat"].tolist() == [0, 1] * 72
    expanded = given.loc[given.index.repeat(2)].reset_index(drop=True)
    assert rec.conditions[TASK_COLUMNS].equals(expanded[TASK_COLUMNS])
    context, motion, colour, _, _ = _expected_from_inputs(rec.inputs, rec.mask)
    assert np.array_equal(context, expanded["context"]) and np.allclose(motion, 0.8 * expanded["motion"], atol=1e-6)


def test_mante_noise_statistics():
    task = ManteTask()
    coherence = {"motion": 0.17, "colour": -0.5}
    table = pd.DataFrame({"context": [1], **{k: [v] for k, v in coherence.items()}})
    rec = task.trials(table, repeats=2000, seed=4)
    x = rec.inputs.numpy().astype(np.float64)
    std = 1.0 / math.sqrt(50.0)  # sigma / sqrt(dt in ms), diffscore/env/mante.py _DMFamily
    stimulus = x[FIX:FIX + STIM].reshape(-1, 7)
    c_m, c_k = coherence["motion"], coherence["colour"]
    means = [1, 0.4 * (1 + c_m), 0.4 * (1 - c_m), 0.4 * (1 + c_k), 0.4 * (1 - c_k), 1, 0]
    n = stimulus.shape[0]
    assert np.allclose(stimulus.mean(0), means, atol=5 * std / math.sqrt(n))
    assert np.allclose(stimulus.std(0), std, atol=5 * std / math.sqrt(2 * n))
    outside = np.concatenate([x[:FIX], x[FIX + STIM:]])
    assert np.array_equal(outside[..., 1:5], np.zeros_like(outside[..., 1:5]))  # no noise outside the stimulus
    assert set(np.unique(outside[..., 0])) == {0.0, 1.0} and (outside[..., 5] == 1).all()


def test_mante_training_delay_distribution():
    task = ManteTask()
    b = task.batch(20000, seed=7)
    delay = b.conditions["delay_ms"].to_numpy()
    k = np.arange(12)  # floored to 50 ms: P(50k <= X < 50(k+1)) for an exponential of mean 300 truncated at 600
    p = (np.exp(-50 * k / 300) - np.exp(-50 * (k + 1) / 300)) / (1 - np.exp(-2))
    assert set(np.unique(delay)) <= set(50.0 * k)
    assert delay.mean() == pytest.approx((50 * k * p).sum(), abs=4 * 170 / math.sqrt(20000))
    fixation_off = (b.inputs[..., 0].numpy() == 0) & (b.mask.numpy() == 1)
    assert np.array_equal(fixation_off.argmax(0), FIX + STIM + delay // 50)
    assert np.array_equal(b.mask.numpy().sum(0), FIX + STIM + delay // 50 + DEC)


def test_mante_accuracy_is_the_decision_period_argmax():
    task = ManteTask()
    b = task.batch(100, seed=0)
    perfect = torch.nn.functional.one_hot(b.targets, 3).float()
    assert task.accuracy(perfect, b) == 1.0
    flipped = b.targets.clone()
    wrong = np.arange(100) < 30
    decision = b.periods["decision"]
    flipped[:, wrong] = torch.where(decision[:, wrong], 3 - flipped[:, wrong], flipped[:, wrong])
    assert task.accuracy(torch.nn.functional.one_hot(flipped, 3).float(), b) == pytest.approx(0.7)
    fixating = torch.zeros(40, 100, 3)
    fixating[..., 0] = 1
    assert task.accuracy(fixating, b) == 0.0


@pytest.mark.parametrize("kwargs, argument", [
    ({"sigma": -1.0}, "sigma"), ({"motion_strengths": []}, "motion_strengths"),
    ({"colour_strengths": [0.0]}, "colour_strengths"), ({"decision": 10.0}, "decision"),
    ({"max_delay": 10.0}, "max_delay"),
])
def test_mante_bad_settings_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"^{argument}:"):
        ManteTask(**kwargs)


def test_mante_bad_calls_name_the_argument():
    task = ManteTask()
    with pytest.raises(ValueError, match="^size:"):
        task.batch(0, seed=0)
    with pytest.raises(ValueError, match="^seed:"):
        task.batch(2, seed=-1)
    with pytest.raises(ValueError, match="^conditions:"):
        task.trials(pd.DataFrame({"context": [1]}))
    with pytest.raises(ValueError, match="^conditions:"):
        task.trials(pd.DataFrame({"context": [0], "motion": [0.1], "colour": [0.1]}))
    with pytest.raises(ValueError, match="^outputs:"):
        task.accuracy(torch.zeros(3, 3, 3), task.batch(2, seed=0))


# ---------------------------------------------------------------------------------------- protocol
def test_task_is_abstract_and_batches_are_checked():
    class Incomplete(Task):
        def batch(self, size, *, seed):
            raise NotImplementedError

    with pytest.raises(TypeError):
        Incomplete()
    with pytest.raises(ValueError, match="^mask:"):
        TaskBatch(torch.zeros(4, 2, 1), torch.zeros(4, 2), torch.ones(4, 3), pd.DataFrame({"a": [0, 1]}))
    with pytest.raises(ValueError, match="^conditions:"):
        TaskBatch(torch.zeros(4, 2, 1), torch.zeros(4, 2), torch.ones(4, 2), pd.DataFrame({"a": [0]}))


def test_r2_score_matches_its_definition():
    rng = np.random.default_rng(0)
    y, yhat = rng.normal(size=(20, 6, 2)), rng.normal(size=(20, 6, 2))
    mask = (rng.random((20, 6)) > 0.3).astype(float)
    keep = mask.astype(bool)
    yk, yhk = y[keep], yhat[keep]
    expected = 1 - ((yhk - yk) ** 2).sum() / ((yk - yk.mean(0)) ** 2).sum()
    assert r2_score(torch.tensor(yhat), torch.tensor(y), torch.tensor(mask)) == pytest.approx(expected)


# ---------------------------------------------------------------------------------------- reaching
def test_reaching_shapes_seeding_and_bell_profile():
    task = ReachingTask.synthetic()
    a, b, c = task.batch(16, seed=0), task.batch(16, seed=0), task.batch(16, seed=1)
    assert a.inputs.shape == (121, 16, 3) and a.targets.shape == (121, 16, 2) and a.mask.shape == (121, 16)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.targets, c.targets)
    assert task.dt == 0.01 and list(task.conditions().columns) == ["condition_index", "reach_direction_deg"]
    t = np.arange(-800.0, 401.0, 10.0)
    v = bell_velocity(t, [90.0], [400.0])
    speed = np.hypot(v[:, 0, 0], v[:, 0, 1])
    assert speed[t == 200.0][0] == pytest.approx(1.0) and (speed[(t <= 0) | (t >= 400)] == 0).all()


def test_reaching_jitter_shifts_inputs_and_targets_together():
    task = ReachingTask.synthetic(jitter_ms=50.0)
    b = task.batch(200, seed=2)
    shifts = (b.conditions["shift_ms"].to_numpy() / 10).astype(int)
    assert set(np.unique(shifts)) == set(range(-5, 6))
    go_step = 80  # time 0 ms on the -800..400 ms base
    rows = b.conditions["condition_index"].to_numpy()
    for j in range(0, 200, 17):
        s = shifts[j]
        steps = np.arange(121)
        inside = (steps - s >= 0) & (steps - s < 121)
        assert np.array_equal(b.mask[:, j].numpy() == 1, inside)
        assert np.allclose(b.targets[inside, j].numpy(), task.velocity[(steps - s)[inside], rows[j]], atol=1e-6)
        assert b.inputs[:, j, 2].numpy().argmax() == go_step + s
        theta = np.deg2rad(b.conditions["reach_direction_deg"][j])
        assert np.allclose(b.inputs[:, j, :2].numpy(), [np.cos(theta), np.sin(theta)], atol=1e-6)


def test_reaching_accuracy_is_velocity_r2():
    task = ReachingTask.synthetic()
    b = task.trials(repeats=1)
    assert task.accuracy(b.targets, b) == 1.0
    y = b.targets.numpy().astype(np.float64).reshape(-1, 2)
    half = 0.5 * b.targets
    expected = 1 - ((0.5 * y - y) ** 2).sum() / ((y - y.mean(0)) ** 2).sum()
    assert task.accuracy(half, b) == pytest.approx(expected, rel=1e-6)


@needs_m1
def test_reaching_aligns_with_the_recording():
    recording = data.load_m1(M1)
    task = ReachingTask.from_recording(M1)
    assert task.n_time == recording.shape[0] and task.dt == pytest.approx(recording.dt)
    columns = ["condition_index", "reach_direction_deg"]
    assert task.conditions().equals(recording.conditions[columns])
    shuffled = recording.conditions.sample(frac=1.0, random_state=0)
    rec = task.trials(shuffled, repeats=2, seed=0)
    assert rec.conditions[columns].equals(shuffled.loc[shuffled.index.repeat(2), columns].reset_index(drop=True))
    assert rec.record_steps.tolist() == list(range(121))
    with np.load(M1, allow_pickle=False) as archive:
        by_direction = {d: i for i, d in enumerate(archive["reach_direction_deg"])}
        for j, direction in enumerate(rec.conditions["reach_direction_deg"]):
            i = by_direction[direction]
            expected = np.stack([archive["xhandspeed"][:, i], archive["yhandspeed"][:, i]], axis=-1)
            assert np.allclose(rec.targets[:, j].numpy(), expected, atol=1e-6)
        go = int(np.flatnonzero(archive["time_ms"] == 0.0)[0])
    assert (rec.inputs[:go, :, 2] == 0).all() and (rec.inputs[go:, :, 2] == 1).all()
    bell = ReachingTask.from_recording(M1, velocity="bell")
    assert bell.conditions().equals(task.conditions()) and bell.velocity.shape == task.velocity.shape


def test_reaching_bad_arguments_name_the_argument():
    task = ReachingTask.synthetic()
    with pytest.raises(ValueError, match="^conditions:"):
        task.trials(pd.DataFrame({"reach_direction_deg": [10.0]}))
    with pytest.raises(ValueError, match="^velocity:"):
        ReachingTask(np.zeros((5, 2)), np.arange(5.0), [0, 1])
    with pytest.raises(ValueError, match="^time_ms:"):
        ReachingTask(np.zeros((5, 2, 2)), [0, 1, 3, 4, 5.0], [0, 90])
    with pytest.raises(ValueError, match="^jitter_ms:"):
        ReachingTask.synthetic(jitter_ms=-1.0)


# ---------------------------------------------------------------------------------------- held-out
def test_held_out_defaults_to_the_training_batch():
    class Plain:  # structural: no held_out
        def batch(self, size, *, seed):
            return ManteTask().batch(size, seed=seed)

    mante = ManteTask()
    a, b = mante.held_out(8, seed=3), mante.batch(8, seed=3)
    assert torch.equal(a.inputs, b.inputs) and a.conditions.equals(b.conditions)
    assert torch.equal(held_out_batch(Plain(), 8, seed=3).inputs, b.inputs)
    assert not torch.equal(held_out_batch(Plain(), 8, seed=4).inputs, b.inputs)


def test_reaching_held_out_adds_the_unjittered_recording_trials():
    task = ReachingTask.synthetic()
    held, jittered, recording = task.held_out(20, seed=5), task.batch(20, seed=5), task.trials()
    assert held.size == 28 and held.conditions["trial_set"].tolist() == ["jittered"] * 20 + ["recording"] * 8
    for name in ("inputs", "targets", "mask"):
        assert torch.equal(getattr(held, name)[:, :20], getattr(jittered, name)), name
        assert torch.equal(getattr(held, name)[:, 20:], getattr(recording, name)), name
    assert (held.mask[:, 20:] == 1).all() and (held.conditions["shift_ms"][20:] == 0).all()
    assert held.conditions[["condition_index", "reach_direction_deg"]][20:].reset_index(drop=True).equals(task.conditions())


def test_reaching_held_out_accuracy_is_the_smaller_r2():
    task = ReachingTask.synthetic()
    held = task.held_out(20, seed=5)

    def r2(yhat, y, mask):  # numpy, over the masked steps
        keep = mask.numpy().astype(bool)
        y, yhat = y.numpy().astype(np.float64)[keep], yhat.numpy().astype(np.float64)[keep]
        return 1 - ((yhat - y) ** 2).sum() / ((y - y.mean(0)) ** 2).sum()

    for bad, good in ((slice(20, None), slice(None, 20)), (slice(None, 20), slice(20, None))):
        outputs = held.targets.clone()
        outputs[:, bad] *= 0.5  # one set fits worse: the accuracy is that set's R²
        expected = r2(outputs[:, bad], held.targets[:, bad], held.mask[:, bad])
        assert expected < 0.99 and r2(outputs[:, good], held.targets[:, good], held.mask[:, good]) == 1.0
        assert task.accuracy(outputs, held) == pytest.approx(expected, rel=1e-6)
    # on the recording trials it is velocity_fit's pooled R² (all 121 bins of the 8 conditions)
    shrunk = torch.as_tensor(0.7 * task.velocity, dtype=torch.float32)
    outputs = held.targets.clone()
    outputs[:, 20:] = shrunk
    assert task.accuracy(outputs, held) == pytest.approx(velocity_fit(lambda x: shrunk[:, :x.shape[1]], task).r2, rel=1e-6)
    # a training batch (no trial_set) keeps the plain masked R²
    b = task.batch(20, seed=5)
    assert task.accuracy(0.5 * b.targets, b) == pytest.approx(r2(0.5 * b.targets, b.targets, b.mask), rel=1e-6)
