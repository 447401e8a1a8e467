"""Turn user inputs into checked tensors: the one place where input is validated.

Every measure receives :class:`Data` objects built here, so every error message about
bad input comes from this module and names the argument, what was expected and what
was found.

Accepted inputs: numpy arrays, torch tensors, xarray DataArrays, nested lists, and anything
with an ``activity`` attribute holding one of these (a :class:`repalign.data.Dataset`), so that
no caller unwraps a dataset by hand. Shapes: ``(sample, unit)`` or ``(time, condition, unit)``;
batched calls add a leading ``batch`` axis. 3D input is flattened row-major to ``(time * condition, unit)`` (row
index ``t * n_conditions + c``) and remembers its condition count, which
cross-validated measures use to hold out whole conditions.

Precision: numpy input is computed in float64; a floating torch tensor in its own dtype, except
half precision: float16 and bfloat16 tensors are computed in float32 (torch lacks half kernels for
several decompositions, and half sums overflow at 65504) and the measure returns its value in the
input's dtype (:attr:`Data.result_dtype`). Data that a float cannot resolve are refused: input
whose every value is subnormal (below the dtype's smallest normal number, where precision is lost),
or whose every unit varies by at most a few units in the last place of its own magnitude (the
variance underflows: e.g. ``1 + 1e-17 * noise`` in float64).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Data", "as_data", "cast", "HALF_DTYPES", "as_pair", "as_activity", "as_matrix", "check_same_samples",
           "result_dtype", "LAYOUTS",
           "layout_of"]

# computed in float32, returned in their own dtype
HALF_DTYPES = (torch.float16, torch.bfloat16)

# a unit whose values span at most this many units in the last place of their magnitude carries
# rounding, not variance
_RESOLUTION_ULPS = 8

# dimension names recognised on xarray inputs, in the order the measures expect
LAYOUTS = (("time", "condition", "unit"), ("sample", "unit"))


def layout_of(dims) -> tuple[str, ...] | None:
    """The layout of :data:`LAYOUTS` whose dimension names are ``dims`` in any order, or None.

    >>> layout_of(("unit", "time", "condition")), layout_of(("neuron", "stimulus"))
    (('time', 'condition', 'unit'), None)
    """
    dims = tuple(dims)
    return next((order for order in LAYOUTS if len(dims) == len(order) and set(dims) == set(order)), None)


@dataclass(frozen=True)
class Data:
    """A checked input: ``values`` has shape ``(..., n_samples, n_units)``.

    ``n_conditions`` is set for 3D ``(time, condition, unit)`` input (``None`` for 2D),
    ``batched`` says whether the leading axis is a batch of independent inputs.
    ``result_dtype`` is the half-precision dtype (float16, bfloat16) the caller gave, when
    ``values`` were widened to float32 for the arithmetic; ``None`` otherwise.
    """

    values: torch.Tensor
    name: str
    n_conditions: int | None = None
    n_time: int | None = None
    batched: bool = False
    result_dtype: torch.dtype | None = None

    @property
    def n_samples(self) -> int:
        """Rows of the flattened ``(sample, unit)`` matrix."""
        return self.values.shape[-2]

    @property
    def n_units(self) -> int:
        """Columns: the units."""
        return self.values.shape[-1]

    def describe_samples(self) -> str:
        """The sample count, with its (time, condition) layout for 3D input (for error messages)."""
        if self.n_conditions is None:
            return f"{self.n_samples}"
        return f"{self.n_samples} ({self.n_time} time x {self.n_conditions} conditions)"


def _shape(x) -> tuple:
    return tuple(int(s) for s in x.shape)


def _from_xarray(x) -> np.ndarray:
    order = layout_of(x.dims)
    if order is not None:
        x = x.transpose(*order)
    values = x.values
    if not isinstance(values, np.ndarray):  # dask or other lazy backends
        values = np.asarray(values)
    return values


def _is_xarray(x) -> bool:
    # checked by name so that xarray is imported only by users who have it
    return type(x).__name__ == "DataArray" and type(x).__module__.startswith("xarray")


def _to_tensor(x, name: str) -> tuple[torch.Tensor, bool]:
    """Convert to a floating tensor; returns (tensor, came_from_torch)."""
    if not isinstance(x, (torch.Tensor, np.ndarray, list, tuple)) and not _is_xarray(x) and hasattr(x, "activity"):
        x = x.activity  # a Dataset (or any container of activity)
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise ValueError(f"{name}: expected real numbers, got a complex tensor of dtype {x.dtype}")
        if not x.is_floating_point():
            x = x.to(torch.float64)
        return x, True
    if _is_xarray(x):
        x = _from_xarray(x)
    elif isinstance(x, (list, tuple)):
        try:
            x = np.asarray(x)
        except ValueError as err:  # ragged nested lists
            raise ValueError(f"{name}: nested list is ragged (rows of different lengths): {err}") from None
    elif not isinstance(x, np.ndarray):
        raise ValueError(
            f"{name}: expected a numpy array, torch tensor, xarray DataArray, nested list or Dataset, "
            f"got {type(x).__name__}"
        )
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numeric values, got an array of dtype {x.dtype}")
    values = np.asarray(x, dtype=np.float64, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
    if not values.flags.writeable:  # e.g. a Dataset's read-only activity: torch needs its own copy
        values = values.copy()
    return torch.from_numpy(values), False


def _check_dimensions(t: torch.Tensor, name: str, batched: bool) -> None:
    allowed = (3, 4) if batched else (2, 3)
    layout = (
        "(batch, sample, unit) or (batch, time, condition, unit)"
        if batched
        else "2D (sample, unit) or 3D (time, condition, unit)"
    )
    if t.ndim not in allowed:
        raise ValueError(f"{name}: expected a {layout} array, got {t.ndim} dimension(s) with shape {_shape(t)}")
    if t.numel() == 0:
        raise ValueError(f"{name}: empty array with shape {_shape(t)}")


def _check_finite(t: torch.Tensor, name: str) -> None:
    finite = torch.isfinite(t.detach())
    if not bool(finite.all()):
        n_nan = int(torch.isnan(t.detach()).sum())
        n_inf = int((~finite).sum()) - n_nan
        raise ValueError(f"{name}: contains {n_nan} NaN and {n_inf} infinite value(s); clean or impute them first")


def _check_resolution(t: torch.Tensor, low: torch.Tensor, high: torch.Tensor, dtype: torch.dtype,
                      name: str) -> None:
    """Refuse data that the dtype cannot resolve: all subnormal, or every unit varying only by rounding."""
    finfo = torch.finfo(dtype)
    magnitude = torch.maximum(low.abs(), high.abs())  # per unit
    largest = magnitude.amax(dim=-1)
    if bool((largest < finfo.tiny).any()):
        raise ValueError(
            f"{name}: every value is subnormal (largest |value| {float(largest.amin()):.3g} is below "
            f"{finfo.tiny:.3g}, the smallest normal {dtype}), so its precision is lost; rescale the data "
            f"(e.g. multiply by a power of ten) before converting it to {dtype}"
        )
    spread = high - low
    unresolved = (spread <= _RESOLUTION_ULPS * finfo.eps * magnitude).all(dim=-1)
    if bool(unresolved.any()):
        ratio = float((spread / magnitude.clamp_min(finfo.tiny)).amax(dim=-1).amax())
        raise ValueError(
            f"{name}: the values of every unit vary by at most {ratio:.3g} of their magnitude, within "
            f"{_RESOLUTION_ULPS} units of {dtype} rounding (resolution {finfo.eps:.3g}): the variance "
            f"underflows; subtract the offset in a wider dtype first"
        )


def cast(d: Data, dtype: torch.dtype, device, other: str, result: torch.dtype | None = None) -> Data:
    """``d`` in ``dtype`` on ``device`` (the dtype of ``other``, a tensor it is compared with).

    A narrowing cast (numpy's float64 to a float32 tensor's dtype) is checked as the input itself
    was: values beyond the dtype's range, or that it cannot resolve, are refused naming ``d``
    instead of becoming Inf or 0 (the value would then be NaN or wrong). The result has
    ``result_dtype`` ``result``.

    >>> import torch
    >>> data, _ = as_data([[0.0, 1e50], [1.0, 3e50]], "X")
    >>> cast(data, torch.float32, "cpu", "Y")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: X: values up to 3e+50 do not fit torch.float32 (largest 3.4e+38), the dtype of Y that X is ...
    """
    values = d.values.to(dtype=dtype, device=device)
    if values.dtype.itemsize < d.values.dtype.itemsize:
        detached = values.detach()
        if not bool(torch.isfinite(detached).all()):
            raise ValueError(f"{d.name}: values up to {float(d.values.detach().abs().max()):.3g} do not fit {dtype} "
                             f"(largest {torch.finfo(dtype).max:.3g}), the dtype of {other} that {d.name} is cast "
                             f"to; rescale {d.name} or give both as torch.float64")
        low, high = torch.aminmax(detached, dim=-2)
        _check_resolution(detached, low, high, dtype, d.name)
    return Data(values, d.name, d.n_conditions, d.n_time, d.batched, result)


def as_data(x, name: str, *, batched: bool = False, check_values: bool = True) -> tuple[Data, bool]:
    """Check one input and return ``(Data, came_from_torch)``.

    Raises ``ValueError`` for unsupported types, non-numeric dtypes, wrong number of
    dimensions, empty arrays, NaN/Inf, fewer than 2 samples, constant input and data whose
    variance the dtype cannot resolve (all subnormal, or varying by a few ulps only).
    ``check_values=False`` skips the scans of the values (NaN/Inf, constant units, resolution)
    for callers that check them otherwise (the optimizer checks every value and gradient it
    computes); types, dimensions and sample counts are still checked. float16 and bfloat16
    tensors come back widened to float32, with ``result_dtype`` set.

    >>> import torch
    >>> data, _ = as_data(torch.ones(3, 2, dtype=torch.float16).cumsum(0), "X")
    >>> data.values.dtype, data.result_dtype
    (torch.float32, torch.float16)
    """
    t, from_torch = _to_tensor(x, name)
    _check_dimensions(t, name, batched)
    given_dtype = t.dtype
    half = None
    if given_dtype in HALF_DTYPES:
        t, half = t.to(torch.float32), given_dtype
    if check_values:
        _check_finite(t, name)
    n_conditions = n_time = None
    structured = t.ndim == (4 if batched else 3)
    if structured:
        n_time, n_conditions = t.shape[-3], t.shape[-2]
        t = t.reshape(*t.shape[:-3], n_time * n_conditions, t.shape[-1])
    if t.shape[-2] < 2:
        raise ValueError(f"{name}: at least 2 samples are needed, got {t.shape[-2]}")
    if check_values:
        low, high = torch.aminmax(t.detach(), dim=-2)  # per unit, in one pass
        constant = (low == high).all(dim=-1)
        if bool(constant.any()):
            which = "" if not batched else f" (batch item(s) {torch.nonzero(constant).flatten().tolist()})"
            raise ValueError(
                f"{name}: every unit is constant across samples{which}; similarity to constant data is undefined"
            )
        _check_resolution(t, low, high, given_dtype, name)
    return Data(t, name, n_conditions, n_time, batched, half), from_torch


def as_activity(x, name: str) -> tuple[torch.Tensor, bool]:
    """Check one input and return ``(values, came_from_torch)`` in its own layout.

    The checks of :func:`as_data`; ``values`` keeps the ``(sample, unit)`` or
    ``(time, condition, unit)`` shape (float64 unless the input was a floating torch tensor),
    for analyses that work on units or conditions rather than on the flattened samples.

    >>> values, from_torch = as_activity([[[0.0, 1.0], [2.0, 4.0]]], "X")
    >>> tuple(values.shape), from_torch
    ((1, 2, 2), False)
    """
    data, from_torch = as_data(x, name)
    values = data.values
    if data.n_conditions is not None:
        values = values.reshape(data.n_time, data.n_conditions, data.n_units)
    return values, from_torch


def as_matrix(x, name: str, *, layout: str = "(sample, unit)") -> np.ndarray:
    """A float64 numpy copy of a 2-D input, finite and non-empty (constant columns allowed).

    For analyses whose matrices are not activity (encoding features and targets, rotation
    matrices): the same type, dtype, NaN/Inf and shape messages as every measure, without the
    sample-count and constant-unit rules of :func:`as_data`. ``layout`` names the expected axes
    in the message.

    >>> as_matrix([[1, 2], [3, 4]], "features").dtype
    dtype('float64')
    >>> as_matrix([1.0, 2.0], "features")
    Traceback (most recent call last):
    ...
    ValueError: features: expected a 2D (sample, unit) array, got 1 dimension(s) with shape (2,)
    """
    tensor, _ = _to_tensor(x, name)
    values = np.array(tensor.detach().to(device="cpu", dtype=torch.float64).numpy())
    if values.ndim != 2:
        raise ValueError(f"{name}: expected a 2D {layout} array, got {values.ndim} dimension(s) with shape "
                         f"{values.shape}")
    if values.size == 0:
        raise ValueError(f"{name}: empty array with shape {values.shape}")
    _check_finite(torch.from_numpy(values), name)
    return values


def _common_dtype_device(tensors: list[torch.Tensor], names: list[str]) -> tuple[torch.dtype, torch.device]:
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        where = ", ".join(f"{n} on {t.device}" for n, t in zip(names, tensors))
        raise ValueError(f"inputs are on different devices ({where}); move them to one device")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return dtype, devices.pop()


def as_pair(x, y, names: tuple[str, str] = ("X", "Y"), *, batched: bool = False) -> tuple[Data, Data, bool]:
    """Check two inputs that are compared with each other.

    Returns ``(data_x, data_y, torch_output)``: ``torch_output`` is True when either
    input was a torch tensor; numpy-like inputs are then cast to the tensor's dtype and
    device. Without torch input, everything is float64 on the CPU. Half-precision tensors are
    computed in float32; when the dtype the tensors promote to is half, both results carry it
    as ``result_dtype`` (see :func:`result_dtype`).
    """
    dx, tx = as_data(x, names[0], batched=batched)
    dy, ty = as_data(y, names[1], batched=batched)
    torch_output = tx or ty
    torch_tensors = [d.values for d, t in ((dx, tx), (dy, ty)) if t]
    torch_names = [d.name for d, t in ((dx, tx), (dy, ty)) if t]
    if torch_tensors:
        given = [d.result_dtype or d.values.dtype for d, t in ((dx, tx), (dy, ty)) if t]
        dtype, device = _common_dtype_device(torch_tensors, torch_names)
        half = result_dtype(*given)
        dx, dy = cast(dx, dtype, device, dy.name, half), cast(dy, dtype, device, dx.name, half)
    check_same_samples(dx, dy)
    if batched and dx.values.shape[0] != dy.values.shape[0]:
        raise ValueError(
            f"{dx.name} and {dy.name} must hold the same number of pairs: "
            f"batch sizes {dx.values.shape[0]} and {dy.values.shape[0]}"
        )
    return dx, dy, torch_output


def check_same_samples(dx: Data, dy: Data) -> None:
    """Raise unless the two inputs have the same samples (and the same time x condition layout)."""
    if dx.n_samples != dy.n_samples:
        raise ValueError(
            f"{dx.name} and {dy.name} must have the same number of samples (rows): "
            f"{dx.name} has {dx.describe_samples()}, {dy.name} has {dy.describe_samples()}"
        )
    if (dx.n_conditions is None) != (dy.n_conditions is None):
        three, two = (dx, dy) if dx.n_conditions is not None else (dy, dx)
        raise ValueError(
            f"{three.name} is 3D (time, condition, unit) but {two.name} is 2D (sample, unit); "
            f"give both in the same layout"
        )
    if dx.n_conditions != dy.n_conditions:
        raise ValueError(
            f"{dx.name} and {dy.name} have different (time, condition) layouts: "
            f"{dx.describe_samples()} vs {dy.describe_samples()}"
        )


def result_dtype(*dtypes: torch.dtype) -> torch.dtype | None:
    """The half-precision dtype a result is returned in, for inputs of these torch dtypes; else None.

    >>> result_dtype(torch.float16, torch.float16), result_dtype(torch.float16, torch.float32)
    (torch.float16, None)
    """
    promoted = dtypes[0]
    for dtype in dtypes[1:]:
        promoted = torch.promote_types(promoted, dtype)
    return promoted if promoted in HALF_DTYPES else None
