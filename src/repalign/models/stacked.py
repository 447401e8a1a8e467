"""K networks of one architecture as stacked parameter tensors, evaluated by batched matrix products.

Training a zoo (the seed paper trains 27 networks: 9 architectures × 3 seeds) network by network
spends its time in many small matrix products and in Python; stacking the ``K`` networks of one
architecture makes each time step one ``torch.baddbmm`` of ``[u_t, r_{t−1}] (K, batch, inputs + hidden)``
with the stacked ``[W_in, W_rec]ᵀ`` (bias added by the same call) and one for the readout. Network ``k``
is initialised from its own ``seeds[k]`` exactly as :class:`~repalign.models.networks.RecurrentNetwork`
is, so that it equals that network built alone; the equations are those of
:mod:`repalign.models.networks`. Each parameter's gradient depends on its own network only, so one
Adam optimizer over the stack updates every network as a separate optimizer would (Adam is
element-wise).

Speed (``bench/bench_models.py``, one training step: 40 steps × batch 64, hidden 100, forward,
cross-entropy, backward, Adam; one thread of this 2-core CPU): the 27-network zoo as 9 stacks of 3 took
216 ms against 308 ms for 27 separate networks (1.42×); the CTRNN and LowPassCTRNN stacks gain
about 2× each, the LSTM about 1.3×: its elementwise gate arithmetic, about 25 kernels per time step
over ``(K, batch, 4H)`` tensors, costs as much per network stacked as alone. Stacks of 9 were no
faster than 3 stacks of 3, and a backward pass written out by hand (each weight gradient as one
product over all time steps) measured no faster than autograd (LSTM: 27 % slower). ``members=``
runs a subset of the stack, so that :func:`repalign.training.train` spends nothing on networks
already at criterion.

Files: :meth:`StackedNetworks.save` writes one ``.npz`` (numpy, no pickle) holding the ``state_dict``
arrays and the settings as JSON; :meth:`StackedNetworks.load` reads it back.
"""

from __future__ import annotations

import json
import os

import numpy as np
import torch

from repalign._checks import SettingsError, check_choice, check_path, check_seed, check_seeds
from repalign.models.networks import (
    DT,
    HIDDEN_SIZE,
    NOISE_STD,
    RECORDS,
    TAU,
    RecurrentNetwork,
    activation_function,
    check_inputs,
    check_settings,
    init_parameters,
    lstm_gates,
    noise_generator,
)

__all__ = ["StackedNetworks"]

_FORMAT = "repalign.models.StackedNetworks/1"


class StackedNetworks(torch.nn.Module):
    """``K`` independent networks of one architecture, one per seed, with stacked parameters ``(K, ...)``.

    Args: ``cell`` (CTRNN, LowPassCTRNN, LSTM), ``activation`` (ReLU, ReTanh, Tanh), ``n_inputs``,
    ``n_outputs``, ``seeds`` (one per network; an integer ``s`` alone means the single seed ``s``),
    ``hidden_size`` (100), ``tau`` (100 ms), ``dt`` (50 ms), ``noise_std`` (σ, 0), ``dtype`` (float32).
    Parameters are those of :func:`~repalign.models.networks.init_parameters` with a leading axis ``K``
    (``W_rec (K, H, H)``...). ``len(stack)`` is ``K``; ``stack.network(k)`` returns network ``k`` as a
    :class:`~repalign.models.networks.RecurrentNetwork` (a copy).

    >>> stack = StackedNetworks("LowPassCTRNN", "ReTanh", n_inputs=7, n_outputs=3, seeds=[0, 1, 2])
    >>> outputs, activity = stack(torch.zeros(40, 64, 7))
    >>> tuple(outputs.shape), tuple(activity.shape), tuple(stack.W_rec.shape)
    ((3, 40, 64, 3), (3, 40, 64, 100), (3, 100, 100))
    """

    def __init__(self, cell: str, activation: str, n_inputs: int, n_outputs: int, seeds, *,
                 hidden_size: int = HIDDEN_SIZE, tau: float = TAU, dt: float = DT, noise_std: float = NOISE_STD,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        self._settings = check_settings(cell, activation, n_inputs, n_outputs, hidden_size, tau, dt, noise_std,
                                        dtype)
        if isinstance(seeds, (list, tuple, np.ndarray)):
            seeds = check_seeds(list(seeds), len(seeds), "seeds")
            if not seeds:
                raise SettingsError("seeds", "expected at least one seed, got none")
        else:
            seeds = [check_seed(seeds, "seeds")]
        self._settings["seeds"] = seeds
        self.dtype = getattr(torch, self._settings["dtype"])
        self.f = activation_function(activation)
        self.alpha = self._settings["dt"] / self._settings["tau"]
        members = [init_parameters(cell, n_inputs, n_outputs, hidden_size, s, self.dtype) for s in seeds]
        for name in members[0]:
            self.register_parameter(name, torch.nn.Parameter(torch.stack([m[name] for m in members])))

    def __len__(self) -> int:
        return len(self._settings["seeds"])

    @property
    def seeds(self) -> list[int]:
        """The seed of each network, in stack order."""
        return list(self._settings["seeds"])

    def settings(self) -> dict:
        """The settings as plain values (cell, activation, sizes, tau, dt, noise_std, dtype name, seeds)."""
        return {**self._settings, "seeds": list(self._settings["seeds"])}

    def network(self, k: int) -> RecurrentNetwork:
        """Network ``k`` alone, as a :class:`~repalign.models.networks.RecurrentNetwork` with a copy of its weights."""
        if not isinstance(k, int) or not -len(self) <= k < len(self):
            raise SettingsError("k", f"expected a network index in [0, {len(self)}), got {k!r}")
        s = {key: value for key, value in self._settings.items() if key not in ("seeds", "dtype")}
        net = RecurrentNetwork(s.pop("cell"), s.pop("activation"), s.pop("n_inputs"), s.pop("n_outputs"),
                               self.seeds[k], dtype=self.dtype, **s)
        with torch.no_grad():
            for name, parameter in net.named_parameters():
                parameter.copy_(getattr(self, name)[k])
        return net

    def forward(self, inputs: torch.Tensor, *, noise_seed=None, noise: bool = True, record: str = "rate",
                members=None):
        """Run every network (or the ``members`` listed) from its learned initial state.

        ``inputs``: ``(time, batch, n_inputs)``, the same trials for every network, or
        ``(K, time, batch, n_inputs)``, trials per network. Returns ``outputs (K, time, batch, n_outputs)``
        and ``activity (K, time, batch, hidden)``, the activity at step ``t`` being the one that produced
        the output at ``t``:

        - ``record="rate"`` (default): what the readout sees, a unit's firing rate. CTRNN: ``f(h_t)``;
          LowPassCTRNN: its state ``r_t`` (already a rate); LSTM: ``h_t = o ⊙ f(c_t)`` (+ noise).
        - ``record="state"``: the state the seed code records (``IterateInput.states``). CTRNN: the
          pre-activation potential ``h_t``; LowPassCTRNN and LSTM: the same as ``"rate"``.

        ``members``: indices of the networks to run (default all), in the order of the outputs; ``K``
        is then their number, and 4-dimensional ``inputs`` hold one input set per member, in the same
        order. Training runs only the networks not yet at criterion; gradients reach the listed
        networks only.

        Noise: with ``noise_std`` σ > 0 and ``noise=True``, ``noise_seed`` (an integer or a
        ``torch.Generator``) is required, and the draws ``ξ (time, K, batch, hidden)`` for all ``K``
        networks of the stack come from it in float64 (a member receives its own network's draws,
        whichever others run); ``noise=False`` or σ = 0 runs without noise (no draw).
        """
        s = self._settings
        H, a, f = s["hidden_size"], self.alpha, self.f
        index = self._members(members)
        K = len(self) if index is None else len(index)
        x = check_inputs(inputs, s["n_inputs"], self.dtype, (3, 4))
        if x.dim() == 4 and x.shape[0] != K:
            raise SettingsError("inputs", f"expected {K} input sets (one per network) on axis 0, got {x.shape[0]}")
        check_choice(record, "record", RECORDS)
        T, B = x.shape[-3], x.shape[-2]
        sigma = s["noise_std"] if noise else 0.0
        xi = None
        g = noise_generator(noise_seed, sigma, "the networks have")
        if g is not None:
            xi = (torch.randn((T, len(self), B, H), generator=g, dtype=torch.float64) * sigma).to(self.dtype)
            xi = xi if index is None else xi[:, index]  # (time, K, batch, hidden)
        cell = s["cell"]
        lstm = cell == "LSTM"
        p = {name: (value if index is None else value[index]) for name, value in self.named_parameters()}
        # one product per step: [u_t, r_{t-1}] (K, B, I + H) × [W_in, W_rec]ᵀ (K, I + H, H or 4H), the
        # bias added by the same call (faster here than a drive precomputed for all steps)
        weights = torch.cat([p["W_x"], p["W_h"]] if lstm else [p["W_in"], p["W_rec"]], dim=2).transpose(1, 2)
        weights = weights.contiguous()
        bias = (p["b"] if lstm else p["b_rec"])[:, None, :]
        if x.dim() == 3:
            x = x.expand(K, T, B, s["n_inputs"])
        if xi is not None and cell == "CTRNN":
            xi = xi / a  # (1 − α) h + α (W f(h) + d) + σξ = (1 − α) h + α (W f(h) + d + σξ/α)
        w_out_t, b_out = p["W_out"].transpose(1, 2), p["b_out"][:, None, :]
        h = p["h0"][:, None, :].expand(K, B, H)
        c = p["c0"][:, None, :].expand(K, B, H) if lstm else None
        r = f(h) if cell == "CTRNN" else h
        outputs, activity = [], []
        for t in range(T):
            drive = torch.baddbmm(bias, torch.cat([x[:, t], r], dim=2), weights)
            if xi is not None and not lstm:
                drive = drive + xi[t]
            if cell == "CTRNN":  # r = f(h_{t-1}) is both the last step's rate and this step's recurrent input
                h = torch.lerp(h, drive, a)  # (1 − α) h + α (...)
                r = f(h)
            elif cell == "LowPassCTRNN":
                h = r = torch.lerp(h, f(drive), a)
            else:
                h, c = lstm_gates(drive, c, f)
                if xi is not None:
                    h = h + xi[t]
                r = h
            outputs.append(torch.baddbmm(b_out, r, w_out_t))
            activity.append(r if record == "rate" else h)
        return torch.stack(outputs, dim=1), torch.stack(activity, dim=1)

    def _members(self, members):
        """``members`` as a tensor of distinct indices, in the order given, or None for all networks."""
        if members is None:
            return None
        problem = f"expected a list of distinct network indices in [0, {len(self)}), got {members!r}"
        if isinstance(members, (torch.Tensor, np.ndarray)):
            if members.dtype in (torch.bool, np.bool_):
                raise SettingsError("members", f"{problem} (a boolean mask: pass the indices it selects)")
            members = members.tolist()
        if not isinstance(members, (list, tuple, range)):
            raise SettingsError("members", problem)
        items = list(members)
        if (not items or len(set(items)) != len(items)
                or not all(isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))
                           and 0 <= k < len(self) for k in items)):
            raise SettingsError("members", problem)
        return torch.as_tensor([int(k) for k in items])

    def save(self, path) -> str:
        """Write the networks to ``path`` (one ``.npz``: ``state_dict`` arrays and the settings as JSON); returns it."""
        path = check_path(path, "path")
        if not path.endswith(".npz"):
            raise SettingsError("path", f"expected a .npz file, got {path!r}")
        arrays = {f"param/{name}": value.detach().cpu().numpy() for name, value in self.state_dict().items()}
        np.savez(path, format=np.array(_FORMAT), settings=np.array(json.dumps(self.settings())), **arrays)
        return path

    @classmethod
    def load(cls, path) -> StackedNetworks:
        """The networks saved by :meth:`save` (read without pickle; a file of another kind is refused).

        >>> import tempfile, os
        >>> stack = StackedNetworks("LSTM", "Tanh", 7, 3, seeds=[4, 5], hidden_size=8)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     same = StackedNetworks.load(stack.save(os.path.join(folder, "zoo.npz")))
        >>> same.seeds, bool(torch.equal(same.W_h, stack.W_h))
        ([4, 5], True)
        """
        path = check_path(path, "path")
        if not os.path.isfile(path):
            raise SettingsError("path", f"no such file: {path!r}")
        try:
            with np.load(path, allow_pickle=False) as file:
                if "format" not in file.files or str(file["format"]) != _FORMAT:
                    raise SettingsError("path", f"{path!r} is not a file written by StackedNetworks.save")
                settings = json.loads(str(file["settings"]))
                state = {name.removeprefix("param/"): torch.from_numpy(file[name].copy())
                         for name in file.files if name.startswith("param/")}
        except (OSError, ValueError) as error:
            if isinstance(error, SettingsError):
                raise
            raise SettingsError("path", f"cannot read {path!r}: {error}") from None
        stack = cls(settings.pop("cell"), settings.pop("activation"), settings.pop("n_inputs"),
                    settings.pop("n_outputs"), settings.pop("seeds"), dtype=getattr(torch, settings.pop("dtype")),
                    **settings)
        stack.load_state_dict(state)
        return stack
