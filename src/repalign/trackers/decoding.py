r"""The decoding tracker: cross-validated logistic regression of task variables, all problems at once."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from .._checks import SettingsError, check_count, check_real, check_seed
from ..data import Dataset
from ..inputs import Data, as_data
from .logistic import CHUNK_BYTES, newton_logistic, span_features

__all__ = ["Decoding", "stratified_folds", "DEFAULT_FOLDS"]

DEFAULT_FOLDS = 5  # stratified K-fold cross-validation across conditions


def stratified_folds(labels, folds: int, seed: int) -> np.ndarray:
    """Fold index of each condition: stratified K-fold assignment, seeded.

    The members of each class (in sorted order of the classes) are shuffled with
    ``numpy.random.default_rng(seed)`` and the concatenated list is dealt to folds 0, 1, …,
    ``folds − 1``, 0, 1, … in turn: every class has, in every fold, its count divided by ``folds``
    rounded down or up, and fold sizes differ by at most one.

    Raises:
        ValueError: naming ``folds`` when a class has fewer members than folds.

    Example:
        >>> stratified_folds([0, 0, 0, 1, 1, 1], folds=3, seed=0).tolist()
        [1, 2, 0, 2, 1, 0]
    """
    labels = np.asarray(labels)
    classes, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    folds = check_count(folds, "folds", 2)
    if counts.min() < folds:
        k = int(counts.argmin())
        raise SettingsError("folds", f"class {classes[k].tolist()!r} has {counts[k]} condition(s), fewer than "
                         f"folds={folds}; use fewer folds")
    rng = np.random.default_rng(check_seed(seed))
    order = np.concatenate([rng.permutation(np.flatnonzero(codes == k)) for k in range(len(classes))])
    fold_of = np.empty(len(labels), dtype=np.int64)
    fold_of[order] = np.arange(len(labels)) % folds
    return fold_of


def _table_columns(table, name: str):
    """(column names, getter) of a DataFrame, a mapping of columns or a Dataset's conditions."""
    if isinstance(table, Dataset):
        if table.activity.ndim != 3:
            raise SettingsError(name, f"the Dataset's activity is 2D {table.shape} (sample, unit); Decoding "
                             f"needs (time, condition, unit) data")
        if table.conditions is None:
            raise SettingsError(name, "the Dataset has no conditions table")
        table = table.conditions
    if hasattr(table, "columns") and hasattr(table, "__getitem__") and not isinstance(table, Mapping):
        return [str(c) for c in table.columns], lambda c: np.asarray(table[c].to_numpy())
    if isinstance(table, Mapping):
        return [str(c) for c in table], lambda c: np.asarray(table[c])
    raise SettingsError(name, f"expected a Dataset, a pandas DataFrame or a mapping of columns, "
                     f"got {type(table).__name__}")


class Decoding:
    r"""Cross-validated linear decoding of task variables from ``(time, condition, unit)`` activity.

    The seed paper's decoding analysis (appendix B.2): for each variable and each time bin ``t``,
    a logistic regression predicts the condition's label from the activity of all units at ``t``;
    stratified ``folds``-fold cross-validation across conditions; the score is the held-out
    accuracy averaged over folds (each fold's accuracy weighted equally, as scikit-learn's
    ``cross_val_score``) and then over time bins. Column ``decode_<variable>``, one value per run.

    **Folds.** :func:`stratified_folds` of the variable's labels with ``seed``: each variable has
    its own folds (they depend on the variable and the seed only), the same for every time bin and
    every run.

    **Model**, for each (run, time bin, fold, variable), on the training conditions: features
    standardized with the training conditions' mean and (population) standard deviation, per unit
    (scikit-learn's ``StandardScaler``; constant units are only centred), then for a binary
    variable (classes :math:`c_0 < c_1`, :math:`y_i = [\text{label}_i = c_1]`)

    .. math::

        \min_{w, b}\; \sum_i \bigl[\log(1 + e^{z_i}) - y_i z_i\bigr] + \frac{\ell_2}{2}\|w\|^2,
        \qquad z_i = w^\top x_i + b,

    and for K > 2 classes the multinomial model
    :math:`\sum_i [\operatorname{logsumexp}_k z_{ik} - z_{i y_i}] + \frac{\ell_2}{2}\sum_k\|w_k\|^2`,
    :math:`z_{ik} = w_k^\top x_i + b_k`; intercepts are not penalized. This is scikit-learn's
    ``LogisticRegression(C=1/l2)`` (default L2 penalty, multinomial for K > 2). The prediction is
    the most probable class (:math:`z > 0` for binary).

    **Solver.** With more units than training conditions, the optimal :math:`w` lies in the span of
    the standardized training rows, so the problem is solved exactly in that span: with the
    training Gram :math:`G = Z Z^\top` and :math:`\tilde G = G + c\,\mathbf 1\mathbf 1^\top` (c its mean
    diagonal; the extra constant feature is absorbed by the free intercept, so its weight is 0 at
    the optimum), the Cholesky factor :math:`\tilde G = L L^\top` gives the training features
    :math:`L` and the held-out features :math:`\tilde G_{te}L^{-\top}`, with
    :math:`\|\beta\| = \|w\|` (an eigendecomposition, dropping null directions, when
    :math:`\tilde G` is numerically singular). With fewer units the standardized activity is used
    directly. Then Newton's method from zero on all problems of the batch at once (batched Gram
    products and Cholesky solves of (training conditions + 1)-sized systems, times the class
    count for K > 2): step :math:`\theta \leftarrow \theta - t H^{-1} g` with t halved from 1
    until the Armijo condition holds, and, when t = 1 is accepted, t = 2 then 4 kept while they
    lower the objective further (far from the optimum of separable data a full step is too short;
    this saves about a third of the steps). A problem stops once half its Newton decrement
    :math:`\tfrac12 g^\top H^{-1} g` (the quadratic model's estimate of the distance to the optimal
    objective) is at most ``tol``; typically 5–7 steps. A problem not converged after ``steps``
    Newton steps raises ``RuntimeError`` (never a silently approximate answer). Computations are in
    float64 on ``Y``'s device, in chunks of runs × time bins that bound the memory.

    Speed (one CPU thread, float64): a batch of 16 runs shaped (15, 72, 727), 4 binary variables
    = 4 800 logistic fits, takes about 7 s per call (5.5 s on 2 threads), against about 45 s for a
    loop of scikit-learn fits (9 ms each at its default tolerance); the same folds give the same
    accuracies as scikit-learn (decision values within 1e-6 when both are converged).

    Args:
        conditions: the conditions table (one row per condition): a
            :class:`~repalign.data.Dataset` with 3D activity (its ``conditions``), a pandas
            DataFrame or a mapping of columns.
        variables: columns to decode (a name or a sequence of names); each needs at least 2
            classes, each with at least ``folds`` conditions.
        folds: number of cross-validation folds, >= 2.
        seed: seed of the fold assignment.
        l2: penalty :math:`\ell_2 > 0` (scikit-learn's ``C = 1/l2``).
        steps: maximum number of Newton steps.
        tol: convergence tolerance on half the Newton decrement (objective units, the objective
            being a sum over ~60 training conditions).
        record_every: inside :func:`repalign.optimize`, computed only at the recording steps that are
            multiples of this (NaN at the others; always at step 0, stopping and last steps).

    Attributes:
        columns: ``["decode_<variable>", …]``.
        fold_of: ``{variable: fold index of each condition}`` (numpy), the folds in use.
        classes: ``{variable: sorted class labels}``.

    Raises:
        ValueError: naming ``conditions``, ``variables``, ``folds``, ``seed``, ``l2``, ``steps``,
            ``tol`` or ``Y`` (a variable not in the table, a single class, too few conditions per
            class for the folds, 2D data, a condition count that differs from the table's).
        RuntimeError: Newton's method did not converge.

    Calling ``tracker(reference, Y)`` with ``Y`` of shape ``(batch, time, condition, unit)`` returns
    ``{"decode_<variable>": (batch,) float64 tensor}``; ``reference`` is not used (the labels come
    from the table) and may be None.

    Example:
        >>> import torch
        >>> from repalign.data import mante_like
        >>> ds = mante_like(n_units=30, n_time=2, seed=0)
        >>> decoding = Decoding(ds, variables=("context", "choice"))
        >>> {k: round(v, 2) for k, v in decoding.reference_accuracy(ds).items()}
        {'decode_context': 0.89, 'decode_choice': 0.93}
        >>> noise = torch.randn((2, *ds.shape), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        >>> decoding(ds.activity, noise)["decode_context"].shape
        torch.Size([2])
    """

    name = "decoding"

    def __init__(self, conditions, variables=("context", "choice", "motion_sign", "colour_sign"), *,
                 folds: int = DEFAULT_FOLDS, seed: int = 0, l2: float = 1.0, steps: int = 50, tol: float = 1e-10,
                 record_every: int = 1):
        self.record_every = check_count(record_every, "record_every", 1)
        names, column = _table_columns(conditions, "conditions")
        if isinstance(variables, str):
            variables = (variables,)
        if not isinstance(variables, Sequence) or len(variables) == 0:
            raise SettingsError("variables", f"expected a column name or a non-empty sequence of them, got "
                                             f"{variables!r}")
        variables = tuple(variables)
        missing = [v for v in variables if not isinstance(v, str) or v not in names]
        if missing:
            raise SettingsError("variables", f"{missing} not in the conditions table (columns: {names})")
        if len(set(variables)) != len(variables):
            raise SettingsError("variables", f"each variable may appear once, got {list(variables)}")
        self.folds = check_count(folds, "folds", 2)
        self.seed = check_seed(seed)
        self.l2 = check_real(l2, "l2", low=0.0, inclusive=(False, True))
        self.steps = check_count(steps, "steps", 1)
        self.tol = check_real(tol, "tol", low=0.0, inclusive=(False, True))
        self.variables = variables
        self.columns = [f"decode_{v}" for v in variables]
        self.classes: dict[str, np.ndarray] = {}
        self.fold_of: dict[str, np.ndarray] = {}
        codes = []
        for v in variables:
            labels = column(v)
            if labels.ndim != 1:
                raise SettingsError("variables", f"column {v!r} is not one-dimensional")
            if labels.dtype.kind == "f" and np.isnan(labels).any():
                raise SettingsError("variables", f"column {v!r} has missing values (NaN)")
            classes, code = np.unique(labels, return_inverse=True)
            if len(classes) < 2:
                raise SettingsError("variables", f"column {v!r} has a single value ({classes[0].tolist()!r}); "
                                 f"nothing to decode")
            if codes and len(code) != len(codes[0]):
                raise SettingsError("variables", f"column {v!r} has {len(code)} rows, {variables[0]!r} has "
                                                 f"{len(codes[0])}")
            try:
                fold_of = stratified_folds(labels, self.folds, self.seed)
            except ValueError as error:
                raise SettingsError(error.argument, f"{error.problem} (variable {v!r})") from None
            self.classes[v], self.fold_of[v] = classes, fold_of
            self.classes[v].setflags(write=False)
            self.fold_of[v].setflags(write=False)
            codes.append(code.astype(np.int64))
        self.n_conditions = len(codes[0])
        self._codes = codes
        self._cache: dict = {}

    def __repr__(self) -> str:
        return (f"Decoding(variables={list(self.variables)}, folds={self.folds}, seed={self.seed}, l2={self.l2:g}, "
                f"steps={self.steps}, tol={self.tol:g})")

    def settings(self) -> dict:
        """Everything that sets this tracker's values, as plain values (recorded in optimization checkpoints).

        ``variables``, ``folds``, ``seed``, ``l2``, ``steps``, ``tol``, ``record_every`` and ``labels``, a SHA-256 of
        every variable's classes and condition labels.

        >>> from repalign.data import mante_like
        >>> settings = Decoding(mante_like(n_units=10, n_time=2, seed=0), variables="context").settings()
        >>> {k: v for k, v in settings.items() if k != "labels"}
        {'variables': ['context'], 'folds': 5, 'seed': 0, 'l2': 1.0, 'steps': 50, 'tol': 1e-10, 'record_every': 1}
        """
        labels = hashlib.sha256()
        for variable, code in zip(self.variables, self._codes):
            labels.update(repr((variable, self.classes[variable].tolist())).encode())
            labels.update(np.ascontiguousarray(code).tobytes())
        return {"variables": list(self.variables), "folds": self.folds, "seed": self.seed, "l2": self.l2,
                "steps": self.steps, "tol": self.tol, "record_every": self.record_every,
                "labels": f"sha256:{labels.hexdigest()}"}

    # -- public calls ----------------------------------------------------------------------------------------
    def __call__(self, reference, Y) -> dict[str, torch.Tensor]:
        """``{decode_<variable>: (batch,) tensor}`` for runs ``Y`` (batch, time, condition, unit).

        ``reference`` is not used (the labels come from the conditions table); it is accepted for
        the tracker protocol of :func:`repalign.optimize`.
        """
        y, _ = as_data(Y, "Y", batched=True)
        accuracy = self._evaluate(self._checked(y, "Y"))
        return {column: accuracy[:, i] for i, column in enumerate(self.columns)}

    def reference_accuracy(self, reference) -> dict[str, float]:
        """Decoding accuracy of the reference itself: ``{decode_<variable>: float}``.

        ``reference``: ``(time, condition, unit)`` activity or a :class:`~repalign.data.Dataset`.
        """
        data, _ = as_data(reference, "reference")
        values = data.values.unsqueeze(0)
        batched = Data(values, "reference", data.n_conditions, data.n_time, batched=True)
        accuracy = self._evaluate(self._checked(batched, "reference"))[0]
        return {column: float(accuracy[i]) for i, column in enumerate(self.columns)}

    def chance_accuracy(self) -> dict[str, float]:
        """Accuracy of always predicting the most frequent class: ``{decode_<variable>: float}``.

        The frequency of each variable's most common label over the conditions (0.5 for a balanced
        binary variable such as ``context`` or ``choice`` of :func:`~repalign.data.mante_like`).
        """
        return {column: float(np.bincount(code).max() / len(code)) for column, code in zip(self.columns, self._codes)}

    def _checked(self, data: Data, name: str) -> torch.Tensor:
        if data.n_conditions is None:
            raise ValueError(f"{name}: Decoding needs (time, condition, unit) activity (one decoder per time bin), "
                             f"got 2D (sample, unit) data of shape {tuple(data.values.shape[-2:])}")
        if data.n_conditions != self.n_conditions:
            raise ValueError(f"{name}: has {data.n_conditions} conditions but the conditions table has "
                             f"{self.n_conditions} rows")
        return data.values.detach().reshape(data.values.shape[0], data.n_time, data.n_conditions, -1)

    # -- computation -----------------------------------------------------------------------------------------
    def _problems(self, device: torch.device) -> dict:
        """Per device: the (variable, fold) problems of each class count, as padded index tensors."""
        if device in self._cache:
            return self._cache[device]
        groups: dict[int, dict] = {}
        for v, (variable, code) in enumerate(zip(self.variables, self._codes)):
            group = groups.setdefault(len(self.classes[variable]), {"variables": [], "splits": []})
            group["variables"].append(v)
            fold_of = self.fold_of[variable]
            group["splits"] += [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f), code)
                                for f in range(self.folds)]
        for group in groups.values():
            splits = group.pop("splits")
            n_train = max(len(train) for train, _, _ in splits)
            n_test = max(len(test) for _, test, _ in splits)
            n = self.n_conditions
            # rows padded with index 0 and weight 0 (training) or masked out (held out)
            train = np.zeros((len(splits), n_train), dtype=np.int64)
            test = np.zeros((len(splits), n_test), dtype=np.int64)
            weight = np.zeros((len(splits), n_train))
            test_mask = np.zeros((len(splits), n_test), dtype=bool)
            mean = np.zeros((len(splits), n))  # row j: the training conditions' average
            y_train, y_test = np.zeros_like(train), np.zeros_like(test)
            for j, (tr, te, code) in enumerate(splits):
                train[j, :len(tr)], test[j, :len(te)] = tr, te
                weight[j, :len(tr)], test_mask[j, :len(te)] = 1.0, True
                mean[j, tr] = 1.0 / len(tr)
                y_train[j, :len(tr)], y_test[j, :len(te)] = code[tr], code[te]
            group.update({name: torch.as_tensor(value, device=device) for name, value in [
                ("train", train), ("test", test), ("weight", weight), ("test_mask", test_mask), ("mean", mean),
                ("y_train", y_train), ("y_test", y_test)]})
        self._cache[device] = groups
        return groups

    def _evaluate(self, activity: torch.Tensor) -> torch.Tensor:
        """Accuracies ``(batch, n_variables)`` for a checked tensor ``(batch, time, condition, unit)``."""
        batch, n_time, n_cond, n_units = activity.shape
        x = activity.to(torch.float64).reshape(batch * n_time, n_cond, n_units)
        # centring each time bin over conditions changes no standardized feature, and keeps the one-pass
        # training variances E[x²] − E[x]² free of cancellation
        x = x - x.mean(dim=1, keepdim=True)
        out = torch.empty(batch * n_time, len(self.variables), dtype=torch.float64, device=x.device)
        groups = self._problems(x.device)
        per_item = 8 * 4 * n_cond * n_units
        for n_classes, group in groups.items():
            n_prob, width = group["train"].shape
            params = (1 if n_classes == 2 else n_classes) * (width + 1)
            per_item += 8 * n_prob * (3 * n_cond * (width + 1) + 3 * params * params)
        chunk = max(1, CHUNK_BYTES // per_item)
        for start in range(0, batch * n_time, chunk):
            xs = x[start:start + chunk]
            for n_classes, group in groups.items():
                out[start:start + chunk, group["variables"]] = self._decode(xs, group, n_classes)
        return out.reshape(batch, n_time, -1).mean(dim=1)

    def _decode(self, x: torch.Tensor, group: dict, n_classes: int) -> torch.Tensor:
        """Held-out accuracy ``(items, variables of the group)`` averaged over folds, for ``x`` (items, n, U)."""
        items, n_cond, n_units = x.shape
        n_prob, n_train = group["train"].shape
        kernel = n_units > n_train  # more units than training rows: work in the span of the rows
        width = (n_train if kernel else n_units) + 1  # features and the intercept's column
        means = group["mean"].to(x.dtype) @ x  # (items, problems, units): training means
        variances = (group["mean"].to(x.dtype) @ x.square() - means.square()).clamp_min(0)
        # StandardScaler only centres constant units; a one-pass variance is exact to ~n·eps·E[x²]
        constant = variances <= n_train * torch.finfo(x.dtype).eps * (variances + means.square())
        inverse_scale = torch.where(constant, torch.ones_like(variances), variances.rsqrt())
        shifts = means * inverse_scale
        f_train = torch.zeros(items, n_prob, n_train, width, dtype=x.dtype, device=x.device)
        f_test = torch.zeros(items, n_prob, group["test"].shape[1], width, dtype=x.dtype, device=x.device)
        for j in range(n_prob):
            z = torch.addcmul(-shifts[:, j, None, :], x, inverse_scale[:, j, None, :])  # (x − μ)/σ, one pass
            tr, te = group["train"][j], group["test"][j]
            if kernel:
                gram = z @ z[:, tr].mT  # (items, n, n_train): products of every condition with the training rows
                f_train[:, j, :, :-1] = gram[:, tr]
                f_test[:, j, :, :-1] = gram[:, te]
            else:
                f_train[:, j, :, :-1] = z[:, tr]
                f_test[:, j, :, :-1] = z[:, te]
        f_train = f_train.reshape(items * n_prob, n_train, width)
        f_test = f_test.reshape(items * n_prob, -1, width)
        weight = group["weight"].to(x.dtype).repeat(items, 1)
        if kernel:
            f_train, f_test = span_features(f_train, f_test, weight)
        else:
            f_train = f_train * weight.unsqueeze(-1)  # padding rows: zero features (and zero weight)
        f_train[..., -1] = 1.0  # the intercept's column
        f_test[..., -1] = 1.0
        theta = newton_logistic(f_train, group["y_train"].repeat(items, 1), weight, n_classes, self.l2,
                                 self.steps, self.tol)
        logits = f_test @ theta
        predicted = (logits[..., 0] > 0).long() if n_classes == 2 else logits.argmax(dim=-1)
        mask = group["test_mask"].repeat(items, 1)
        correct = ((predicted == group["y_test"].repeat(items, 1)) & mask).sum(dim=-1)
        accuracy = correct.to(x.dtype) / mask.sum(dim=-1).to(x.dtype)
        return accuracy.reshape(items, len(group["variables"]), self.folds).mean(dim=-1)

