"""The torch trainer of ``models.training.fit``: Adam, clipping, EMA, exact resume.

All randomness comes from one ``torch.Generator`` seeded by ``TrainConfig.seed``;
the Adam state is flattened as ``"<parameter index>.<key>"`` (torch's own
``state_dict`` layout) for the training checkpoint.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from models.train_state import TrainState
from models.training import Task, TrainConfig, ema_rate


class TorchTrainer:
    """Mutable state of one torch training run (network, EMA, optimiser, RNG)."""

    def __init__(self, task: Task, train: TrainConfig, data: Sequence[np.ndarray]):
        import torch

        self.task, self.train = task, train
        self.data = [torch.as_tensor(array, dtype=torch.float32) for array in data]
        self.net = task.build(train.seed)
        self.ema = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=train.lr)
        self.generator = torch.Generator().manual_seed(train.seed)
        self.losses: list[float] = []

    def step(self) -> None:
        import torch

        rows = torch.randint(self.data[0].shape[0], (self.train.batch_size,), generator=self.generator)
        loss = self.task.loss(self.net, [array[rows] for array in self.data], self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.train.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.train.grad_clip)
        if self.train.lr_schedule is not None:  # a function of the step alone: nothing to checkpoint
            lr = self.train.lr * float(self.train.lr_schedule.factor(len(self.losses)))
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        self.optimizer.step()
        self.losses.append(float(loss.detach()))
        self._update_ema(ema_rate(self.train.ema_decay, len(self.losses)))

    def _update_ema(self, rate: float) -> None:
        import torch

        with torch.no_grad():
            for name, value in self.net.state_dict().items():
                self.ema[name].mul_(rate).add_(value, alpha=1.0 - rate)

    def restore(self, state: TrainState) -> None:
        import torch

        from models.nets.convert import numpy_to_torch

        self.net.load_state_dict(numpy_to_torch(state.weights), strict=True)
        self.ema = numpy_to_torch(state.ema)
        self.optimizer.load_state_dict(_unflatten_optimizer(self.optimizer, state.optimizer))
        self.generator.set_state(torch.from_numpy(state.rng_state.copy()))
        self.losses = [float(v) for v in state.losses]

    def snapshot(self, meta: dict[str, Any]) -> TrainState:
        from models.nets.convert import torch_to_numpy

        return TrainState(
            step=len(self.losses),
            weights=torch_to_numpy(self.net),
            ema=torch_to_numpy(self.ema),
            optimizer=_flatten_optimizer(self.optimizer),
            rng_state=self.generator.get_state().numpy().copy(),
            losses=np.asarray(self.losses, dtype=np.float64),
            meta=meta,
        )


def _flatten_optimizer(optimizer) -> dict[str, np.ndarray]:
    state = optimizer.state_dict()["state"]
    return {f"{i}.{k}": v.detach().cpu().numpy().copy() for i, entry in state.items() for k, v in entry.items()}


def _unflatten_optimizer(optimizer, flat: dict[str, np.ndarray]) -> dict[str, Any]:
    import torch

    state: dict[int, dict[str, Any]] = {}
    for key, value in flat.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = torch.from_numpy(value.copy())
    return {"state": state, "param_groups": optimizer.state_dict()["param_groups"]}
