"""The seed paper's recurrent networks (repalign.models): equations against a hand-written numpy loop,
initialisation, stacked against separately built networks, noise, gradients, files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from repalign._checks import SettingsError
from repalign.models import (
    ARCHITECTURES,
    BATCH_SIZE,
    DT,
    HIDDEN_SIZE,
    LEARNING_RATE,
    TAU,
    RecurrentNetwork,
    StackedNetworks,
    init_parameters,
)

N_IN, N_OUT = 7, 3


def numpy_f(name):
    return {"ReLU": lambda x: np.maximum(x, 0.0), "ReTanh": lambda x: np.maximum(np.tanh(x), 0.0),
            "Tanh": np.tanh}[name]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_run(cell, activation, params, x, alpha, noise=None):
    """The seed code's equations (diffscore/nn/rnn.py), one trial set, written out in float64 numpy.

    ``params``: one network's arrays; ``x``: (T, B, I); ``noise``: (T, B, H) already scaled, or None.
    Returns outputs (T, B, O), rates (T, B, H), states (T, B, H).
    """
    f = numpy_f(activation)
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    T, B, _ = x.shape
    H = p["h0"].shape[0]
    h = np.tile(p["h0"], (B, 1))
    c = np.tile(p["c0"], (B, 1)) if cell == "LSTM" else None
    outs, rates, states = [], [], []
    for t in range(T):
        xi = 0.0 if noise is None else noise[t]
        if cell == "CTRNN":
            r = f(h)
            h = (1 - alpha) * h + alpha * (r @ p["W_rec"].T + p["b_rec"] + x[t] @ p["W_in"].T) + xi
            rate = f(h)
        elif cell == "LowPassCTRNN":
            h = (1 - alpha) * h + alpha * f(h @ p["W_rec"].T + p["b_rec"] + x[t] @ p["W_in"].T + xi)
            rate = h
        else:
            Wx, Wh, b = p["W_x"], p["W_h"], p["b"]
            gate = [x[t] @ Wx[k * H:(k + 1) * H].T + h @ Wh[k * H:(k + 1) * H].T + b[k * H:(k + 1) * H]
                    for k in range(4)]
            i, o, g, z = sigmoid(gate[0]), sigmoid(gate[1]), sigmoid(gate[2]), np.tanh(gate[3])
            c = i * z + g * c
            h = o * f(c) + xi
            rate = h
        outs.append(rate @ p["W_out"].T + p["b_out"])
        rates.append(rate)
        states.append(h)
    return np.stack(outs), np.stack(rates), np.stack(states)


def trial_inputs(T=6, B=4, seed=0, dtype=torch.float64):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=(T, B, N_IN))).to(dtype)


def test_seed_defaults():
    assert (HIDDEN_SIZE, TAU, DT, LEARNING_RATE, BATCH_SIZE) == (100, 100.0, 50.0, 1e-3, 64)
    assert len(ARCHITECTURES) == 9 and len(set(ARCHITECTURES)) == 9


@pytest.mark.parametrize("cell, activation", ARCHITECTURES)
def test_shapes_of_every_architecture(cell, activation):
    stack = StackedNetworks(cell, activation, N_IN, N_OUT, seeds=[0, 1])
    x = torch.zeros(5, 3, N_IN)
    for record in ("rate", "state"):
        outputs, activity = stack(x, record=record)
        assert outputs.shape == (2, 5, 3, N_OUT) and activity.shape == (2, 5, 3, HIDDEN_SIZE)
        assert outputs.dtype == torch.float32
    outputs, activity = stack(torch.zeros(2, 5, 3, N_IN))  # inputs per network
    assert outputs.shape == (2, 5, 3, N_OUT)
    single_out, single_act = RecurrentNetwork(cell, activation, N_IN, N_OUT, seed=0)(x)
    assert single_out.shape == (5, 3, N_OUT) and single_act.shape == (5, 3, HIDDEN_SIZE)


@pytest.mark.parametrize("cell, activation", ARCHITECTURES)
def test_update_equals_a_hand_written_loop_of_the_seed_equations(cell, activation):
    stack = StackedNetworks(cell, activation, N_IN, N_OUT, seeds=[5, 6], hidden_size=16, dtype=torch.float64)
    with torch.no_grad():  # non-zero initial states so that the first step exercises every term
        stack.h0.copy_(torch.linspace(-0.5, 0.7, 16))
        if cell == "LSTM":
            stack.c0.copy_(torch.linspace(0.4, -0.3, 16))
    x = trial_inputs()
    outputs, rates = stack(x)
    _, states = stack(x, record="state")
    for k in range(2):
        params = {name: value[k].detach().numpy() for name, value in stack.named_parameters()}
        out, rate, state = numpy_run(cell, activation, params, x.numpy(), DT / TAU)
        np.testing.assert_allclose(outputs[k].detach().numpy(), out, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(rates[k].detach().numpy(), rate, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(states[k].detach().numpy(), state, rtol=1e-12, atol=1e-12)
        single = stack.network(k)
        out1, rate1 = single(x)
        np.testing.assert_allclose(out1.detach().numpy(), out, rtol=1e-12, atol=1e-12)
    if cell == "CTRNN":  # the state is the pre-activation potential, the rate its image
        f = numpy_f(activation)
        np.testing.assert_allclose(rates.detach().numpy(), f(states.detach().numpy()), atol=1e-15)
        assert not torch.allclose(rates, states)
    else:
        assert torch.equal(rates, states)


@pytest.mark.parametrize("cell, activation", ARCHITECTURES)
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
def test_a_stacked_network_equals_the_same_network_built_alone(cell, activation, dtype, tol):
    seeds = [3, 17, 2**40]
    stack = StackedNetworks(cell, activation, N_IN, N_OUT, seeds=seeds, dtype=dtype)
    x = trial_inputs(T=8, B=5, dtype=dtype)
    outputs, activity = stack(x)
    for k, seed in enumerate(seeds):
        alone = RecurrentNetwork(cell, activation, N_IN, N_OUT, seed=seed, dtype=dtype)
        for name, parameter in alone.named_parameters():
            assert parameter.dtype == dtype
            torch.testing.assert_close(getattr(stack, name)[k], parameter, rtol=0, atol=tol)
        out, act = alone(x)
        torch.testing.assert_close(outputs[k], out, rtol=0, atol=tol)
        torch.testing.assert_close(activity[k], act, rtol=0, atol=tol)


def test_initialisation_follows_the_seed_scheme():
    H = 200
    p = init_parameters("CTRNN", N_IN, N_OUT, H, seed=1, dtype=torch.float64)
    for name, fan_in in [("W_rec", H), ("b_rec", H), ("W_out", H), ("b_out", H), ("W_in", N_IN)]:
        bound = 1 / math.sqrt(fan_in)
        assert p[name].abs().max() <= bound
        if p[name].numel() >= 1000:  # U(-b, b) reaches near b and has variance b^2 / 3
            assert p[name].abs().max() > 0.99 * bound
            assert abs(p[name].var().item() - bound**2 / 3) < 0.05 * bound**2 / 3
    assert torch.equal(p["h0"], torch.zeros(H, dtype=torch.float64))
    q = init_parameters("LSTM", N_IN, N_OUT, H, seed=1, dtype=torch.float64)
    b_i, b_o, b_f, b_z = q["b"].chunk(4)
    np.testing.assert_allclose(b_i.numpy(), np.linspace(-1, -10, H))
    np.testing.assert_allclose(b_f.numpy(), np.linspace(1, 10, H))
    assert not b_o.any() and not b_z.any() and not q["c0"].any()
    w_hz = q["W_h"][3 * H:]
    assert abs(w_hz.std().item() - 1.0) < 0.02                      # N(0, 1), unscaled
    assert q["W_h"][:3 * H].abs().max() <= 1 / math.sqrt(H)          # the other gates uniform
    assert q["W_x"].abs().max() <= 1 / math.sqrt(N_IN)


def test_seeds_decide_the_weights():
    a = init_parameters("LowPassCTRNN", N_IN, N_OUT, 50, seed=9)
    b = init_parameters("LowPassCTRNN", N_IN, N_OUT, 50, seed=9)
    c = init_parameters("LowPassCTRNN", N_IN, N_OUT, 50, seed=10)
    d = init_parameters("LowPassCTRNN", N_IN, N_OUT, 50, seed=9, dtype=torch.float64)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["W_rec"], c["W_rec"])
    assert all(torch.equal(a[k], d[k].float()) for k in a)  # one seed, one network in either precision


@pytest.mark.parametrize("cell", ["CTRNN", "LowPassCTRNN", "LSTM"])
def test_noise_is_seeded(cell):
    stack = StackedNetworks(cell, "Tanh", N_IN, N_OUT, seeds=[0, 1], hidden_size=20, noise_std=0.1)
    x = trial_inputs(dtype=torch.float32)
    first, _ = stack(x, noise_seed=4)
    again, _ = stack(x, noise_seed=torch.Generator().manual_seed(4))
    other, _ = stack(x, noise_seed=5)
    clean, _ = stack(x, noise=False)
    assert torch.equal(first, again)
    assert not torch.allclose(first, other) and not torch.allclose(first, clean)
    with pytest.raises(ValueError, match="noise_seed"):
        stack(x)
    with pytest.raises(ValueError, match="noise_seed"):
        RecurrentNetwork(cell, "Tanh", N_IN, N_OUT, seed=0, noise_std=0.1)(x)
    quiet = StackedNetworks(cell, "Tanh", N_IN, N_OUT, seeds=[0, 1], hidden_size=20)  # noise_std = 0
    assert torch.equal(quiet(x)[0], quiet(x, noise_seed=1)[0])


def test_noise_enters_as_the_seed_code_adds_it():
    sigma, T, B, H = 0.3, 60, 400, 50
    alpha = DT / TAU
    x = torch.zeros(T, B, N_IN, dtype=torch.float64)
    # CTRNN with zero weights: h_t = (1 - α) h_{t-1} + σ ξ_t, an AR(1) process
    net = StackedNetworks("CTRNN", "Tanh", N_IN, N_OUT, seeds=[0], hidden_size=H, noise_std=sigma,
                          dtype=torch.float64)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    _, h = net(x, noise_seed=0, record="state")
    first = h[0, 0].flatten()
    assert abs(first.std().item() - sigma) < 0.03 * sigma and abs(first.mean().item()) < 0.05 * sigma
    stationary = sigma**2 / (1 - (1 - alpha) ** 2)
    assert abs(h[0, -1].var().item() - stationary) < 0.05 * stationary
    lag1 = torch.mean(h[0, -1] * h[0, -2]).item() / stationary
    assert abs(lag1 - (1 - alpha)) < 0.05
    # LowPassCTRNN: the noise enters inside f; from r_0 = 0, r_1 = α ReLU(σ ξ), mean α σ / sqrt(2π)
    low = StackedNetworks("LowPassCTRNN", "ReLU", N_IN, N_OUT, seeds=[0], hidden_size=H, noise_std=sigma,
                          dtype=torch.float64)
    with torch.no_grad():
        for p in low.parameters():
            p.zero_()
    _, r = low(x, noise_seed=0)
    r1 = r[0, 0].flatten()
    assert abs(r1.mean().item() - alpha * sigma / math.sqrt(2 * math.pi)) < 0.03 * alpha * sigma
    assert (r1 >= 0).all() and abs((r1 == 0).double().mean().item() - 0.5) < 0.02
    # LSTM: the noise is added to h after the update
    lstm = StackedNetworks("LSTM", "Tanh", N_IN, N_OUT, seeds=[0], hidden_size=H, noise_std=sigma,
                           dtype=torch.float64)
    _, noisy = lstm(x[:1], noise_seed=0)
    _, clean = lstm(x[:1], noise=False)
    step = (noisy - clean).flatten()
    assert abs(step.std().item() - sigma) < 0.03 * sigma


@pytest.mark.parametrize("cell", ["CTRNN", "LowPassCTRNN", "LSTM"])
def test_a_training_step_reduces_the_loss_of_every_network(cell):
    stack = StackedNetworks(cell, "ReTanh" if cell != "LSTM" else "Tanh", N_IN, N_OUT, seeds=[0, 1, 2],
                            hidden_size=32, noise_std=0.05)
    x = trial_inputs(T=10, B=16, dtype=torch.float32)
    target = torch.from_numpy(np.random.default_rng(1).integers(0, N_OUT, size=(10, 16)))
    optimizer = torch.optim.Adam(stack.parameters(), lr=LEARNING_RATE * 10)

    def losses(noise_seed):
        outputs, _ = stack(x, noise_seed=noise_seed)
        return torch.stack([torch.nn.functional.cross_entropy(o.reshape(-1, N_OUT), target.flatten())
                            for o in outputs])

    with torch.no_grad():
        before = losses(0)
    for step in range(20):
        optimizer.zero_grad()
        losses(step).sum().backward()
        optimizer.step()
    with torch.no_grad():
        after = losses(0)
    assert (after < before - 0.05).all(), (before, after)


def test_gradients_stay_within_their_network():
    stack = StackedNetworks("CTRNN", "ReLU", N_IN, N_OUT, seeds=[0, 1, 2], hidden_size=12)
    outputs, _ = stack(trial_inputs(dtype=torch.float32))
    outputs[1].square().sum().backward()
    for name, p in stack.named_parameters():
        assert p.grad[1].abs().sum() > 0 or name == "h0", name
        assert not p.grad[0].any() and not p.grad[2].any(), name


def _perturbed_stack(cell, activation, seeds=(0, 1), hidden_size=6, noise_std=0.0):
    """A float64 stack whose weights, biases and initial states are moved off their initial values
    (h0 = 0 would hide its gradient's activation slope)."""
    stack = StackedNetworks(cell, activation, N_IN, N_OUT, seeds=list(seeds), hidden_size=hidden_size,
                            noise_std=noise_std, dtype=torch.float64)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in stack.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=torch.float64))
    return stack


@pytest.mark.parametrize("cell, activation", ARCHITECTURES)
@pytest.mark.parametrize("record", ["rate", "state"])
def test_stacked_gradients_equal_those_of_the_network_built_alone(cell, activation, record):
    """Gradients through StackedNetworks' batched stepping against those through RecurrentNetwork
    (the seed code's per-step F.linear stepping), for a loss on the outputs and on the recorded
    activity, at weights and initial states moved off their initial values."""
    stack = _perturbed_stack(cell, activation)
    x = trial_inputs(T=7, B=3)

    def loss(outputs, activity):
        return (outputs ** 2).sum() + (activity ** 3).sum()

    outputs, activity = stack(x, record=record)
    names = [n for n, _ in stack.named_parameters()]
    grads = dict(zip(names, torch.autograd.grad(loss(outputs, activity), list(stack.parameters()))))
    for k in range(len(stack)):
        alone = stack.network(k)
        out, act = alone(x, record=record)
        torch.testing.assert_close(out, outputs[k].detach(), rtol=0, atol=1e-12)
        expected = dict(zip(names, torch.autograd.grad(loss(out, act), [getattr(alone, n) for n in names])))
        for name in names:
            torch.testing.assert_close(grads[name][k], expected[name], rtol=1e-10, atol=1e-12, msg=name)


def test_members_run_a_subset_with_its_own_noise_and_gradients():
    stack = _perturbed_stack("LSTM", "ReTanh", seeds=(0, 1, 2), noise_std=0.05)
    x = trial_inputs(T=5, B=4)
    full, full_activity = stack(x, noise_seed=3)
    part, part_activity = stack(x, noise_seed=3, members=[2, 0])  # in the order given
    torch.testing.assert_close(part, full[[2, 0]], rtol=0, atol=0)
    torch.testing.assert_close(part_activity, full_activity[[2, 0]], rtol=0, atol=0)
    # per-member inputs follow the same order: member 2's set first
    own = torch.stack([trial_inputs(T=5, B=4, seed=9), x])
    alone = stack(own, noise_seed=3, members=[2, 0])[0]
    torch.testing.assert_close(alone[0], stack(own[0], noise_seed=3)[0][2], rtol=0, atol=0)
    part.sum().backward()
    for name, p in stack.named_parameters():
        assert not p.grad[1].any(), name
    with pytest.raises(SettingsError, match="^members:"):
        stack(x, members=[0, 0])
    with pytest.raises(SettingsError, match="^members:"):
        stack(x, members=[3])
    with pytest.raises(SettingsError, match="^members:.*boolean"):
        stack(x, members=torch.tensor([True, False, True]))
    with pytest.raises(SettingsError, match="^members:"):
        stack(x, members=[True, False])
    with pytest.raises(SettingsError, match="^members:"):
        stack(x, members=1)
    with pytest.raises(SettingsError, match="^inputs:"):
        stack(x.expand(3, *x.shape), members=[0, 1])


def test_save_and_load_round_trip(tmp_path):
    stack = StackedNetworks("LSTM", "ReLU", N_IN, N_OUT, seeds=[2, 8], hidden_size=10, tau=80.0, dt=20.0,
                            noise_std=0.02, dtype=torch.float64)
    with torch.no_grad():
        stack.W_out.add_(1.0)  # a trained network is not its initialisation
    path = stack.save(tmp_path / "zoo.npz")
    same = StackedNetworks.load(path)
    assert same.settings() == stack.settings()
    assert same.settings()["dtype"] == "float64" and same.dtype == torch.float64
    for (name, a), (_, b) in zip(stack.state_dict().items(), same.state_dict().items()):
        assert torch.equal(a, b), name
    x = trial_inputs(dtype=torch.float64)
    assert torch.equal(stack(x, noise_seed=1)[0], same(x, noise_seed=1)[0])
    with np.load(path, allow_pickle=False) as file:  # plain arrays, no pickled object
        assert all(file[name].dtype != object for name in file.files)
    np.savez(tmp_path / "other.npz", activity=np.zeros(3))
    with pytest.raises(ValueError, match="path"):
        StackedNetworks.load(tmp_path / "other.npz")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="path"):
        StackedNetworks.load(tmp_path / "broken.npz")
    with pytest.raises(ValueError, match="path"):
        StackedNetworks.load(tmp_path / "missing.npz")


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="^cell"):
        StackedNetworks("GRU", "Tanh", N_IN, N_OUT, seeds=[0])
    with pytest.raises(ValueError, match="^activation"):
        StackedNetworks("CTRNN", "Sigmoid", N_IN, N_OUT, seeds=[0])
    with pytest.raises(ValueError, match="^seeds"):
        StackedNetworks("CTRNN", "Tanh", N_IN, N_OUT, seeds=[])
    with pytest.raises(ValueError, match="^seeds"):
        StackedNetworks("CTRNN", "Tanh", N_IN, N_OUT, seeds=[-1])
    with pytest.raises(ValueError, match="^tau"):
        StackedNetworks("CTRNN", "Tanh", N_IN, N_OUT, seeds=[0], tau=0)
    with pytest.raises(ValueError, match="^dtype"):
        StackedNetworks("CTRNN", "Tanh", N_IN, N_OUT, seeds=[0], dtype=torch.float16)
    stack = StackedNetworks("CTRNN", "Tanh", N_IN, N_OUT, seeds=[0, 1], hidden_size=4)
    with pytest.raises(ValueError, match="^inputs"):
        stack(torch.zeros(5, 2, N_IN + 1))
    with pytest.raises(ValueError, match="^inputs"):
        stack(torch.zeros(3, 5, 2, N_IN))
    with pytest.raises(ValueError, match="^inputs"):
        stack(torch.full((5, 2, N_IN), float("nan")))
    with pytest.raises(ValueError, match="^inputs"):
        stack(np.zeros((5, 2, N_IN)))
    with pytest.raises(ValueError, match="^record"):
        stack(torch.zeros(5, 2, N_IN), record="potential")
    with pytest.raises(ValueError, match="^k"):
        stack.network(2)
