"""Distances and neighbours of points on the earth (WGS-84 degrees), and the array types of the transit
modules."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M = 6_371_000.0

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Strs = npt.NDArray[np.object_]


def distance_m(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> F64:
    """Great-circle distance (haversine), metres."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0))), dtype=np.float64)


def nearby_pairs(
    lat: F64, lon: F64, candidates: npt.NDArray[np.bool_], radius_m: float
) -> tuple[I64, I64, F64]:
    """All ordered pairs (a, b), a != b, of candidate points within `radius_m`, by a uniform grid of cells
    `radius_m` wide: each point is compared only with the points of its own and the 8 neighbouring cells."""
    index = np.flatnonzero(candidates & np.isfinite(lat) & np.isfinite(lon))
    if len(index) == 0 or radius_m <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    mean_lat = float(np.radians(lat[index].mean()))
    y = lat[index] * (np.pi / 180 * EARTH_RADIUS_M)
    x = lon[index] * (np.pi / 180 * EARTH_RADIUS_M * np.cos(mean_lat))
    cx, cy = np.floor(x / radius_m).astype(np.int64), np.floor(y / radius_m).astype(np.int64)
    cx -= cx.min()
    cy -= cy.min()
    width = int(cy.max()) + 3
    cell = cx * width + cy
    order = np.argsort(cell, kind="stable")
    sorted_cells = cell[order]
    sources: list[I64] = []
    targets: list[I64] = []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            wanted = cell + dx * width + dy
            low = np.searchsorted(sorted_cells, wanted, side="left")
            high = np.searchsorted(sorted_cells, wanted, side="right")
            counts = high - low
            source = np.repeat(np.arange(len(index)), counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            sources.append(source)
            targets.append(order[np.repeat(low, counts) + offsets])
    a, b = index[np.concatenate(sources)], index[np.concatenate(targets)]
    distance = distance_m(lat[a], lon[a], lat[b], lon[b])
    near = (a != b) & (distance <= radius_m)
    return a[near], b[near], distance[near]
