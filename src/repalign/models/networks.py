"""One recurrent network of the seed paper: its equations, its initialisation, its defaults.

The seed paper (Fig. 2, appendix A.2) scores nine task-trained architectures against recordings:
three cells × three activations ``f``. Every definition here follows the seed code,
``nacloos/diffscore`` (``diffscore/nn/rnn.py`` at commit 4cdd0d0, cited as ``rnn.py:LINE``), with
``α = dt / τ``, input ``u_t``, recurrent noise ``ξ_t ~ N(0, I)`` and ``σ = noise_std``:

- **CTRNN** (``rnn.py:88-104``): the state ``h`` is a membrane potential, the rate is ``r = f(h)``::

      h_t = (1 − α) h_{t−1} + α (W_rec f(h_{t−1}) + b_rec + W_in u_t) + σ ξ_t
      y_t = W_out f(h_t) + b_out

- **LowPassCTRNN** (``rnn.py:132-135``; readout ``rnn.py:26-37``): the state is itself a rate, a
  low-pass filter of ``f`` (noise enters inside ``f``, so its effect on the state scales with ``α``)::

      r_t = (1 − α) r_{t−1} + α f(W_rec r_{t−1} + b_rec + W_in u_t + σ ξ_t)
      y_t = W_out r_t + b_out

- **LSTM** (``rnn.py:172-184``): the gates are the usual ones; **the activation replaces the tanh
  applied to the cell** (``h = o ⊙ f(c)``; the gates stay sigmoid and the candidate ``z`` stays tanh)::

      i, o, g = σ(W_x· u_t + W_h· h_{t−1} + b·)     (input, output, forget gates)
      z = tanh(W_xz u_t + W_hz h_{t−1} + b_z)
      c_t = i ⊙ z + g ⊙ c_{t−1};   h_t = o ⊙ f(c_t) + σ ξ_t;   y_t = W_out h_t + b_out

Activations (``diffscore/nn/activation_fn.py:12-18``): ``ReLU`` = max(x, 0), ``ReTanh`` =
max(tanh x, 0), ``Tanh`` = tanh x. Time is in ms, as in the seed code.

Initialisation (the seed's defaults: ``rec_init=None``, so PyTorch's ``nn.Linear`` scheme, which
draws U(−1/√fan_in, 1/√fan_in) for every weight and bias): ``W_out, b_out, W_rec, b_rec`` and
``W_in`` (no input bias, ``rnn.py:73-74``) uniform with fan_in = hidden (inputs for ``W_in``); the
initial state ``h_0`` (and the LSTM's ``c_0``) zero and trained (``learn_init_state=True``,
``rnn.py:79-81``). LSTM (``rnn.py:143-165``): every weight uniform as above except ``W_hz`` ~ N(0, 1)
(unscaled, ``rnn.py:165``); biases ``b_i = linspace(−1, −10)``, ``b_g = linspace(1, 10)``,
``b_o = b_z = 0``; ``b_out`` is drawn as for the other cells (the seed's zeroed ``fc_y_h2y`` is never
used: its readout is ``fc_out``, ``rnn.py:36``).

Defaults and where they come from: hidden size 100 and τ = 100 ms (the seed's tests,
``tests/test_trainer.py``: ``CTRNN(…, hidden_size=100, tau=100, dt=env.dt)``), dt = 50 ms (the Mante
task, ``diffscore/env/mante.py`` ``env_mante``: ``dt = 50``), σ = 0 (the constructors' default,
``rnn.py:65, 108``); training: Adam with PyTorch's default lr 1e-3 (``diffscore/training/trainer.py``
``configure_optimizers``: ``self.optimizer(self.parameters())``), batch 64 (``trainer.py:43``),
cross-entropy on the outputs (``tests/test_trainer.py``: ``loss_fn="CrossEntropyLoss"``).

Deliberate differences from the seed code:

- every random draw comes from a ``torch.Generator`` seeded by the network's ``seed`` (the seed code
  uses the global RNGs of torch and numpy); the draws are made in float64 and cast, so that one seed
  gives the same network in float32 and float64. The distributions are the seed's, the numbers are not
  PyTorch's ``nn.Linear`` draws.
- the LSTM takes ``noise_std`` like the other cells (the seed's LSTM has no such argument and so no
  noise; with the default σ = 0 the two agree).
- the recorded activity at step ``t`` is the one that produced the output at ``t`` (after the update);
  the seed's ``IterateInput`` (``diffscore/model/wrappers.py:33``) stores the state *before* each
  update, i.e. ``[h_0, h_1, …, h_{T−1}]``: ours shifted by one step, with ``h_0`` first.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from repalign._checks import SettingsError, check_choice, check_count, check_real, check_seed

__all__ = [
    "CELLS", "ACTIVATIONS", "ARCHITECTURES", "RECORDS", "HIDDEN_SIZE", "TAU", "DT", "NOISE_STD",
    "LEARNING_RATE", "BATCH_SIZE", "LOSS", "activation_function", "init_parameters", "RecurrentNetwork",
]

CELLS = ("CTRNN", "LowPassCTRNN", "LSTM")
ACTIVATIONS = ("ReLU", "ReTanh", "Tanh")
#: the seed paper's nine architectures (Fig. 2c,d), as (cell, activation) pairs
ARCHITECTURES = tuple((cell, activation) for cell in CELLS for activation in ACTIVATIONS)
#: what ``forward`` records as a unit's activity (see :meth:`RecurrentNetwork.forward`)
RECORDS = ("rate", "state")

HIDDEN_SIZE = 100     # diffscore tests/test_trainer.py: hidden_size=100
TAU = 100.0           # ms; diffscore tests/test_trainer.py: tau=100
DT = 50.0             # ms; diffscore/env/mante.py env_mante: dt = 50
NOISE_STD = 0.0       # diffscore/nn/rnn.py:65,108: noise_std=0
LEARNING_RATE = 1e-3  # diffscore/training/trainer.py configure_optimizers: Adam's default lr
BATCH_SIZE = 64       # diffscore/training/trainer.py:43: batch_size: int = 64
LOSS = "cross_entropy"  # diffscore tests/test_trainer.py: loss_fn="CrossEntropyLoss"

_FLOATS = (torch.float32, torch.float64)


def _retanh(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(torch.tanh(x), min=0.0)


_ACTIVATION_FUNCTIONS = {"ReLU": torch.relu, "ReTanh": _retanh, "Tanh": torch.tanh}


def activation_function(name: str):
    """The activation ``f`` named ``name``: ReLU max(x, 0), ReTanh max(tanh x, 0), Tanh tanh x.

    >>> activation_function("ReTanh")(torch.tensor([-1.0, 0.0, 1.0]))
    tensor([0.0000, 0.0000, 0.7616])
    """
    return _ACTIVATION_FUNCTIONS[check_choice(name, "activation", ACTIVATIONS)]


def check_settings(cell, activation, n_inputs, n_outputs, hidden_size, tau, dt, noise_std, dtype) -> dict:
    """The checked settings of a network (plain values; ``dtype`` as its name, ``"float32"``...)."""
    check_choice(cell, "cell", CELLS)
    check_choice(activation, "activation", ACTIVATIONS)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None) if dtype in ("float32", "float64") else dtype
    if dtype not in _FLOATS:
        raise SettingsError("dtype", f"expected torch.float32 or torch.float64, got {dtype!r}")
    settings = dict(
        cell=cell, activation=activation,
        n_inputs=check_count(n_inputs, "n_inputs", 1), n_outputs=check_count(n_outputs, "n_outputs", 1),
        hidden_size=check_count(hidden_size, "hidden_size", 1),
        tau=check_real(tau, "tau", low=0.0, inclusive=(False, True)),
        dt=check_real(dt, "dt", low=0.0, inclusive=(False, True)),
        noise_std=check_real(noise_std, "noise_std", low=0.0),
        dtype=str(dtype).removeprefix("torch."),
    )
    return settings


def _uniform(shape, fan_in: int, generator: torch.Generator) -> torch.Tensor:
    bound = fan_in ** -0.5
    return (2.0 * torch.rand(shape, generator=generator, dtype=torch.float64) - 1.0) * bound


def init_parameters(cell: str, n_inputs: int, n_outputs: int, hidden_size: int, seed: int,
                    dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The initial parameters of one network, drawn from ``torch.Generator().manual_seed(seed)``.

    The scheme is the seed code's (module docstring); draws are in float64, in the seed's order of
    construction (readout first), then cast to ``dtype``. Names and shapes (``H`` hidden, ``I`` inputs,
    ``O`` outputs): ``W_out (O, H)``, ``b_out (O,)``, ``h0 (H,)``; CTRNN and LowPassCTRNN ``W_rec (H, H)``,
    ``b_rec (H,)``, ``W_in (H, I)``; LSTM ``W_x (4H, I)``, ``W_h (4H, H)``, ``b (4H,)``, ``c0 (H,)``, the
    four gates stacked in the order input, output, forget, candidate.

    >>> p = init_parameters("CTRNN", 7, 3, 100, seed=0)
    >>> sorted(p), tuple(p["W_rec"].shape), bool(p["W_rec"].abs().max() <= 0.1)
    (['W_in', 'W_out', 'W_rec', 'b_out', 'b_rec', 'h0'], (100, 100), True)
    """
    check_choice(cell, "cell", CELLS)
    g = torch.Generator().manual_seed(check_seed(seed))
    H, I, O = hidden_size, n_inputs, n_outputs
    p = {"W_out": _uniform((O, H), H, g), "b_out": _uniform((O,), H, g)}
    if cell == "LSTM":
        w_x, w_h = [], []
        for gate in ("i", "o", "f", "z"):
            w_x.append(_uniform((H, I), I, g))
            w_h.append(torch.randn((H, H), generator=g, dtype=torch.float64) if gate == "z"
                       else _uniform((H, H), H, g))
        zeros = torch.zeros(H, dtype=torch.float64)
        p["W_x"], p["W_h"] = torch.cat(w_x), torch.cat(w_h)
        p["b"] = torch.cat([torch.linspace(-1, -10, H, dtype=torch.float64), zeros,
                            torch.linspace(1, 10, H, dtype=torch.float64), zeros])
        p["c0"] = zeros.clone()
    else:
        p["W_rec"] = _uniform((H, H), H, g)
        p["b_rec"] = _uniform((H,), H, g)
        p["W_in"] = _uniform((H, I), I, g)
    p["h0"] = torch.zeros(H, dtype=torch.float64)
    return {name: value.to(dtype) for name, value in p.items()}


def lstm_gates(gates: torch.Tensor, c: torch.Tensor, f):
    """One LSTM update from the summed gate inputs ``(..., 4H)``: returns ``(h without noise, c)``."""
    sigmoids, z = gates.split([3 * c.shape[-1], c.shape[-1]], dim=-1)
    i, o, g = torch.sigmoid(sigmoids).chunk(3, dim=-1)  # one call for the three gates
    c = torch.addcmul(g * c, i, torch.tanh(z))
    return o * f(c), c


def check_inputs(inputs, n_inputs: int, dtype: torch.dtype, dims: tuple[int, ...]) -> torch.Tensor:
    """``inputs`` as a finite tensor of ``dtype`` with ``n_inputs`` features and one of ``dims`` dimensions."""
    if not isinstance(inputs, torch.Tensor):
        raise SettingsError("inputs", f"expected a torch tensor, got {type(inputs).__name__}")
    if inputs.dim() not in dims or inputs.shape[-1] != n_inputs:
        shapes = " or ".join({3: "(time, batch, n_inputs)", 4: "(K, time, batch, n_inputs)"}[d] for d in dims)
        raise SettingsError("inputs", f"expected shape {shapes} with n_inputs={n_inputs}, got {tuple(inputs.shape)}")
    if 0 in inputs.shape[:-1]:
        raise SettingsError("inputs", f"expected at least one time step and one trial, got {tuple(inputs.shape)}")
    if not inputs.is_floating_point() and not inputs.dtype == torch.bool:
        raise SettingsError("inputs", f"expected real numbers, got {inputs.dtype}")
    inputs = inputs.to(dtype)
    if not torch.isfinite(inputs).all():
        raise SettingsError("inputs", "contains NaN or infinite values")
    return inputs


def noise_generator(noise_seed, sigma: float = 1.0, what: str = "the network has") -> torch.Generator | None:
    """A ``torch.Generator`` from a seed, or the generator itself; None without noise (``sigma`` 0).

    Recurrent noise without a seed is refused (``noise_seed`` named): every random choice takes a seed.
    """
    if not sigma > 0:
        return None
    if noise_seed is None:
        raise SettingsError("noise_seed", f"{what} recurrent noise (noise_std={sigma:g}): pass a seed or a "
                            "torch.Generator, or noise=False")
    if isinstance(noise_seed, torch.Generator):
        return noise_seed
    return torch.Generator().manual_seed(check_seed(noise_seed, "noise_seed"))


class RecurrentNetwork(torch.nn.Module):
    """One network of the seed paper, stepped as the seed code steps it (one ``F.linear`` per layer and step).

    Args: ``cell`` (CTRNN, LowPassCTRNN, LSTM), ``activation`` (ReLU, ReTanh, Tanh), ``n_inputs``,
    ``n_outputs``, ``seed`` (the initialisation, :func:`init_parameters`), ``hidden_size`` (100),
    ``tau`` (100 ms), ``dt`` (50 ms), ``noise_std`` (σ, 0), ``dtype`` (float32). The equations and the
    source of every default are in the module docstring. :class:`repalign.models.StackedNetworks` holds
    many such networks and evaluates them together; its network ``k`` equals ``RecurrentNetwork`` built
    with ``seeds[k]``.

    >>> net = RecurrentNetwork("CTRNN", "ReLU", n_inputs=7, n_outputs=3, seed=0)
    >>> outputs, activity = net(torch.zeros(40, 64, 7))
    >>> tuple(outputs.shape), tuple(activity.shape)
    ((40, 64, 3), (40, 64, 100))
    """

    def __init__(self, cell: str, activation: str, n_inputs: int, n_outputs: int, seed: int, *,
                 hidden_size: int = HIDDEN_SIZE, tau: float = TAU, dt: float = DT, noise_std: float = NOISE_STD,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        self._settings = check_settings(cell, activation, n_inputs, n_outputs, hidden_size, tau, dt, noise_std,
                                        dtype)
        self._settings["seed"] = check_seed(seed)
        self.dtype = getattr(torch, self._settings["dtype"])
        self.f = activation_function(activation)
        self.alpha = self._settings["dt"] / self._settings["tau"]
        for name, value in init_parameters(cell, n_inputs, n_outputs, hidden_size, seed, self.dtype).items():
            self.register_parameter(name, torch.nn.Parameter(value))

    def settings(self) -> dict:
        """The settings as plain values (cell, activation, sizes, tau, dt, noise_std, dtype name, seed)."""
        return dict(self._settings)

    def forward(self, inputs: torch.Tensor, *, noise_seed=None, noise: bool = True, record: str = "rate"):
        """Run ``inputs (time, batch, n_inputs)`` from the learned initial state.

        Returns ``(outputs (time, batch, n_outputs), activity (time, batch, hidden))``; what ``activity``
        holds and the noise arguments are those of :meth:`repalign.models.StackedNetworks.forward`.
        """
        x = check_inputs(inputs, self._settings["n_inputs"], self.dtype, (3,))
        check_choice(record, "record", RECORDS)
        sigma = self._settings["noise_std"] if noise else 0.0
        g = noise_generator(noise_seed, sigma)
        T, B = x.shape[0], x.shape[1]
        H, a, f = self._settings["hidden_size"], self.alpha, self.f
        h = self.h0.expand(B, H)
        c = self.c0.expand(B, H) if self._settings["cell"] == "LSTM" else None
        outputs, activity = [], []
        for t in range(T):
            xi = torch.randn((B, H), generator=g, dtype=torch.float64).to(self.dtype) * sigma if g else 0.0
            if self._settings["cell"] == "CTRNN":
                h = (1 - a) * h + a * (F.linear(f(h), self.W_rec, self.b_rec) + F.linear(x[t], self.W_in)) + xi
                rate = f(h)
            elif self._settings["cell"] == "LowPassCTRNN":
                h = (1 - a) * h + a * f(F.linear(h, self.W_rec, self.b_rec) + F.linear(x[t], self.W_in) + xi)
                rate = h
            else:
                h, c = lstm_gates(F.linear(x[t], self.W_x, self.b) + F.linear(h, self.W_h), c, f)
                h = h + xi
                rate = h
            outputs.append(F.linear(rate, self.W_out, self.b_out))
            activity.append(rate if record == "rate" else h)
        return torch.stack(outputs), torch.stack(activity)
