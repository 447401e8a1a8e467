"""The measure catalogue: names -> :class:`Measure` objects.

``measure("cka", hsic="song")`` resolves an alias, a canonical name or a partial name plus
keyword parameters to one exact, canonical measure. Anything unknown raises ``ValueError``
with the closest valid spellings; nothing is silently ignored.

Scale is handled here, once for every family: before the arithmetic, each input whose
invariances include ``isotropic_scale`` is divided by the power of two 2^e with
2^(e−1) ≤ max|x| < 2^e (per batch item), and X and Y of a distance with units (metadata
``degree`` d: Euclidean Procrustes and matching distances) by one common power of two, the value
being multiplied back by 2^(d·e). Dividing by a power of two is exact in floating point, so a
power-of-two scale of the data gives the scale-1 value bit for bit (times 2^(d·e)), and inputs at
1e±150 (float64) or 1e±15 (float32) give the scale-1 answer instead of overflowing or
underflowing. Inputs with |e| ≤ 64 (float64) or 12 (float32) are used as given: no product the
measures form overflows or underflows there and the arithmetic commutes with the power of two, so
the division would change no bit; skipping it saves a copy per call. The scale is a constant
(detached): f(X/s) = f(X) identically, so gradients are unchanged. Measures neither invariant nor
homogeneous (an absolute ridge λ or RBF σ, shape metrics with 0 < α < 1) are computed on the
data as given. The registry also refuses fewer samples than the family's
:meth:`~repalign.measures.Family.min_samples`.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import math
import threading
from typing import Any

import torch

from ._version import deprecated
from .inputs import HALF_DTYPES, Data, as_data, as_pair, cast, check_same_samples, result_dtype
from .measures import FAMILIES, Family, Parameter
from .names import format_value, parse_name, split_top_level, unwrap

__all__ = ["Measure", "BoundMeasure", "measure", "resolve", "catalogue", "aliases", "short_name"]

ALIASES = {
    "cka": "cka-kernel=linear-hsic=gretton-score",
    "cka-debiased": "cka-kernel=linear-hsic=song-score",
    "angular-cka": "cka-kernel=linear-hsic=gretton-angular_score",
    "nbs": "nbs-score",
    "procrustes": "procrustes-distance=angular",
    "angular-procrustes": "procrustes-angular_score",
    "cca": "cca-score",
    "svcca": "svcca-var=0.99-score",
    "pwcca": "pwcca-score",
    "linreg": "linear_regression-r2",
    "ridge-cv": "ridge-lambda=100-r2-cv=5folds",
    "rsa": "rsa-rdm=correlation-compare=spearman",
    "soft-matching": "soft_matching-score",
    "one-to-one-matching": "assignment-score",
    "partial-soft-matching": "partial_soft_matching-score",
}

_SHORT = {canonical: alias for alias, canonical in reversed(ALIASES.items())}  # the first alias of each

# one number, one canonical name: spellings of the same measure that resolve elsewhere
_EQUIVALENT_FAMILY_OUTPUT = {("procrustes", "score"): ("nbs", "score")}

_OUTPUT_WORDS = ("score", "squared_score", "angular_score", "r2", "normalized_score")

# the entries listed by catalogue(): default parameters of each family and output, plus the
# variants the spec names explicitly
_CATALOGUE_SEEDS = (
    [f"cka-kernel=linear-hsic={h}-{o}" for h in ("gretton", "song", "lange")
     for o in ("score", "distance=angular", "angular_score")]
    + [f"cka-kernel=(rbf-sigma=median)-hsic={h}-score" for h in ("gretton", "song", "lange")]
    + ["nbs-score"]
    + [f"procrustes-{o}" for o in FAMILIES["procrustes"].outputs]
    + ["shape_metric-alpha=0.5-distance=angular", "shape_metric-alpha=0-distance=angular"]
    + ["cca-score", "cca-squared_score", "svcca-var=0.99-score", "pwcca-score", "pwcca-activations=raw-score"]
    + ["linear_regression-r2", "linear_regression-r2-cv=5folds", "ridge-lambda=100-r2", "ridge-lambda=100-r2-cv=5folds"]
    + [f"rsa-rdm={r}-compare={c}" for r in ("correlation", "euclidean", "squared_euclidean", "cosine")
       for c in ("pearson", "spearman", "kendall", "cosine")]
    + [f"soft_matching-{o}" for o in FAMILIES["soft_matching"].outputs]
    + ["soft_matching-solver=(sinkhorn-epsilon=0.01)-score", "assignment-score", "permutation-distance=euclidean",
       "semi_matching-score", "partial_soft_matching-mass=0.9-score", "partial_soft_matching-mass=0.9-normalized_score"]
)


def _closest(word: str, candidates, limit: int = 5) -> str:
    """``"; closest: a, b"``: up to ``limit`` distinct candidates most like ``word``, ignoring case.

    Case is ignored for the comparison only (``CKA`` suggests ``cka``; it is not accepted).
    """
    spellings: dict[str, list[str]] = {}
    for candidate in dict.fromkeys(candidates):  # distinct, in their first order
        spellings.setdefault(candidate.lower(), []).append(candidate)
    matches = difflib.get_close_matches(word.lower(), list(spellings), n=limit, cutoff=0.4)
    suggestions = [spelling for match in matches for spelling in spellings[match]][:limit]
    return f"; closest: {', '.join(suggestions)}" if suggestions else ""


def _is_relevant(parameter: Parameter, params: dict) -> bool:
    if parameter.relevant is None:
        return True
    other, values = parameter.relevant
    if values == "any":
        return params.get(other) is not None
    return params.get(other) in values


def _resolve(name: str, kwargs: dict[str, Any]) -> tuple[Family, dict, str]:
    if not isinstance(name, str):
        raise ValueError(f"measure name must be a string, got {type(name).__name__}")
    text = ALIASES.get(name.strip(), name.strip())
    from_alias = text != name.strip()  # an alias's parameters are defaults that keywords may override
    parsed = parse_name(text)
    if parsed.family not in FAMILIES:
        valid = list(FAMILIES) + list(ALIASES) + catalogue()
        raise ValueError(f"unknown measure {name!r}{_closest(name, valid)}")
    family = FAMILIES[parsed.family]
    by_name = {p.name: p for p in family.parameters}
    given: dict[str, Any] = {}
    from_name: set[str] = set()
    output = None

    def set_param(key: str, value, source: str):
        key = family.keyword_aliases.get(key, key)
        if key == "cv":
            if not family.supports_cv:
                raise ValueError(f"{family.name} has no cross-validated version (parameter 'cv' in {source})")
            if isinstance(value, str):  # spelled "5folds" in names
                value = value.removesuffix("folds")
            value = Parameter("cv", "int", None, "", low=2).convert(value, family.name)
        elif key in by_name:
            parameter = by_name[key]
            children = [p for p in family.parameters if p.nested_in == key]
            if children and isinstance(value, str) and "-" in value:  # kernel=(rbf-sigma=(1e-05))
                head, *rest = split_top_level(value)
                for token in rest:
                    if "=" not in token:
                        raise ValueError(f"{family.name}: malformed nested parameter {token!r} in {value!r}")
                    nested_key, nested_value = token.split("=", 1)
                    set_param(nested_key, unwrap(nested_value), source=source)
                value = unwrap(head)
            value = parameter.convert(value, family.name)
        else:
            valid = [p.name for p in family.parameters] + (["cv"] if family.supports_cv else [])
            valid += list(family.keyword_aliases)
            raise ValueError(
                f"{family.name}: unknown parameter {key!r} ({source}); valid parameters: {valid or 'none'}"
                f"{_closest(key, valid)}"
            )
        if key in given and given[key] != value and not (from_alias and source == "keyword argument"):
            raise ValueError(f"{family.name}: parameter {key!r} given twice with different values "
                             f"({given[key]!r} and {value!r})")
        given[key] = value

    for key, value in parsed.pairs:
        if key == "distance":
            output = _set_output(output, f"distance={value}", family, name)
        else:
            set_param(key, value, source=f"in the name {name!r}")
            from_name.add(family.keyword_aliases.get(key, key))
    for word in parsed.words:
        if word not in _OUTPUT_WORDS:
            raise ValueError(f"{family.name}: unknown token {word!r} in {name!r}; outputs: {list(family.outputs)}"
                             f"{_closest(word, family.outputs)}")
        output = _set_output(output, word, family, name)
    for key, value in kwargs.items():
        set_param(key, value, source="keyword argument")

    params = _complete(family, given, overridable=(from_name - set(kwargs)) if from_alias else set())
    output = output or family.default_output
    family, output = _equivalent(family, output)
    if output not in family.outputs:
        raise ValueError(f"{family.name} has no output {output!r}; outputs: {list(family.outputs)}"
                         f"{_closest(output, family.outputs)}")
    return family, params, output


def _set_output(current, new, family, name):
    if current is not None and current != new:
        raise ValueError(f"{name!r} names two outputs: {current!r} and {new!r}")
    return new


def _equivalent(family: Family, output: str) -> tuple[Family, str]:
    target = _EQUIVALENT_FAMILY_OUTPUT.get((family.name, output))
    if target is None:
        return family, output
    return FAMILIES[target[0]], target[1]


def _complete(family: Family, given: dict, overridable: set[str]) -> dict:
    """Defaults for the parameters not given; refuse parameters that do not apply."""
    params = {"cv": given.get("cv")} if family.supports_cv else {}
    for replacing, replaced in family.alternatives:
        if replacing in given:
            if replaced in given and replaced not in overridable:
                docs = {p.name: p.doc for p in family.parameters}
                raise ValueError(f"{family.name}: give either {replaced} ({docs[replaced]}) or {replacing} "
                                 f"({docs[replacing]}), not both")
            params[replaced] = None
    for parameter in family.parameters:
        if parameter.name in params:
            continue
        if not _is_relevant(parameter, {**params, **given}):
            if parameter.name in given:
                other, values = parameter.relevant
                raise ValueError(
                    f"{family.name}: parameter {parameter.name!r} applies only when {other} is "
                    f"{'set' if values == 'any' else ' or '.join(values)}"
                )
            continue
        if parameter.required and parameter.name not in given:
            raise ValueError(f"{family.name}: parameter {parameter.name!r} is required ({parameter.doc}); "
                             f"e.g. {family.name}-{parameter.name}=... or {parameter.name}=... as a keyword")
        params[parameter.name] = given.get(parameter.name, parameter.default)
    return params


def canonical_name(family: Family, params: dict, output: str) -> str:
    tokens = [family.name]
    for parameter in family.parameters:
        value = params.get(parameter.name)
        if parameter.nested_in or value is None or parameter.name not in params:
            continue
        if parameter.in_name == "non_default" and value == parameter.default:
            continue
        text = format_value(value)
        children = [c for c in family.parameters if c.nested_in == parameter.name and params.get(c.name) is not None]
        if children:
            text = "(" + "-".join([text] + [f"{c.name}={format_value(params[c.name])}" for c in children]) + ")"
        tokens.append(f"{parameter.name}={text}")
    if family.name_has_output:
        tokens.append(output)
    if params.get("cv") is not None:
        tokens.append(f"cv={params['cv']}folds")
    return "-".join(tokens)


def _scale_exponents(values: torch.Tensor) -> torch.Tensor:
    """e (int, per batch item, no gradient) with 2^(e−1) ≤ max|values| < 2^e, kept where 2^−e is a normal number."""
    values = values.detach()
    # amax and amin without an |x| copy: a quarter of abs().amax's time (and aminmax over a dim is 10x slower)
    largest = torch.maximum(values.amax(dim=(-2, -1)), values.amin(dim=(-2, -1)).neg())
    finfo = torch.finfo(values.dtype)
    # ±e within the normal range: 2^−e and 2^e are exact (all-zero or subnormal data keep e = 0 or the bound)
    bound = int(math.log2(finfo.max))
    return torch.frexp(largest).exponent.clamp(-bound, -int(math.log2(finfo.tiny)))


# Inputs whose largest |value| lies within 2^±window are computed as given: the products the measures form
# (up to fourth powers, times sample and unit counts) neither overflow nor underflow there, and
# floating-point arithmetic commutes with power-of-two scaling, so dividing would give the same
# numbers. Skipping it saves a copy of every input (page faults included) on the optimizer's path.
_SAFE_EXPONENT = {torch.float64: 64, torch.float32: 12}


def _needs_scaling(exponents: torch.Tensor, dtype: torch.dtype) -> bool:
    return bool((exponents.abs() > _SAFE_EXPONENT.get(dtype, 0)).any())


def _power_of_two(exponents: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """2^exponents in ``dtype``, exactly (exp2 of an integer is a power of two in range)."""
    return torch.exp2(exponents.to(dtype))


def _divided(data: Data, exponents: torch.Tensor | None) -> Data:
    """``data`` divided by 2^exponents, or as it is when ``exponents`` is None (within the safe window)."""
    if exponents is None:
        return data
    factor = _power_of_two(-exponents, data.values.dtype)[..., None, None]
    return Data(data.values * factor, data.name, data.n_conditions, data.n_time, data.batched, data.result_dtype)


def _own_exponents(values: torch.Tensor) -> torch.Tensor | None:
    """The exponents that divide one input on its own, None when it is within the safe window."""
    exponents = _scale_exponents(values)
    return exponents if _needs_scaling(exponents, values.dtype) else None


def _finish(value: torch.Tensor, torch_output: bool, dtype: torch.dtype | None = None):
    if dtype is not None:  # half-precision input, computed in float32
        computed, value = value, value.to(dtype)
        if not bool(torch.isfinite(value.detach()).all()):  # finite in float32: beyond the half dtype's range
            raise ValueError(f"the value {float(computed.detach().abs().max()):.4g} exceeds {dtype}'s range "
                             f"({torch.finfo(dtype).max:.4g}); pass float32 inputs to get it")
    if torch_output:
        return value
    value = value.detach().cpu()
    return float(value) if value.ndim == 0 else value.numpy()


class Measure:
    """One exactly defined similarity measure; call it on a pair ``measure(X, Y)``.

    Attributes: ``name`` (canonical), ``params``, ``output``, and the metadata ``kind``
    ("score" or "distance"), ``range``, ``symmetric``, ``invariances`` (per input),
    ``differentiable``, ``needs_n_by_n``, ``is_metric``, ``reference``, ``degree``
    (value(cX, cY) = c^degree·value(X, Y): 0 for scale-invariant measures, 1 or 2 for distances
    with units, None when neither) and ``min_samples`` (the fewest samples accepted, with the reason).
    """

    def __init__(self, family: Family, params: dict, output: str):
        self._family = family
        self.params = dict(params)
        self.output = output
        self.name = canonical_name(family, params, output)
        meta = family.metadata(self.params, output)
        self.kind = meta.kind
        self.range = meta.range
        self.symmetric = meta.symmetric
        self.invariances = meta.invariances
        self.differentiable = meta.differentiable
        self.needs_n_by_n = meta.needs_n_by_n
        self.is_metric = meta.is_metric
        self.reference = meta.reference
        self.family = family.name
        self.summary = family.summary
        self.min_samples = family.min_samples(self.params)
        # which inputs are divided by their own power of two; a common one when the measure is homogeneous
        self._own_scale = tuple("isotropic_scale" in self.invariances[side] for side in ("X", "Y"))
        self.degree = 0 if all(self._own_scale) else meta.degree
        self._common_scale = self.degree is not None and not all(self._own_scale)

    def __repr__(self) -> str:
        return f"Measure({self.name!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Measure) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def _prepare(self, data: Data) -> dict:
        return self._family.prepare(data, self.params)

    def _check(self, dx: Data, dy: Data) -> None:
        needed, reason = self.min_samples
        if dx.n_samples < needed:
            raise ValueError(f"{dx.name}, {dy.name}: {self.name} needs at least {needed} samples ({reason}); "
                             f"got {dx.describe_samples()}")
        self._family.check(dx, dy, self.params)

    def _score(self, dx: Data, dy: Data) -> torch.Tensor:
        """The value for checked inputs: scaled (see the module documentation), prepared, evaluated."""
        self._check(dx, dy)
        exponents = None
        if self._common_scale:
            exponents = torch.maximum(_scale_exponents(dx.values), _scale_exponents(dy.values))
            exponents = exponents if _needs_scaling(exponents, dx.values.dtype) else None
            dx, dy = _divided(dx, exponents), _divided(dy, exponents)
        else:
            dx = _divided(dx, _own_exponents(dx.values)) if self._own_scale[0] else dx
            dy = _divided(dy, _own_exponents(dy.values)) if self._own_scale[1] else dy
        value = self._family.evaluate(self._prepare(dx), self._prepare(dy), self.params, self.output)
        return value if exponents is None else self._restore(value, exponents)

    def _restore(self, value: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
        """value · 2^(degree·e), one exact factor 2^e at a time (2^(degree·e) itself may overflow)."""
        factor = _power_of_two(exponents, value.dtype)
        for _ in range(self.degree):
            value = value * factor
        return value

    def __call__(self, X, Y):
        """Score one pair: numpy/list/xarray in -> float, torch in -> 0-d tensor (differentiable).

        float16 and bfloat16 tensors are computed in float32 and the value returned in their dtype.
        """
        dx, dy, torch_output = as_pair(X, Y)
        return _finish(self._score(dx, dy), torch_output, dx.result_dtype)

    def batch(self, Xs, Ys):
        """Score a stack of pairs ``(batch, sample, unit)`` or ``(batch, time, condition, unit)`` in one call."""
        dx, dy, torch_output = as_pair(Xs, Ys, ("Xs", "Ys"), batched=True)
        return _finish(self._score(dx, dy), torch_output, dx.result_dtype)

    def describe(self) -> str:
        """The definition (formula, conventions, example) and the metadata, as text."""
        import inspect
        import sys

        module_doc = inspect.getdoc(sys.modules[type(self._family).__module__]) or ""
        params = ", ".join(f"{k}={v}" for k, v in self.params.items() if v is not None) or "none"
        low, high = self.range
        if self.degree == 0:
            scaling = "invariant (an input of extreme scale is divided by a power of two first)"
        elif self.degree is not None:
            scaling = (f"homogeneous of degree {self.degree} (inputs of extreme scale divided by a common power of "
                       f"two, the value multiplied back)")
        else:
            scaling = "not invariant (" + ", ".join(
                f"{side} of extreme scale divided by a power of two" if own else f"{side} used as given"
                for side, own in zip("XY", self._own_scale)) + ")"
        needed, reason = self.min_samples
        lines = [
            self.name,
            f"  {self.summary}",
            f"  kind: {self.kind}, range [{low:g}, {high:g}], symmetric: {self.symmetric}, "
            f"metric: {self.is_metric}, differentiable: {self.differentiable}, n x n: {self.needs_n_by_n}",
            f"  parameters: {params}",
            f"  scale: {scaling}",
            f"  samples: at least {needed} ({reason})",
            f"  invariances of X: {', '.join(sorted(self.invariances['X'])) or 'none'}",
            f"  invariances of Y: {', '.join(sorted(self.invariances['Y'])) or 'none'}",
            f"  reference: {self.reference}",
            "",
            module_doc,
        ]
        return "\n".join(lines)

    def bind(self, X) -> "BoundMeasure":
        """Fix the reference X and cache what depends on it alone (for repeated scoring)."""
        return BoundMeasure(self, X)


class BoundMeasure:
    """A measure with a fixed reference X: ``bound(Y)`` and ``bound.batch(Ys)``.

    Quantities that depend only on X (centred data, its Gram norms, its RDM...) are computed
    once per dtype and device (and, for distances with units, per common power of two of X and
    Y: see the module documentation). The reference is treated as a constant (detached).
    """

    _SCALES_KEPT = 4  # cached reference preparations per dtype and device for homogeneous distances

    def __init__(self, measure: Measure, X):
        self.measure = measure
        data, self._torch_reference = as_data(X, "X")
        self._reference = Data(data.values.detach(), "X", data.n_conditions, data.n_time,
                               result_dtype=data.result_dtype)
        self._cache: dict[tuple, tuple[Data, dict]] = {}
        self._exponents: dict[tuple, int] = {}
        self._lock = threading.RLock()  # the optimizer's worker threads share one bound measure

    def __repr__(self) -> str:
        shape = tuple(self._reference.values.shape)
        return f"BoundMeasure({self.measure.name!r}, reference of shape {shape})"

    def prepare(self, dtype: torch.dtype = torch.float64, device="cpu") -> None:
        """Compute the reference's cached quantities for ``dtype`` and ``device`` now.

        They are otherwise computed on the first call with inputs of that dtype and device; call
        this before sharing the bound measure between threads.
        """
        if dtype in HALF_DTYPES:
            dtype = torch.float32  # half-precision inputs are computed in float32
        values = torch.empty(0, dtype=dtype, device=device)
        common = None
        if self.measure._common_scale:  # as a call with Y of the reference's scale prepares it
            common = self._reference_exponent(values)
            common = common if _needs_scaling(torch.tensor(common), dtype) else 0
        self._reference_for(values, common)

    def _cast_reference(self, values: torch.Tensor) -> Data:
        return cast(self._reference, values.dtype, values.device, "Y")

    def _reference_exponent(self, values: torch.Tensor) -> int:
        """The reference's own power-of-two exponent in the dtype and device of ``values`` (computed once)."""
        key = (values.dtype, values.device)
        with self._lock:
            if key not in self._exponents:
                self._exponents[key] = int(_scale_exponents(self._cast_reference(values).values))
            return self._exponents[key]

    def _reference_for(self, values: torch.Tensor, common: int | None = None) -> tuple[Data, dict]:
        """The scaled reference and its prepared quantities; ``common``: the exponent shared with Y."""
        key = (values.dtype, values.device, common)
        with self._lock:  # eviction and insertion by several threads at once would corrupt the dict
            entry = self._cache.get(key)
            if entry is None:
                data = self._cast_reference(values)
                if common is not None:
                    same_kind = [k for k in self._cache if k[:2] == key[:2]]
                    if len(same_kind) >= self._SCALES_KEPT:
                        del self._cache[same_kind[0]]  # the oldest: an optimization's scale drifts slowly
                    data = _divided(data, torch.tensor(common, device=values.device) if common else None)
                elif self.measure._own_scale[0]:
                    data = _divided(data, _own_exponents(data.values))
                entry = self._cache[key] = (data, self.measure._prepare(data))
        return entry  # not re-read from the cache: another thread may drop an old scale meanwhile

    def _run(self, Y, name: str, batched: bool, check_values: bool = True):
        dy, torch_y = as_data(Y, name, batched=batched, check_values=check_values)
        ref = self._reference
        if not torch_y and self._torch_reference:
            dy = cast(dy, ref.values.dtype, ref.values.device, "the reference X")
        given = ([ref.result_dtype or ref.values.dtype] if self._torch_reference else []) + \
            ([dy.result_dtype or dy.values.dtype] if torch_y else [])
        m = self.measure
        check_same_samples(ref, dy)
        m._check(ref, dy)
        if m._common_scale:
            # per item, the larger of its exponent and the reference's (0 within the safe window: as given);
            # items that share one are computed together against one prepared reference
            exponents = torch.clamp(_scale_exponents(dy.values), min=self._reference_exponent(dy.values))
            exponents = torch.where(exponents.abs() > _SAFE_EXPONENT.get(dy.values.dtype, 0), exponents, 0)
            distinct = exponents.unique().tolist()
            if len(distinct) == 1:
                value = self._common_value(dy, int(distinct[0]))
            else:  # a batch whose items differ in scale by more than the window (rare): one group per exponent
                value = None
                for common in distinct:
                    items = torch.nonzero(exponents == common).flatten()
                    group = Data(dy.values.index_select(0, items), dy.name, dy.n_conditions, dy.n_time, batched)
                    part = self._common_value(group, int(common))
                    value = part.new_zeros(len(exponents)) if value is None else value
                    value = value.index_put((items,), part)
        else:
            _, px = self._reference_for(dy.values)
            dy = _divided(dy, _own_exponents(dy.values)) if m._own_scale[1] else dy
            value = m._family.evaluate(px, m._prepare(dy), m.params, m.output)
        return _finish(value, bool(given), result_dtype(*given) if given else None)

    def _common_value(self, dy: Data, common: int) -> torch.Tensor:
        """The value of a distance with units for ``dy`` and the reference, both divided by 2^common."""
        m = self.measure
        _, px = self._reference_for(dy.values, common)
        exponent = torch.tensor(common, device=dy.values.device)
        value = m._family.evaluate(px, m._prepare(_divided(dy, exponent if common else None)), m.params, m.output)
        return m._restore(value, exponent) if common else value

    def __call__(self, Y):
        """Score ``Y`` against the reference (types as :meth:`Measure.__call__`)."""
        return self._run(Y, "Y", batched=False)

    def batch(self, Ys, *, check_values: bool = True):
        """Score a stack ``(batch, *shape)`` against the reference in one call.

        ``check_values=False`` skips the scans for NaN/Inf and constant units (shapes are still
        checked), for callers that check the values themselves: the optimizer checks every value
        and gradient it computes.
        """
        return self._run(Ys, "Ys", batched=True, check_values=check_values)


def measure(name: str, **params) -> Measure:
    """The measure called ``name`` (alias, canonical or partial name), with keyword parameters.

    >>> measure("cka", hsic="song").name
    'cka-kernel=linear-hsic=song-score'
    >>> measure("ridge-cv", lam=10).name
    'ridge-lambda=10-r2-cv=5folds'
    """
    return Measure(*_resolve(name, params))


def resolve(spec, name: str = "measure") -> Measure:
    """A :class:`Measure` from a name (alias, canonical or partial) or a Measure: what analyses accept.

    A :class:`BoundMeasure` is refused (the analysis binds its own reference), as is anything else;
    the message names the argument ``name``.

    >>> resolve("cka") == resolve(measure("cka"))
    True
    """
    if isinstance(spec, Measure):
        return spec
    if isinstance(spec, str):
        return measure(spec)
    if isinstance(spec, BoundMeasure):
        raise ValueError(f"{name}: got a BoundMeasure for {spec.measure.name!r}; pass the Measure "
                         f"(bound.measure) or its name: the analysis binds it to its reference itself")
    raise ValueError(f"{name}: expected a measure name or a repalign.Measure, got {type(spec).__name__}")


def catalogue(pattern: str | None = None) -> list[str]:
    """Sorted canonical names of the catalogue, optionally filtered by a shell-style wildcard.

    The catalogue holds each family's default parameters for every output, and the variants
    that the measure spec names; :func:`measure` accepts any valid parameters beyond them.

    Examples:
        >>> catalogue("procrustes-*")[:2]
        ['procrustes-angular_score', 'procrustes-distance=angular']
    """
    names = _catalogue()
    if pattern is None:
        return names
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


@functools.cache
def _catalogue() -> list[str]:
    return sorted({measure(seed).name for seed in _CATALOGUE_SEEDS})


def measures(pattern: str | None = None) -> list[str]:
    """Deprecated (removed in 0.3): :func:`catalogue`."""
    deprecated("repalign.registry.measures(pattern)", "repalign.registry.catalogue(pattern)")
    return catalogue(pattern)


def aliases() -> dict[str, str]:
    """Short names and the canonical measures they stand for."""
    return dict(ALIASES)


def short_name(name: str) -> str:
    """The alias of a canonical name when there is one, else the name (labels of tables and figures).

    >>> short_name("cka-kernel=linear-hsic=gretton-score"), short_name("nbs-score"), short_name("ridge-lambda=1-r2")
    ('cka', 'nbs', 'ridge-lambda=1-r2')
    """
    return _SHORT.get(name, name)

