"""The trainer's checkpoint: saved atomically every epoch, resumed only by the same run.

A checkpoint belongs to one run: the same settings (the schedule's length and the patience may change on
resume, a run extended or cut short) and the same starting weights (their fingerprint is kept in it).
"""

import hashlib
from pathlib import Path
from typing import Any, Dict, Optional

import torch
from torch import nn

RESUMABLE = ("epochs", "patience")  # the settings a resumed run may change


class CheckpointError(ValueError):
    """A workdir's checkpoint belongs to another run (other settings or other starting weights)."""


def weights_sha256(model: nn.Module) -> str:
    """A fingerprint of a model's weights (names, shapes and values)."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()


def load_checkpoint(
    path: Path, config: Dict[str, Any], defaults: Dict[str, Any], init_sha256: str
) -> Optional[Dict[str, Any]]:
    """The checkpoint at ``path`` of this run (None: there is none); CheckpointError when it is another run's.

    ``config``: this run's settings; ``defaults``: every setting's default (a setting added since the
    checkpoint was written had its default then).
    """
    if not path.exists():
        return None
    state = torch.load(path, weights_only=True)
    old = {k: v for k, v in dict(defaults, **state["config"]).items() if k not in RESUMABLE}
    if old != {k: v for k, v in config.items() if k not in RESUMABLE}:
        raise CheckpointError(f"{path} was made with other settings; remove it or use another workdir")
    if state.get("init_sha256", init_sha256) != init_sha256:
        raise CheckpointError(f"{path} was made from other starting weights; remove it or use another workdir")
    return state


def save_checkpoint(path: Path, state: Dict[str, Any]) -> None:
    """Write ``state`` to ``path`` through a temporary file: a run killed while saving keeps its previous one."""
    torch.save(state, path.with_suffix(".part"))
    path.with_suffix(".part").replace(path)
