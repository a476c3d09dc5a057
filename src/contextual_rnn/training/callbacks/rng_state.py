"""Save the random number generators with every checkpoint, restore them on resume.

Training draws from the global RNGs (sampled initial states, noise); a run
resumed from a checkpoint continues those draws exactly where they stopped.
Stored as tensors and numbers only, so checkpoints still load with
``torch.load(weights_only=True)``.
"""

import random

import numpy as np
import torch
from pytorch_lightning import Callback


class RNGState(Callback):
    def state_dict(self) -> dict:
        version, python_keys, gauss = random.getstate()
        _, numpy_keys, position, has_gauss, cached = np.random.get_state()
        state = {
            "torch": torch.get_rng_state(),
            "python": (version, torch.tensor(python_keys, dtype=torch.int64), gauss),
            "numpy": (torch.from_numpy(numpy_keys.astype(np.int64)), position, has_gauss, cached),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict) -> None:
        torch.set_rng_state(state["torch"])
        version, python_keys, gauss = state["python"]
        random.setstate((version, tuple(python_keys.tolist()), gauss))
        numpy_keys, position, has_gauss, cached = state["numpy"]
        np.random.set_state(
            ("MT19937", numpy_keys.numpy().astype(np.uint32), position, has_gauss, cached)
        )
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
