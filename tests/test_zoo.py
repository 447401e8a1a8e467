"""Issue 12's behaviour check on trained networks: every architecture learns the Mante task with context gating.

Slow (about a minute per family on one core): one network per architecture (seed 0) is trained to the
held-out criterion, then its psychometric curves must show context gating: in the motion context the choice
follows motion coherence (fitted slope at least 5x the slope on colour coherence), and the reverse in the
colour context. The full zoo (3 seeds each) is `repalign train --task mante` (all 27 gated, see CHANGELOG).
"""

import numpy as np
import pytest

from repalign.models import ACTIVATIONS, CELLS
from repalign.recording import psychometric
from repalign.tasks import ManteTask
from repalign.training import train

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("cell", CELLS)
def test_each_architecture_of_a_family_reaches_criterion_with_context_gating(cell):
    task = ManteTask()
    with np.errstate(all="ignore"):
        result = train(task, [(cell, activation) for activation in ACTIVATIONS], seeds=(0,), max_steps=4000,
                       progress=False)
    table = result.table
    assert table["reached"].all(), table[~table["reached"]].to_string()
    assert (table["accuracy"] >= task.criterion).all()
    for stack in result.networks.values():
        curves = psychometric(stack.network(0), task, repeats=20, seed=1)
        gating = curves.gating.set_index("context_name")
        assert gating["gated"].all(), gating.to_string()
        assert (gating["ratio"] >= 5).all()
        # independently of the fit: across the relevant modality's extreme coherences the choice flips,
        # across the irrelevant one's it hardly moves
        rows = curves.table
        for context in ("motion", "colour"):
            here = rows[rows["context_name"] == context]
            for modality, wanted in (("motion", context == "motion"), ("colour", context == "colour")):
                along = here[here["modality"] == modality].groupby("coherence")["p_choice1"].mean()
                swing = float(along.iloc[-1] - along.iloc[0])
                assert (abs(swing) > 0.8) if wanted else (abs(swing) < 0.3), (cell, context, modality, swing)
