"""The forecast model registry on SQLite and PostgreSQL: versions, activation, artefacts, lineage."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from dthub.domains.roads.forecast import make_model, registry
from dthub.domains.roads.forecast.panel import lake_inputs, segment_panel
from dthub.hub.core import Hub
from fixtures.forecast import END, START, land, train


def test_a_trained_model_round_trips_through_the_registry(any_hub: Hub, pems_files: list[Path]) -> None:
    land(any_hub, pems_files[:2])

    first = train(any_hub)
    second = train(any_hub)

    assert (first.id, first.version, second.id, second.version) == (
        "historical_average-v1", 1, "historical_average-v2", 2,
    )  # fmt: skip
    stored = registry.get(any_hub, first.id)
    assert stored.status == registry.RETIRED
    assert stored.retired_at is not None
    assert [row.id for row in registry.active(any_hub)] == [second.id]
    assert stored.params == {"period": "day"}
    assert stored.nodes == ["pems:401833", "pems:401834", "pems:404531", "pems:404532"]
    assert (stored.train_start, stored.step_s, stored.horizons) == (START, 900, 4)
    assert START < stored.train_end < END
    assert stored.trained_at.tzinfo is not None
    per_horizon = stored.metrics["per_horizon"]
    assert [item["horizon"] for item in per_horizon] == [1, 2, 3, 4]
    assert all(item["pairs"] > 0 and item["rmse"] >= item["mae"] > 0 for item in per_horizon)
    assert stored.metrics["validation"]["start"] == stored.train_end.isoformat()

    history = segment_panel(any_hub, start=START, end=END, step=timedelta(seconds=stored.step_s))
    loaded = registry.load(any_hub, stored)
    assert (any_hub.settings.home / stored.artefact).is_dir()
    # two fits of the same window: equal up to the order in which DuckDB adds the speeds of a mean
    assert np.allclose(
        loaded.predict(history, 4), registry.load(any_hub, second).predict(history, 4), rtol=1e-9
    )

    assert registry.activate(any_hub, first.id).status == registry.ACTIVE
    assert [row.id for row in registry.active(any_hub)] == [first.id]
    assert registry.get(any_hub, second.id).status == registry.RETIRED
    assert registry.retire(any_hub, first.id).status == registry.RETIRED
    assert registry.active(any_hub) == []
    assert [row.id for row in registry.models(any_hub)] == [second.id, first.id]


def test_lineage_names_the_batches_of_the_training_window(any_hub: Hub, pems_files: list[Path]) -> None:
    batches = land(any_hub, pems_files[:3])  # the third day, 2022-10-18, lies after the window

    model = train(any_hub)

    observed = {
        name: batch.batch_id for (name, dataset), batch in batches.items() if dataset.endswith("ions")
    }
    first, second, third = (path.name for path in pems_files[:3])
    lineage = {(item.dataset_id, item.batch_id): item.files for item in registry.inputs(any_hub, model.id)}
    assert ("roads.detector_observations", observed[first]) in lineage
    assert ("roads.detector_observations", observed[second]) in lineage
    assert ("roads.detector_observations", observed[third]) not in lineage
    mapping = batches[(first, "roads.detector_segments")].batch_id
    assert lineage[("roads.detector_segments", mapping)] == 1
    assert all(files >= 1 for files in lineage.values())


def test_an_unknown_model_id_is_refused(hub: Hub) -> None:
    with pytest.raises(registry.RegistryError) as refused:
        registry.get(hub, "tgcn-v99")
    assert refused.value.reason == "forecast.unknown_model_id"


def test_a_learned_model_predicts_the_same_after_the_registry_loads_it(
    hub: Hub, pems_files: list[Path]
) -> None:
    land(hub, pems_files[:2])
    step = timedelta(minutes=15)
    panel = segment_panel(hub, start=START, end=END, step=step)
    model = make_model("linear_ar", lags=4)
    model.fit(panel, 4)
    inputs = tuple(lake_inputs(hub, start=START, end=END))
    training = registry.Training(start=START, end=END, step=step, horizons=4, context_steps=24,
                                 nodes=panel.nodes, inputs=inputs)  # fmt: skip

    row = registry.register(hub, model, training, {"note": "no validation"}, by="test")

    history = panel.rows(panel.n_steps - 24, panel.n_steps)
    loaded = registry.load(hub, registry.get(hub, row.id))
    assert (row.id, row.params["lags"], row.metrics) == ("linear_ar-v1", 4, {"note": "no validation"})
    assert np.isfinite(model.predict(history, 4)).all()
    assert np.array_equal(loaded.predict(history, 4), model.predict(history, 4))
