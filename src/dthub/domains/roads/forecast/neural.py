"""T-GCN (时空图卷积网络): graph convolution over the road network inside a GRU cell (Zhao et al., "T-GCN: A
Temporal Graph Convolutional Network for Traffic Prediction", IEEE T-ITS 21(9), 2020), trainable on a CPU.

The cell is the paper's: both GRU gates and the candidate state are graph convolutions
`A_hat [x_t, h_{t-1}] W + b` with `A_hat = D^-1/2 (A + I) D^-1/2`, so each road's state mixes its neighbours'
at every step; a linear head maps the last state of each node to all steps ahead at once. Beside the paper's
one input (the speed divided by `scale_kmh`), each step may carry the time of day (sin, cos) and the node's
training mean at that time of day (`calendar=True`), and the head also sees that training mean at the
target times. These inputs add what a historical average knows to what the recurrent cell sees over a short
input window; the ablation is the same model with `calendar=False`. A linear highway from the speed inputs
to the output (as in LSTNet) starts the model at the mean of its inputs, so the graph-recurrent part learns
a correction; on SZ-taxi this was what lifted it above the paper's "HA" row (docs/benchmarks.md).

`gru` (门控循环单元) is the same model without the graph: the same cell, inputs, head, highway and training,
with every graph convolution `A_hat [x, h] W + b` replaced by `[x, h] W + b` (a GRU run on each node with
weights shared by all nodes). The operator `A_hat` holds no weights, so both models have exactly the same
parameters, and on a graph without edges (`A_hat = I`) they are the same model: comparing them measures what
the road graph adds, and nothing else.

Training: Adam on the squared (`loss="mse"`), absolute (`"mae"`) or Huber (`"huber"`: squared below
`huber_kmh`, absolute above, as smooth L1) error of the scaled speeds, mini-batches
of windows, early stopping on the last `val_fraction` of the panel given to `fit` (windows cut inside each
part); `max_seconds` bounds the CPU seconds of training (process time, so load from other work does not
cut it short). `members > 1` trains that many networks from seeds `seed, seed + 1, ...` (each within
`max_seconds / members`) and forecasts their mean: an ensemble of seeds. PyTorch is imported here only,
when a model is fitted or loaded; the state is saved as arrays (no pickle). `device="cuda"` trains and
predicts on a GPU (refused where none is available); a saved model loads on the CPU where the machine has
no GPU.

Other recurrent graph models (`graph_gru.py`) subclass `TGCNForecaster` and override `_build`, the one
place the network is made: inputs, training loop, early stopping, save and load are shared.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from dthub.domains.roads.forecast.base import (
    ForecastError,
    SpeedPanel,
    check_horizons,
    read_state,
    register,
    write_state,
)
from dthub.domains.roads.forecast.features import (
    DAY,
    fill_missing,
    holdout_ends,
    lag_windows,
    normalised_adjacency,
    slot_profile,
    target_windows,
)

TORCH_THREADS = 1
"""Intra-op threads PyTorch may use. One: on this 2-core machine shared with other work, two OpenMP threads
made a training batch 15 times slower in CPU time than one (threads spinning while waiting for a core)."""


DEVICES = ("cpu", "cuda")
"""Where a neural model may train and predict."""


def _torch() -> Any:
    try:
        import torch
    except ImportError as error:  # pragma: no cover - the forecast extra is part of dev
        raise ForecastError(
            "missing_extra", "PyTorch is not installed: pip install 'dthub[forecast]'"
        ) from error
    torch.set_num_threads(TORCH_THREADS)
    return torch


def _network(
    torch: Any,
    adjacency: np.ndarray | None,
    steps_in: int,
    inputs: int,
    hidden: int,
    horizons: int,
    head_extra: int,
) -> Any:
    nn = torch.nn

    class GraphConvolution(nn.Module):  # type: ignore[misc,name-defined]
        """A_hat [x, h] W + b over all nodes at once; A_hat is sparse (a road has few neighbours). Without
        A_hat (None: the GRU), [x, h] W + b on each node."""

        def __init__(self, a_hat: Any | None, in_features: int, out_features: int, bias: float) -> None:
            super().__init__()
            self.a_hat = a_hat
            self.weight = nn.Parameter(torch.empty(in_features, out_features))
            self.bias = nn.Parameter(torch.full((out_features,), bias))
            nn.init.xavier_uniform_(self.weight)

        def forward(self, x: Any) -> Any:  # x: (B, N, F)
            if self.a_hat is None:
                return x @ self.weight + self.bias
            batch, nodes, features = x.shape
            spread = torch.sparse.mm(self.a_hat, x.permute(1, 0, 2).reshape(nodes, batch * features))
            return spread.reshape(nodes, batch, features).permute(1, 0, 2) @ self.weight + self.bias

    class TGCN(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            a_hat = None
            if adjacency is not None:
                a_hat = torch.tensor(adjacency, dtype=torch.float32).to_sparse()
            self.hidden = hidden
            self.gates = GraphConvolution(a_hat, inputs + hidden, 2 * hidden, 1.0)
            self.candidate = GraphConvolution(a_hat, inputs + hidden, hidden, 0.0)
            self.head = nn.Linear(hidden + head_extra, horizons)
            self.highway = nn.Linear(steps_in, horizons)  # a linear autoregression of the speed inputs
            nn.init.constant_(self.highway.weight, 1.0 / steps_in)
            nn.init.zeros_(self.highway.bias)

        def forward(self, x: Any, extra: Any) -> Any:  # x: (B, L, N, F); extra: (B, N, E)
            batch, steps, nodes, _ = x.shape
            h = x.new_zeros(batch, nodes, self.hidden)
            for t in range(steps):
                xt = x[:, t]
                r, u = torch.sigmoid(self.gates(torch.cat([xt, h], dim=2))).chunk(2, dim=2)
                c = torch.tanh(self.candidate(torch.cat([xt, r * h], dim=2)))
                h = u * h + (1.0 - u) * c
            out = self.head(torch.cat([h, extra], dim=2)) + self.highway(x[..., 0].permute(0, 2, 1))
            return out.permute(0, 2, 1)  # (B, H, N)

    return TGCN()


def _member_prefix(member: int) -> str:
    """Key prefix of a member network's arrays in `state.npz`: "net." for the first (as before ensembles),
    "net1.", "net2.", ... for the others."""
    return "net." if member == 0 else f"net{member}."


@register
class TGCNForecaster:
    """T-GCN with optional calendar and historical-average inputs; one network for steps 1..horizons."""

    name: ClassVar[str] = "tgcn"
    graph: ClassVar[bool] = True
    """Whether the cell convolves over the road graph (False: the `gru` baseline)."""

    def __init__(
        self,
        input_steps: int = 12,
        hidden: int = 64,
        calendar: bool = True,
        loss: str = "mse",
        scale_kmh: float | None = None,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 32,
        max_epochs: int = 200,
        patience: int = 20,
        max_seconds: float = 600.0,
        val_fraction: float = 0.125,
        seed: int = 7,
        device: str = "cpu",
        members: int = 1,
        huber_kmh: float = 5.0,
    ) -> None:
        if input_steps < 1 or hidden < 1 or batch_size < 1 or max_epochs < 1:
            raise ForecastError("bad_params", "input_steps, hidden, batch_size and max_epochs must be >= 1")
        if not 0.0 < val_fraction < 0.5:
            raise ForecastError("bad_params", f"val_fraction must be in (0, 0.5), got {val_fraction}")
        self.input_steps, self.hidden, self.calendar, self.scale_kmh = (
            input_steps,
            hidden,
            calendar,
            scale_kmh,
        )
        self.learning_rate, self.weight_decay, self.batch_size = learning_rate, weight_decay, batch_size
        self.max_epochs, self.patience, self.max_seconds = max_epochs, patience, max_seconds
        self.val_fraction, self.seed = val_fraction, seed
        if loss not in ("mse", "mae", "huber"):
            raise ForecastError("bad_params", f"loss {loss!r}; want mse, mae or huber")
        if huber_kmh <= 0:
            raise ForecastError("bad_params", f"huber_kmh must be > 0, got {huber_kmh}")
        self.loss, self.huber_kmh = loss, huber_kmh
        if device not in DEVICES:
            raise ForecastError("bad_params", f"device {device!r}; want one of {', '.join(DEVICES)}")
        self.device = device
        if members < 1:
            raise ForecastError("bad_params", f"members must be >= 1, got {members}")
        self.members = members
        self.networks: list[Any] = []
        self.horizons = 0
        self.scale = 1.0
        self.profile: np.ndarray | None = None  # (slots of a day, N), km/h
        self.node_mean: np.ndarray | None = None
        self.a_hat: np.ndarray | None = None
        self.history: list[dict[str, float]] = []
        """Per epoch: training and hold-out loss (mean squared error of scaled speeds)."""

    def params(self) -> dict[str, object]:
        return {
            "input_steps": self.input_steps,
            "hidden": self.hidden,
            "calendar": self.calendar,
            "loss": self.loss,
            "huber_kmh": self.huber_kmh,
            "scale_kmh": self.scale_kmh,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "batch_size": self.batch_size,
            "max_epochs": self.max_epochs,
            "patience": self.patience,
            "max_seconds": self.max_seconds,
            "val_fraction": self.val_fraction,
            "seed": self.seed,
            "device": self.device,
            "members": self.members,
        }

    @property
    def _inputs(self) -> int:
        return 4 if self.calendar else 1

    def _arrays(
        self, panel: SpeedPanel, values: np.ndarray, ends: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(x (W, L, N, F), extra (W, N, E)) as float32 for window ends `ends` of `values` (filled, km/h)."""
        assert self.profile is not None
        x = lag_windows(values, ends, self.input_steps)[..., None] / self.scale
        w, n = len(ends), values.shape[1]
        if not self.calendar:
            return x.astype(np.float32), np.zeros((w, n, 0), dtype=np.float32)
        per_day = panel.steps_per(DAY)
        first_slot = int(panel.slots(DAY, count=1)[0])
        rows = ends[:, None] + np.arange(-self.input_steps + 1, 1)[None, :]
        slot = (first_slot + rows) % per_day  # (W, L)
        angle = 2 * np.pi * slot / per_day
        shape = (w, self.input_steps, n, 1)
        channels = [
            x,
            (self.profile[slot] / self.scale)[..., None],
            np.broadcast_to(np.sin(angle)[:, :, None, None], shape),
            np.broadcast_to(np.cos(angle)[:, :, None, None], shape),
        ]
        target_slot = (first_slot + ends[:, None] + np.arange(1, self.horizons + 1)[None, :]) % per_day
        extra = (self.profile[target_slot] / self.scale).transpose(0, 2, 1)  # (W, N, H)
        return np.concatenate(channels, axis=3).astype(np.float32), extra.astype(np.float32)

    def _build(self, torch: Any) -> Any:
        """The network for the fitted `a_hat`, `horizons` and parameters (untrained; on the CPU)."""
        assert self.a_hat is not None
        return _network(
            torch,
            self.a_hat if self.graph else None,
            self.input_steps,
            self._inputs,
            self.hidden,
            self.horizons,
            self.horizons if self.calendar else 0,
        )

    def _torch_device(self, torch: Any, *, fallback: bool = False) -> Any:
        """The torch device of `device`; "cuda" without a GPU is refused (or the CPU, with `fallback`)."""
        if self.device == "cuda" and not torch.cuda.is_available():
            if fallback:
                return torch.device("cpu")
            raise ForecastError("no_cuda", f"{self.name}: device='cuda' but PyTorch sees no GPU here")
        return torch.device(self.device)

    def fit(self, panel: SpeedPanel, horizons: int) -> None:
        check_horizons(horizons)
        torch = _torch()
        device = self._torch_device(torch)
        self.horizons = horizons
        with np.errstate(invalid="ignore"):
            self.node_mean = np.nan_to_num(np.nanmean(panel.values, axis=0))
            self.scale = float(self.scale_kmh or np.nanmax(panel.values))
        if not self.scale > 0:
            raise ForecastError("bad_panel", f"{self.name}: the largest speed is {self.scale}, want > 0")
        profile, _ = slot_profile(panel, DAY)
        self.profile = np.where(np.isnan(profile), self.node_mean[None, :], profile)
        adjacency = panel.adjacency if panel.adjacency is not None else np.zeros((panel.n_nodes,) * 2)
        self.a_hat = normalised_adjacency(adjacency)
        values = fill_missing(panel.values, self.node_mean)
        fit_ends, val_ends = holdout_ends(panel.n_steps, self.input_steps, horizons, self.val_fraction)
        if len(fit_ends) < self.batch_size or len(val_ends) < 1:
            raise ForecastError("short_history", f"{self.name}: {panel.n_steps} rows are too few to fit")

        def tensors(ends: np.ndarray) -> tuple[Any, Any, Any, Any]:
            x, extra = self._arrays(panel, values, ends)
            y = target_windows(panel.values, ends, horizons) / self.scale
            known = ~np.isnan(y)
            return (
                torch.from_numpy(x).to(device),
                torch.from_numpy(extra).to(device),
                torch.from_numpy(np.nan_to_num(y).astype(np.float32)).to(device),
                torch.from_numpy(known.astype(np.float32)).to(device),
            )

        fit_data, val_data = tensors(fit_ends), tensors(val_ends)
        self.history, self.networks = [], []
        for member in range(self.members):
            network, history = self._train(torch, device, self.seed + member, fit_data, val_data)
            self.networks.append(network)
            self.history.extend({**epoch, "member": float(member)} for epoch in history)

    def _train(
        self, torch: Any, device: Any, seed: int, fit_data: tuple[Any, ...], val_data: tuple[Any, ...]
    ) -> tuple[Any, list[dict[str, float]]]:
        """One network trained from `seed` with Adam and early stopping on the hold-out windows: (the
        network at its best hold-out epoch, per epoch training and hold-out loss)."""
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        fit_x, fit_extra, fit_y, fit_known = fit_data
        val_x, val_extra, val_y, val_known = val_data
        network = self._build(torch).to(device)
        optimiser = torch.optim.Adam(
            network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        best, best_state, waited = math.inf, None, 0
        power = 2 if self.loss == "mse" else 1
        beta = self.huber_kmh / self.scale

        def error(out: Any, y: Any, known: Any) -> Any:
            if self.loss == "huber":
                each = torch.nn.functional.smooth_l1_loss(out, y, reduction="none", beta=beta)
            else:
                each = (out - y).abs() ** power
            return (each * known).sum() / known.sum().clamp(min=1)

        started = time.process_time()  # CPU seconds: load from other work does not cut training short
        history: list[dict[str, float]] = []
        for _epoch in range(self.max_epochs):
            network.train()
            order = rng.permutation(len(fit_x))
            total = 0.0
            for first in range(0, len(order), self.batch_size):
                batch = torch.from_numpy(order[first : first + self.batch_size]).to(device)
                optimiser.zero_grad()
                out = network(fit_x[batch], fit_extra[batch])
                loss = error(out, fit_y[batch], fit_known[batch])
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(batch)
            network.eval()
            with torch.no_grad():
                out = network(val_x, val_extra)
                val_loss = float(error(out, val_y, val_known))
            history.append({"train": total / len(order), "holdout": val_loss})
            if val_loss < best:
                best, waited = val_loss, 0
                best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
            else:
                waited += 1
            if waited >= self.patience or time.process_time() - started > self.max_seconds / self.members:
                break
        network.load_state_dict(best_state)
        network.eval()
        return network, history

    @property
    def network(self) -> Any:
        """The first (or only) trained network; None before `fit`."""
        return self.networks[0] if self.networks else None

    def predict(self, panel: SpeedPanel, horizons: int) -> np.ndarray:
        if self.network is None or self.node_mean is None:
            raise ForecastError("not_fitted", f"{self.name} must be fitted before it predicts")
        check_horizons(horizons, self.horizons)
        if panel.n_steps < self.input_steps:
            raise ForecastError(
                "short_history", f"{self.name} needs {self.input_steps} rows, got {panel.n_steps}"
            )
        torch = _torch()
        if panel.n_nodes != self.node_mean.shape[0]:
            raise ForecastError(
                "bad_panel", f"{self.name} was fitted on {self.node_mean.shape[0]} nodes, got {panel.n_nodes}"
            )
        device = next(self.network.parameters()).device
        recent = panel.rows(panel.n_steps - self.input_steps, panel.n_steps)
        values = fill_missing(panel.values, self.node_mean)[-self.input_steps :]
        x, extra = self._arrays(recent, values, np.array([self.input_steps - 1]))
        x_in, extra_in = torch.from_numpy(x).to(device), torch.from_numpy(extra).to(device)
        with torch.no_grad():
            out = torch.stack([network(x_in, extra_in) for network in self.networks]).mean(dim=0)
        return np.asarray(out.cpu().numpy()[0, :horizons], dtype=np.float64) * self.scale

    def loss_history(self) -> list[dict[str, float]]:
        """Training and hold-out loss of each epoch of the last `fit`."""
        return list(self.history)

    def save(self, path: Path) -> None:
        if self.network is None or self.profile is None or self.node_mean is None or self.a_hat is None:
            raise ForecastError("not_fitted", f"{self.name} must be fitted before it is saved")
        arrays = {
            f"{_member_prefix(i)}{k}": v.cpu().numpy()
            for i, network in enumerate(self.networks)
            for k, v in network.state_dict().items()
        }
        arrays.update(profile=self.profile, node_mean=self.node_mean, a_hat=self.a_hat)
        write_state(
            path,
            name=self.name,
            params=self.params(),
            arrays=arrays,
            horizons=self.horizons,
            scale=self.scale,
        )

    @classmethod
    def load(cls, path: Path) -> Self:
        meta, arrays = read_state(path, cls.name)
        torch = _torch()
        model = cls(**meta["params"])
        model.horizons, model.scale = int(meta["horizons"]), float(meta["scale"])
        model.profile, model.node_mean, model.a_hat = arrays["profile"], arrays["node_mean"], arrays["a_hat"]
        device = model._torch_device(torch, fallback=True)
        for member in range(model.members):
            prefix = _member_prefix(member)
            network = model._build(torch)
            state = {k[len(prefix) :]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith(prefix)}
            network.load_state_dict(state)
            network.to(device)
            network.eval()
            model.networks.append(network)
        return model


@register
class GRUForecaster(TGCNForecaster):
    """The T-GCN without its graph convolution: a GRU on each node, weights shared by all nodes; the same
    parameters, inputs, head, highway and training. The T-GCN paper's GRU row is a plain GRU; this one
    keeps everything our T-GCN adds, so that the two differ by the graph only."""

    name: ClassVar[str] = "gru"
    graph: ClassVar[bool] = False
