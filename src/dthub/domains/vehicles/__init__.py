"""Vehicle supervision (车辆动态监管): terminals on transport vehicles and their reports (JT/T 808)."""

from __future__ import annotations

from dthub.domains.vehicles.api import router
from dthub.domains.vehicles.datasets import ALARMS, LOCATION_REPORTS
from dthub.domains.vehicles.ingest.bus_jt808 import AlarmRecords, GatewayFrames
from dthub.hub.domain import Domain

DOMAIN = Domain(
    name="vehicles",
    title_zh="车辆动态监管",
    title_en="Vehicle supervision",
    datasets=(LOCATION_REPORTS, ALARMS),
    adapters=(GatewayFrames(), AlarmRecords()),
    router=router,
)
