r"""The recurrence of K stacked networks over a whole sequence, with its backward pass written out.

:class:`~repalign.models.StackedNetworks` runs its networks through :func:`recurrence`, one
``torch.autograd.Function`` for the whole sequence rather than a graph of about ten autograd nodes
per time step. The forward pass is the loop of :mod:`repalign.models.networks`'s equations; the
backward pass is backpropagation through time written by hand (below), with two gains over
autograd: no per-step graph bookkeeping, and the weight gradient computed as **one** batched
product over all steps, :math:`\partial L/\partial W = \sum_t [u_t, r_{t-1}]^\top \delta_t`
= ``bmm(Cᵀ (K, I + H, T·B), Δ (K, T·B, G))``, instead of T small products and T additions.
Floating-point work is that of autograd; ``bench/bench_models.py`` measures the time.

Notation (per network; ``a = α = dt / τ``, ``W = [W_in; W_rec]`` of shape ``(I + H, G)``,
``G = H`` or ``4H`` for the LSTM, ``u_t`` the input, ``ξ_t`` the scaled recurrent noise, a
constant; ``ḡ_t = ∂L/∂r_t`` arriving from the readout, ``s̄_t = ∂L/∂h_t`` from the recorded
state; ``D_t`` the total gradient of the step's state, ``D_{T+1} = 0``):

- **CTRNN**: :math:`z_t = [u_t, f(h_{t-1})] W + b + ξ_t/a`, :math:`h_t = h_{t-1} + a (z_t - h_{t-1})`:
  :math:`D_t = s̄_t + f'(h_t) (ḡ_t + δ_{t+1} W_{rec}^\top) + (1 - a) D_{t+1}`, :math:`δ_t = a D_t`;
  :math:`\partial L/\partial h_0 = \sum_b f'(h_0) δ_1 W_{rec}^\top + (1 - a) D_1`.
- **LowPassCTRNN**: :math:`r_t = r_{t-1} + a (f(z_t) - r_{t-1})`, :math:`z_t = [u_t, r_{t-1}] W + b + ξ_t`:
  :math:`D_t = ḡ_t + δ_{t+1} W_{rec}^\top + (1 - a) D_{t+1}`, :math:`δ_t = a f'(z_t) D_t`.
- **LSTM**: gates :math:`i, o, g = σ(z^{i,o,g}_t)`, :math:`v = \tanh z^{v}_t`,
  :math:`c_t = g c_{t-1} + i v`, :math:`h_t = o f(c_t) + ξ_t`, :math:`z_t = [u_t, h_{t-1}] W + b`:
  :math:`D^h_t = ḡ_t + δ_{t+1} W_{rec}^\top`,
  :math:`D^c_t = D^h_t\, o_t f'(c_t) + D^c_{t+1} g_{t+1}`, and
  :math:`δ_t = [D^c_t v_t\, i_t(1 - i_t),\ D^h_t f(c_t)\, o_t(1 - o_t),\ D^c_t c_{t-1}\, g_t(1 - g_t),\ D^c_t i_t (1 - v_t^2)]`;
  :math:`\partial L/\partial h_0 = \sum_b δ_1 W_{rec}^\top`, :math:`\partial L/\partial c_0 = \sum_b D^c_1 g_1`.

In every cell :math:`\partial L/\partial W = \sum_t [u_t, r_{t-1}]^\top δ_t`,
:math:`\partial L/\partial b = \sum_{t,b} δ_t`, :math:`\partial L/\partial u_t = δ_t W_{in}^\top`.
Derivatives of the activations follow PyTorch's conventions at 0 (``relu``: 0; ``clamp`` in ReTanh:
1), so that the gradients are autograd's to rounding: ReLU ``1[x > 0]``, ReTanh
``1[x ≥ 0] (1 − tanh² x)``, Tanh ``1 − tanh² x``. ``tests/test_models.py`` checks them against
autograd through :class:`~repalign.models.RecurrentNetwork` and with ``torch.autograd.gradcheck``.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from repalign.models.networks import activation_function

__all__ = ["recurrence"]


def _derivative(activation: str, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
    """``f'(pre)`` from ``pre`` and ``post = f(pre)``, with PyTorch's subgradients at 0."""
    if activation == "ReLU":
        return (pre > 0).to(pre.dtype)
    if activation == "ReTanh":
        return (pre >= 0).to(pre.dtype) * (1 - torch.tanh(pre) ** 2)
    return 1 - post * post


def _forward(cell, activation, alpha, x, weights, bias, h0, c0, noise, keep):
    """The recurrence; returns ``(rates (T, K, B, H), states (T, K, B, H), previous, saved)``.

    With ``keep`` False (no gradient wanted) nothing is kept for the backward pass.
    """
    f = activation_function(activation)
    K, T, B, n_in = x.shape
    H = h0.shape[-1]
    G = weights.shape[-1]
    w_in, w_rec = weights[:, :n_in], weights[:, n_in:].contiguous()
    # the input part of every step's drive (input, bias and, but for the LSTM, noise) in one product;
    # step t reads its (K, B, G) slice in place
    inputs = torch.baddbmm(bias[:, None, :], x.reshape(K, T * B, n_in), w_in).view(K, T, B, G)
    if noise is not None and cell != "LSTM":
        inputs += noise

    def drive(t):
        return inputs[:, t]
    h = h0[:, None, :].expand(K, B, H)
    previous = x.new_empty((K, T, B, H)) if keep else None  # r_{t-1}, the recurrent input of step t (K-major)
    rates = x.new_empty((T, K, B, H))
    if cell == "CTRNN":
        states = x.new_empty((T, K, B, H))
        r = f(h)
        for t in range(T):
            if keep:
                previous[:, t] = r
            h = torch.lerp(h, torch.baddbmm(drive(t), r, w_rec), alpha, out=states[t])
            r = f(h)
            rates[t] = r
        saved = (states,)
    elif cell == "LowPassCTRNN":
        pre = x.new_empty((T, K, B, H)) if keep else None  # z_t, the argument of f
        r = h
        for t in range(T):
            if keep:
                previous[:, t] = r
            z = torch.baddbmm(drive(t), r, w_rec, out=pre[t] if keep else None)
            r = torch.lerp(r, f(z), alpha, out=rates[t])
        states, saved = rates, (pre,)
    else:
        if noise is not None:
            noise = noise.transpose(0, 1)
        c = c0[:, None, :].expand(K, B, H)
        if keep:  # what the backward pass needs, computed while the step's values are in cache (module
            # docstring): factor_t = [v i(1-i), f(c) o(1-o), c_{t-1} g(1-g), i(1-v²)], ∂h_t/∂c_t, g_t
            factor = x.new_empty((T, K, B, 4, H))
            out_slope = x.new_empty((T, K, B, H))
            forget = x.new_empty((T, K, B, H))
        for t in range(T):
            a = torch.baddbmm(drive(t), h, w_rec)
            s = torch.sigmoid(a[..., :3 * H])
            i, o, g = s.split(H, dim=-1)
            v = torch.tanh(a[..., 3 * H:])
            if keep:
                previous[:, t] = h
                slope = (s - s * s).view(K, B, 3, H)
                f_t = factor[t]
                torch.mul(slope[:, :, 0], v, out=f_t[:, :, 0])
                torch.mul(slope[:, :, 2], c, out=f_t[:, :, 2])
                torch.mul(i - i * v * v, 1.0, out=f_t[:, :, 3])
                forget[t] = g
            c = torch.addcmul(g * c, i, v)
            fc = f(c)
            h = torch.mul(o, fc, out=rates[t])
            if noise is not None:
                h.add_(noise[t])
            if keep:
                torch.mul(slope[:, :, 1], fc, out=f_t[:, :, 1])
                torch.mul(o, _derivative(activation, c, fc), out=out_slope[t])
        states, saved = rates, ((factor, out_slope, forget) if keep else ())
    return rates, states, previous, saved


class _Recurrence(torch.autograd.Function):
    # buffers are time-major, (T, K, B, ·), so that every step reads and writes contiguous blocks
    @staticmethod
    def forward(ctx, cell, activation, alpha, x, weights, bias, h0, c0, noise):
        rates, states, previous, saved = _forward(cell, activation, alpha, x, weights, bias, h0, c0, noise, True)
        ctx.cell, ctx.activation, ctx.alpha, ctx.n_in = cell, activation, alpha, x.shape[-1]
        ctx.save_for_backward(x, weights, h0, previous, rates, *saved)
        return (rates.transpose(0, 1), states.transpose(0, 1)) if cell == "CTRNN" else rates.transpose(0, 1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_rates, grad_states=None):
        cell, activation, a, n_in = ctx.cell, ctx.activation, ctx.alpha, ctx.n_in
        x, weights, h0, previous, rates, *saved = ctx.saved_tensors
        f = activation_function(activation)
        T, K, B, H = rates.shape
        G = weights.shape[-1]
        w_in = weights[:, :n_in]
        w_rec_t = weights[:, n_in:].transpose(1, 2).contiguous()  # (K, G, H)
        grad_rates = torch.zeros_like(rates) if grad_rates is None else grad_rates.transpose(0, 1)
        delta = rates.new_empty((K, T, B, G))  # δ_t, K-major so that it is already (K, T·B, G) for the products
        grad_h0 = grad_c0 = None
        back = rates.new_zeros((K, B, H))  # δ_{t+1} W_recᵀ
        if cell == "CTRNN":
            (states,) = saved
            w_rec_t = w_rec_t * a  # δ_t = a D_t: the factor a folded into the product
            D = rates.new_zeros((K, B, H))
            for t in range(T - 1, -1, -1):
                slope = _derivative(activation, states[t], rates[t])
                source = grad_rates[t] + back
                if grad_states is not None:
                    D = torch.add(grad_states[:, t], D, alpha=1 - a).addcmul_(source, slope)
                else:
                    D = torch.addcmul(D * (1 - a), source, slope)
                delta[:, t] = D
                back = torch.bmm(D, w_rec_t)
            h_start = h0[:, None, :].expand(K, B, H)
            grad_h0 = (back * _derivative(activation, h_start, f(h_start)) + (1 - a) * D).sum(1)
            delta.mul_(a)
        elif cell == "LowPassCTRNN":
            (pre,) = saved
            D = rates.new_zeros((K, B, H))
            for t in range(T - 1, -1, -1):
                D = torch.add(grad_rates[t] + back, D, alpha=1 - a)
                d = torch.mul(D, _derivative(activation, pre[t], f(pre[t])), out=delta[:, t]).mul_(a)
                back = torch.bmm(d, w_rec_t)
            grad_h0 = (back + (1 - a) * D).sum(1)
        else:
            factor, out_slope, forget = saved
            delta4 = delta.view(K, T, B, 4, H)
            Dc = rates.new_zeros((K, B, H))
            g_next = rates.new_zeros((K, B, H))
            for t in range(T - 1, -1, -1):
                Dh = grad_rates[t] + back
                Dc = torch.addcmul(Dc * g_next, Dh, out_slope[t])
                d = delta4[:, t]
                torch.mul(factor[t], Dc[:, :, None, :], out=d)
                torch.mul(factor[t, :, :, 1], Dh, out=d[:, :, 1])
                back = torch.bmm(delta[:, t], w_rec_t)
                g_next = forget[t]
            grad_h0 = back.sum(1)
            grad_c0 = (Dc * g_next).sum(1)
        flat = delta.view(K, T * B, G)
        grad_weights = grad_bias = grad_x = None
        if ctx.needs_input_grad[4]:  # [W_in; W_rec]: Σ_t [u_t, r_{t-1}]ᵀ δ_t as two products
            grad_weights = torch.cat([torch.bmm(x.reshape(K, T * B, n_in).transpose(1, 2), flat),
                                      torch.bmm(previous.view(K, T * B, H).transpose(1, 2), flat)], dim=1)
        if ctx.needs_input_grad[5]:
            grad_bias = flat.sum(1)
        if ctx.needs_input_grad[3]:
            grad_x = torch.bmm(flat, w_in.transpose(1, 2)).reshape(K, T, B, n_in)
        return (None, None, None, grad_x, grad_weights, grad_bias,
                grad_h0 if ctx.needs_input_grad[6] else None,
                grad_c0 if ctx.needs_input_grad[7] else None, None)


def recurrence(cell: str, activation: str, alpha: float, x: torch.Tensor, weights: torch.Tensor, bias: torch.Tensor,
               h0: torch.Tensor, c0: torch.Tensor | None = None, noise: torch.Tensor | None = None):
    """Run K networks of one cell over a sequence; returns ``(rates, states)``, each ``(K, T, B, H)``.

    Args: ``x (K, T, B, I)`` inputs (an expanded view is fine); ``weights (K, I + H, G)``, the input
    and recurrent weights stacked and transposed (``G = H``, or ``4H`` for the LSTM in the gate order
    input, output, forget, candidate); ``bias (K, G)``; ``h0 (K, H)``; ``c0 (K, H)`` (LSTM); ``noise``
    ``(K, T, B, H)``, a constant: added to the drive of CTRNN (already divided by ``α``) and
    LowPassCTRNN, to ``h`` for the LSTM. ``states`` is the CTRNN's potential ``h_t``, and the rates
    themselves otherwise. Differentiable once, by the backward pass of the module docstring.

    >>> K, T, B, I, H = 2, 5, 3, 4, 6
    >>> rates, states = recurrence("CTRNN", "Tanh", 0.5, torch.zeros(K, T, B, I), torch.zeros(K, I + H, H),
    ...                            torch.zeros(K, H), torch.zeros(K, H))
    >>> tuple(rates.shape), float(rates.abs().max())
    ((2, 5, 3, 6), 0.0)
    """
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, weights, bias, h0, c0)):
        out = _Recurrence.apply(cell, activation, float(alpha), x, weights, bias, h0, c0, noise)
        return out if cell == "CTRNN" else (out, out)
    rates, states, _, _ = _forward(cell, activation, float(alpha), x, weights, bias, h0, c0, noise, False)
    return rates.transpose(0, 1), states.transpose(0, 1)
