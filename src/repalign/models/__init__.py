"""The seed paper's task-trained recurrent networks: nine architectures, one network or a stack of many.

- :mod:`repalign.models.networks`: the equations of CTRNN, LowPassCTRNN and LSTM with ReLU, ReTanh
  or Tanh (``ARCHITECTURES``), their seeded initialisation (``init_parameters``), one network
  (``RecurrentNetwork``), and the seed code's defaults as constants: ``HIDDEN_SIZE`` 100, ``TAU``
  100 ms, ``DT`` 50 ms, ``NOISE_STD`` 0, and for training ``LEARNING_RATE`` 1e-3 (Adam),
  ``BATCH_SIZE`` 64, ``LOSS`` cross-entropy.
- :mod:`repalign.models.stacked`: ``StackedNetworks``, K networks of one architecture with stacked
  parameters, evaluated together by batched matrix products; saved as ``state_dict`` + settings in
  one ``.npz``.

Recorded activity is a unit's rate by default (``record="rate"``), the seed code's state on request
(``record="state"``; they differ for the CTRNN only, whose state is the pre-activation potential).

>>> from repalign import models
>>> stack = models.StackedNetworks("CTRNN", "Tanh", n_inputs=7, n_outputs=3, seeds=[0, 1, 2])
>>> outputs, rates = stack(torch.zeros(5, 2, 7))
>>> len(models.ARCHITECTURES), tuple(rates.shape)
(9, (3, 5, 2, 100))
"""

from __future__ import annotations

import torch  # noqa: F401  (the doctest above)

from repalign.models.networks import (
    ACTIVATIONS,
    ARCHITECTURES,
    BATCH_SIZE,
    CELLS,
    DT,
    HIDDEN_SIZE,
    LEARNING_RATE,
    LOSS,
    NOISE_STD,
    RECORDS,
    TAU,
    RecurrentNetwork,
    activation_function,
    init_parameters,
)
from repalign.models.stacked import StackedNetworks

__all__ = [
    "CELLS", "ACTIVATIONS", "ARCHITECTURES", "RECORDS", "HIDDEN_SIZE", "TAU", "DT", "NOISE_STD", "LEARNING_RATE",
    "BATCH_SIZE", "LOSS", "activation_function", "init_parameters", "RecurrentNetwork", "StackedNetworks",
]
