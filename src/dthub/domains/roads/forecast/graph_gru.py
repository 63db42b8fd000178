"""AGCRN (自适应图卷积循环网络): a GRU whose gates are graph convolutions over the road graph and a graph
learnt from node embeddings, with weights of its own for every road (节点自适应参数).

Bai, Yao, Li, Wang and Wang, "Adaptive Graph Convolutional Recurrent Network for Traffic Forecasting",
NeurIPS 2020 (arXiv 2007.02842): node-adaptive parameter learning (each node's weights are its embedding
times a shared weight pool, `W_n = E_n W_pool`) and the data-adaptive graph `softmax(relu(E E^T))`. The
learnt graph is the one of Graph WaveNet (Wu, Pan, Long, Jiang and Zhang, IJCAI 2019, arXiv 1906.00121);
as there and in DCRNN (Li, Yu, Shahabi and Liu, ICLR 2018, arXiv 1707.01926), it is used beside the road
graph, and each support is applied up to `order` times (diffusion steps): the gates and the candidate
state of the GRU cell are `sum_n [z, S z, S^2 z, ...] W_n + b_n` over the supports S = the road graph's
`D^-1/2 (A + I) D^-1/2` (as T-GCN) and the learnt graph, with z = [x_t, h_{t-1}].

What it keeps from our T-GCN (`neural.py`, whose training loop, inputs, save and load it shares by
subclassing): the calendar inputs (time of day, the node's training mean at that time of day, also at the
target times in the head) and the linear highway from the speed inputs to the output; the highway is a
linear autoregression of each node's own (`node_highway=True`), as the per-node linear AR that is strong on
SZ-taxi. Every part can be switched off for ablations: `road_graph`, `adaptive_graph`, `node_adaptive`,
`node_highway`; with all four off it is the `gru` baseline's cell (`order` ignored).

`spatial="cell"` is AGCRN's cell (the graph inside every gate at every step: its dense learnt graph costs
about ten times the GRU's arithmetic on a CPU); `spatial="inputs"` spreads the inputs of every step over
the supports once (each cell sees its neighbours' recent speeds) and the last hidden state once before the
head, with node-adaptive gates on the result: most of the graph's information at a fraction of the cost.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from dthub.domains.roads.forecast.base import ForecastError, register
from dthub.domains.roads.forecast.neural import TGCNForecaster

SPATIAL = ("cell", "inputs")
"""Where the graph convolution sits: in every gate of the cell (AGCRN), or on the inputs and last state."""


def _graph_network(
    torch: Any,
    *,
    a_hat: np.ndarray | None,
    nodes: int,
    steps_in: int,
    inputs: int,
    hidden: int,
    horizons: int,
    head_extra: int,
    embed_dim: int,
    order: int,
    adaptive_graph: bool,
    node_adaptive: bool,
    node_highway: bool,
    in_cell: bool,
) -> Any:
    nn = torch.nn
    supports = int(a_hat is not None) + int(adaptive_graph)
    terms = 1 + order * supports

    def spread(z: Any, powers: Any) -> Any:
        """[z, S z, S^2 z, ...] along the last axis; z (..., N, F), `powers` every S^k stacked
        ((terms - 1) * N, N) and applied in one product."""
        if terms == 1:
            return z
        *lead, n, features = z.shape
        out = torch.matmul(powers, z).reshape(*lead, terms - 1, n, features)
        out = out.transpose(-3, -2).reshape(*lead, n, (terms - 1) * features)
        return torch.cat([z, out], dim=-1)

    class Mixing(nn.Module):  # type: ignore[misc,name-defined]
        """`[z, S z, S^2 z, ...] W + b`: W and b are the node's own (`E_n W_pool`, `E_n b_pool + b`) when
        node-adaptive, else shared by all nodes."""

        def __init__(self, in_features: int, out_features: int, bias: float) -> None:
            super().__init__()
            width = in_features * terms if in_cell else in_features
            std = math.sqrt(2.0 / (width + out_features))
            self.bias = nn.Parameter(torch.full((out_features,), bias))
            if node_adaptive:
                # E ~ N(0, 1): E_n W_pool then has the Glorot variance whatever the embedding size.
                self.pool = nn.Parameter(
                    torch.randn(embed_dim, width, out_features) * std / math.sqrt(embed_dim)
                )
                self.bias_pool = nn.Parameter(torch.zeros(embed_dim, out_features))
            else:
                self.weight = nn.Parameter(torch.randn(width, out_features) * std)

        def weights(self, embedding: Any) -> tuple[Any, Any]:
            """(W, b) for this forward pass: (N, K, O) and (N, O) per node, or (K, O) and (O,) shared."""
            if node_adaptive:
                return torch.einsum(
                    "nd,dko->nko", embedding, self.pool
                ), embedding @ self.bias_pool + self.bias
            return self.weight, self.bias

        def forward(self, z: Any, powers: Any, weight: Any, bias: Any) -> Any:  # z: (B, N, F)
            stacked = spread(z, powers) if in_cell else z  # (B, N, K)
            if node_adaptive:
                return torch.einsum("bnk,nko->bno", stacked, weight) + bias
            return stacked @ weight + bias

    class AGCRN(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.hidden = hidden
            road = torch.zeros(0) if a_hat is None else torch.tensor(a_hat, dtype=torch.float32)
            self.register_buffer("road", road, persistent=False)
            self.embedding = nn.Parameter(torch.randn(nodes, embed_dim))
            width = inputs if in_cell else inputs * terms
            self.gates = Mixing(width + hidden, 2 * hidden, 1.0)
            self.candidate = Mixing(width + hidden, hidden, 0.0)
            self.head = nn.Linear(hidden * (1 if in_cell else terms) + head_extra, horizons)
            if node_highway:  # a linear autoregression of each node's own speed inputs
                self.highway_weight = nn.Parameter(torch.full((nodes, steps_in, horizons), 1.0 / steps_in))
                self.highway_bias = nn.Parameter(torch.zeros(nodes, horizons))
            else:
                self.highway = nn.Linear(steps_in, horizons)
                nn.init.constant_(self.highway.weight, 1.0 / steps_in)
                nn.init.zeros_(self.highway.bias)

        def powers(self) -> Any:
            """S, S^2, .., S^order of each support, stacked into one ((terms - 1) * N, N) matrix."""
            graphs = [] if a_hat is None else [self.road]
            if adaptive_graph:
                graphs.append(torch.softmax(torch.relu(self.embedding @ self.embedding.T), dim=1))
            out = []
            for graph in graphs:
                power = graph
                for k in range(order):
                    power = graph if k == 0 else graph @ power
                    out.append(power)
            return torch.cat(out, dim=0) if out else None

        def forward(self, x: Any, extra: Any) -> Any:  # x: (B, L, N, F); extra: (B, N, E)
            batch, steps, n, _ = x.shape
            powers = self.powers()
            gate_w, gate_b = self.gates.weights(self.embedding)
            cand_w, cand_b = self.candidate.weights(self.embedding)
            h = x.new_zeros(batch, n, self.hidden)
            speeds = x[..., 0].permute(0, 2, 1)  # (B, N, L)
            if not in_cell:  # the graph spreads the inputs once and the last state once
                x = spread(x, powers)
            for t in range(steps):
                xt = x[:, t]
                gates = self.gates(torch.cat([xt, h], dim=2), powers, gate_w, gate_b)
                r, u = torch.sigmoid(gates).chunk(2, dim=2)
                c = torch.tanh(self.candidate(torch.cat([xt, r * h], dim=2), powers, cand_w, cand_b))
                h = u * h + (1.0 - u) * c
            if not in_cell:
                h = spread(h, powers)
            if node_highway:
                linear = torch.einsum("bnl,nlh->bnh", speeds, self.highway_weight) + self.highway_bias
            else:
                linear = self.highway(speeds)
            out = self.head(torch.cat([h, extra], dim=2)) + linear
            return out.permute(0, 2, 1)  # (B, H, N)

    return AGCRN()


@register
class AGCRNForecaster(TGCNForecaster):
    """AGCRN with the road graph beside the learnt one, node-adaptive weights, per-node highway and the
    T-GCN's calendar inputs; trained, saved and loaded as `TGCNForecaster` (all its parameters apply)."""

    name: ClassVar[str] = "agcrn"
    graph: ClassVar[bool] = True

    def __init__(
        self,
        *,
        embed_dim: int = 10,
        order: int = 2,
        road_graph: bool = True,
        adaptive_graph: bool = True,
        node_adaptive: bool = True,
        node_highway: bool = True,
        spatial: str = "cell",
        **common: Any,
    ) -> None:
        super().__init__(**common)
        if embed_dim < 1 or order < 1:
            raise ForecastError("bad_params", f"embed_dim {embed_dim} and order {order} must be >= 1")
        self.embed_dim, self.order = embed_dim, order
        self.road_graph, self.adaptive_graph = road_graph, adaptive_graph
        self.node_adaptive, self.node_highway = node_adaptive, node_highway
        if spatial not in SPATIAL:
            raise ForecastError("bad_params", f"spatial {spatial!r}; want one of {', '.join(SPATIAL)}")
        self.spatial = spatial

    def params(self) -> dict[str, object]:
        return {
            **super().params(),
            "embed_dim": self.embed_dim,
            "order": self.order,
            "road_graph": self.road_graph,
            "adaptive_graph": self.adaptive_graph,
            "node_adaptive": self.node_adaptive,
            "node_highway": self.node_highway,
            "spatial": self.spatial,
        }

    def _build(self, torch: Any) -> Any:
        assert self.a_hat is not None
        return _graph_network(
            torch,
            a_hat=self.a_hat if self.road_graph else None,
            nodes=int(self.a_hat.shape[0]),
            steps_in=self.input_steps,
            inputs=self._inputs,
            hidden=self.hidden,
            horizons=self.horizons,
            head_extra=self.horizons if self.calendar else 0,
            embed_dim=self.embed_dim,
            order=self.order,
            adaptive_graph=self.adaptive_graph,
            node_adaptive=self.node_adaptive,
            node_highway=self.node_highway,
            in_cell=self.spatial == "cell",
        )
