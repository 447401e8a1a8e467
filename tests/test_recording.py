"""repalign.recording: record() (shape, alignment by value, repeats, lag, seeding) and the behaviour checks.

Expected values are computed here independently: trial means by an explicit loop, logistic fits with
scikit-learn, R² with numpy.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from repalign import data
from repalign._checks import SettingsError
from repalign.models import RecurrentNetwork, StackedNetworks
from repalign.recording import logistic_fit, psychometric, record, velocity_fit
from repalign.results import Record
from repalign.tasks import ManteTask, ReachingTask

H = 6
M1 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hatsopoulos2007_m1.npz"
DATA_LEVELS = {"motion_strengths": (0.05, 0.15, 0.5), "colour_strengths": (0.06, 0.18, 0.5)}  # mante_like's


def net(cell="CTRNN", activation="ReLU", noise_std=0.0, seed=0):
    return RecurrentNetwork(cell, activation, 7, 3, seed=seed, hidden_size=H, noise_std=noise_std)


# -- record --------------------------------------------------------------------------------------

def test_shape_time_base_and_provenance():
    ds = record(net(), ManteTask(), repeats=2, seed=3, lag=1)
    assert ds.shape == (15, 72, H) and ds.dims == ("time", "condition", "unit") and ds.dt == 0.05
    p = ds.provenance
    assert (p["architecture"], p["network_seed"], p["seed"], p["activity"], p["repeats"], p["lag"]) == (
        ["CTRNN", "ReLU"], 0, 3, "rate", 2, 1)
    assert p["record_steps"] == list(range(8, 23))


def test_conditions_align_with_mante_like_by_value_after_shuffling():
    task = ManteTask(sigma=0.0, **DATA_LEVELS)  # no noise: a condition's activity does not depend on its row
    reference = data.mante_like(n_units=5, seed=0).conditions
    order = np.random.default_rng(0).permutation(72)
    shuffled = reference.iloc[order].reset_index(drop=True)
    network = net()
    full, permuted = record(network, task, reference, repeats=1), record(network, task, shuffled, repeats=1)
    columns = list(reference.columns)
    assert full.conditions[columns].equals(reference)
    assert permuted.conditions[columns].equals(shuffled)  # rows follow the requested order
    np.testing.assert_array_equal(permuted.activity, full.activity[:, order])  # shuffled table = shuffled recording
    # the default table is the task's own, which matches mante_like's row by row at the data's levels
    assert record(network, task, repeats=1).conditions[columns].equals(reference)


def test_repeats_without_noise_are_identical():
    task = ManteTask(sigma=0.0)
    one, five = record(net(), task, repeats=1), record(net(), task, repeats=5, seed=9)
    np.testing.assert_allclose(five.activity, one.activity, rtol=0, atol=1e-12)


def test_repeats_are_averaged_with_noise():
    task, network, R, seed = ManteTask(), net("LowPassCTRNN", "Tanh", noise_std=0.3), 4, 5
    ds = record(network, task, repeats=R, seed=seed)
    batch = task.trials(repeats=R, seed=seed)  # independently: run the trials, average repeat by repeat
    with torch.no_grad():
        _, rates = network(batch.inputs, noise_seed=torch.Generator().manual_seed(seed))
    rates = rates.double().numpy()
    expected = np.zeros((15, 72, H))
    for c in range(72):
        for r in range(R):
            expected[:, c] += rates[7:22, c * R + r] / R
    np.testing.assert_allclose(ds.activity, expected, rtol=0, atol=1e-6)
    single = record(network, task, repeats=1, seed=seed)
    assert not np.allclose(single.activity, ds.activity)  # noise is there and averaging changes it


def test_lag_shifts_the_window_and_leaving_the_trial_is_refused():
    task, network = ManteTask(), net(noise_std=0.1)
    at0, at2 = record(network, task, repeats=2, lag=0), record(network, task, repeats=2, lag=2)
    np.testing.assert_array_equal(at2.activity[:-2], at0.activity[2:])
    assert record(network, task, repeats=1, lag=-7).shape == (15, 72, H)  # from the trial's first step
    n_time = task.trials().n_time
    assert record(network, task, repeats=1, lag=n_time - 22).shape == (15, 72, H)
    for bad in (-8, n_time - 21, 1.5, True):
        with pytest.raises(SettingsError, match="^lag:"):
            record(network, task, repeats=1, lag=bad)


def test_seeding():
    task, network = ManteTask(), net("LSTM", "ReTanh", noise_std=0.2)
    a, b = record(network, task, repeats=2, seed=1), record(network, task, repeats=2, seed=1)
    c = record(network, task, repeats=2, seed=2)
    assert a.equals(b)
    assert not np.allclose(a.activity, c.activity)


def test_state_and_rate():
    task, network = ManteTask(), net()
    rate, state = (record(network, task, repeats=1, activity=kind) for kind in ("rate", "state"))
    np.testing.assert_allclose(rate.activity, np.maximum(state.activity, 0), atol=1e-7)  # CTRNN: r = relu(h)
    assert (state.activity < 0).any()
    with pytest.raises(SettingsError, match="^activity:"):
        record(network, task, activity="spikes")


def test_stack_gives_one_dataset_per_network():
    stack = StackedNetworks("CTRNN", "Tanh", 7, 3, seeds=[4, 7], hidden_size=H)
    task = ManteTask()
    zoo = record([stack], task, repeats=2, seed=0)
    assert list(zoo) == [(("CTRNN", "Tanh"), 4), (("CTRNN", "Tanh"), 7)]
    for k, ((_, seed), ds) in enumerate(zoo.items()):
        alone = record(stack.network(k), task, repeats=2, seed=0)
        np.testing.assert_allclose(ds.activity, alone.activity, atol=1e-5)
        assert ds.provenance["network_seed"] == seed
    with pytest.raises(SettingsError, match="^networks:"):
        record([stack, stack], task, repeats=1)


def test_reaching_recording_on_the_recording_time_base():
    task = ReachingTask.synthetic()
    network = RecurrentNetwork("CTRNN", "Tanh", 3, 2, seed=0, hidden_size=H, dt=10.0)
    order = [3, 0, 7, 1, 2, 6, 5, 4]
    ds = record(network, task, task.conditions().iloc[order], repeats=1)
    assert ds.shape == (121, 8, H) and ds.dt == 0.01
    assert ds.conditions.reach_direction_deg.tolist() == [45.0 * k for k in order]


@pytest.mark.skipif(not M1.is_file(), reason=f"the M1 recording is absent ({M1})")
def test_reaching_conditions_align_with_the_m1_recording_after_shuffling():
    recording = data.load_m1(M1)
    task = ReachingTask.from_recording(M1)
    order = np.random.default_rng(1).permutation(len(recording.conditions))
    shuffled = recording.conditions.iloc[order]
    network = RecurrentNetwork("CTRNN", "Tanh", 3, 2, seed=0, hidden_size=H, dt=10.0)
    full, permuted = record(network, task, recording.conditions, repeats=1), record(network, task, shuffled, repeats=1)
    columns = ["condition_index", "reach_direction_deg"]
    assert full.conditions[columns].equals(recording.conditions[columns])
    assert permuted.conditions[columns].equals(shuffled[columns].reset_index(drop=True))  # the requested order
    assert not np.allclose(full.activity[:, 0], full.activity[:, 1])  # conditions differ: the order matters
    np.testing.assert_array_equal(permuted.activity, full.activity[:, order])
    # by value: each recorded row's direction is the recording's condition of the same index
    by_index = dict(zip(recording.conditions["condition_index"], recording.conditions["reach_direction_deg"]))
    assert [by_index[i] for i in permuted.conditions["condition_index"]] == permuted.conditions["reach_direction_deg"].tolist()
    assert permuted.shape == (121, 8, H) and permuted.dt == pytest.approx(recording.dt)


def test_bad_arguments_name_themselves():
    with pytest.raises(SettingsError, match="^networks:"):
        record(object(), ManteTask())
    with pytest.raises(SettingsError, match="^repeats:"):
        record(net(), ManteTask(), repeats=0)
    with pytest.raises(SettingsError, match="^seed:"):
        record(net(), ManteTask(), seed=-1)


# -- behaviour -----------------------------------------------------------------------------------

def _sklearn_fit(x, p, n, C):
    from sklearn.linear_model import LogisticRegression

    features = np.vstack([x, x])
    labels = np.r_[np.ones(len(x)), np.zeros(len(x))]
    weights = np.r_[p * n, (1 - p) * n]
    model = LogisticRegression(C=C or np.inf, tol=1e-12, max_iter=10_000)
    model.fit(features, labels, sample_weight=weights)
    return model.intercept_[0], model.coef_[0]


def test_logistic_fit_recovers_known_slopes_and_matches_sklearn():
    conditions = ManteTask().conditions()
    x = conditions[["motion", "colour"]].to_numpy()
    true_b0, true_b = -0.3, np.array([9.0, 1.2])
    p = 1 / (1 + np.exp(-(true_b0 + x @ true_b)))
    n = np.full(len(x), 40.0)
    b0, b = logistic_fit(x, p * n, n)
    assert b0 == pytest.approx(true_b0, abs=1e-8) and b == pytest.approx(true_b, abs=1e-8)
    noisy = np.random.default_rng(0).binomial(40, p) / 40.0
    b0, b = logistic_fit(x, noisy * n, n)
    sk0, sk = _sklearn_fit(x, noisy, n, C=None)
    assert b0 == pytest.approx(sk0, abs=1e-4) and b == pytest.approx(sk, abs=1e-4)
    b0, b = logistic_fit(x, noisy * n, n, penalty=2.0)  # sklearn's L2: ½‖w‖² + C·loss, i.e. λ = 1/C
    sk0, sk = _sklearn_fit(x, noisy, n, C=0.5)
    assert b0 == pytest.approx(sk0, abs=1e-4) and b == pytest.approx(sk, abs=1e-4)


def _choice_network(rule):
    """A hand-built 'network': choice 1 when rule(inputs) > 0, from the decision period on (fixation input 0)."""
    def network(x):
        evidence = rule(x)[7:22].mean(0)  # over the stimulus period, noise included
        out = torch.zeros(x.shape[0], x.shape[1], 3)
        out[..., 1] = evidence
        out[..., 2] = -evidence
        return out
    return network


def test_correct_choices_give_gating_slopes():
    correct = _choice_network(lambda x: torch.where(x[..., 5] > 0.5, x[..., 1] - x[..., 2], x[..., 3] - x[..., 4]))
    result = psychometric(correct, ManteTask(sigma=0.0), repeats=4, seed=0)  # without noise: always correct
    gating = result.gating
    assert gating.gated.tolist() == [True, True]
    assert result.slope("motion", "motion") >= 5 * abs(result.slope("motion", "colour"))
    assert result.slope("colour", "colour") >= 5 * abs(result.slope("colour", "motion"))
    t = result.table
    relevant = t[(t.context_name == "motion") & (t.modality == "motion")]
    assert relevant.p_choice1.tolist() == [0, 0, 0, 1, 1, 1]
    irrelevant = t[(t.context_name == "motion") & (t.modality == "colour")]
    np.testing.assert_allclose(irrelevant.p_choice1, 0.5)  # averaged over balanced motion coherences
    assert len(t) == 24 and set(t.n_trials) == {24}


def test_a_motion_only_network_is_not_gated_in_the_colour_context():
    motion_only = _choice_network(lambda x: x[..., 1] - x[..., 2])
    gating = psychometric(motion_only, ManteTask(), repeats=4, seed=0).gating.set_index("context_name")
    assert gating.gated["motion"] and not gating.gated["colour"]


def test_a_network_that_always_makes_one_choice_is_not_gated():
    # both slopes vanish (the fit drives them to ~0); their ratio may be huge or infinite, the choice never swings
    always = _choice_network(lambda x: torch.ones_like(x[..., 1]))
    gating = psychometric(always, ManteTask(sigma=0.0), repeats=2, seed=0).gating
    assert (gating.swing == 0).all() and not gating.gated.any()


def test_psychometric_of_a_network_plot_save_record(tmp_path):
    result = psychometric(net(noise_std=0.1), ManteTask(), repeats=2, seed=0)
    assert len(result.table) == 24 and len(result.fits) == 4
    ax = result.plot()
    axes = ax.figure.axes
    assert len(axes) == 4
    assert [a.get_xlabel() for a in axes] == ["motion coherence", "colour coherence"] * 2
    assert axes[0].get_ylabel() == "P(choice 1)" and axes[0].get_title() == "motion context"
    assert axes[2].get_title() == "colour context"
    labels = [text.get_text() for text in axes[0].get_legend().get_texts()]
    assert labels[0] == "network" and labels[1].startswith("fit, slope")
    paths = result.save(tmp_path / "psychometric")
    assert [p[-3:] for p in paths] == ["png", "pdf", "csv"]
    loaded = Record.load(result.record().save(tmp_path / "psychometric.npz"))
    assert loaded.tables["fits"].equals(result.fits) and loaded.settings["repeats"] == 2


def test_velocity_fit_r2_per_condition(tmp_path):
    task = ReachingTask.synthetic()
    velocity = torch.as_tensor(task.velocity, dtype=torch.float32)
    half = velocity_fit(lambda x: 0.5 * velocity[:, :x.shape[1]], task)
    v = task.velocity  # independently: R² of 0.5 y against y per condition, numpy
    expected = [1 - np.sum((0.5 * v[:, c] - v[:, c]) ** 2) / np.sum((v[:, c] - v[:, c].mean(0)) ** 2)
                for c in range(8)]
    np.testing.assert_allclose(half.table.r2, expected, rtol=1e-6)
    assert velocity_fit(lambda x: velocity[:, :x.shape[1]], task).table.r2.tolist() == [1.0] * 8
    ax = half.plot()
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "x velocity"
    assert ax.figure.axes[1].get_ylabel() == "y velocity" and len(ax.get_lines()) == 16
    assert len(ax.get_legend().get_texts()) == 8
    half.save(tmp_path / "velocity")
    network = RecurrentNetwork("LSTM", "Tanh", 3, 2, seed=0, hidden_size=H, dt=10.0)
    assert len(velocity_fit(network, task, repeats=2).table) == 8
    with pytest.raises(SettingsError, match="^network:"):
        velocity_fit(lambda x: velocity[:5, :x.shape[1]], task)


def test_behaviour_refuses_the_wrong_task():
    reaching = ReachingTask.synthetic()
    with pytest.raises(SettingsError, match="^task:"):
        psychometric(RecurrentNetwork("CTRNN", "Tanh", 3, 2, seed=0, hidden_size=H), reaching, repeats=1)
    with pytest.raises(SettingsError, match="^task:"):
        velocity_fit(net(), ManteTask())
