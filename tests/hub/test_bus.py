"""The stream bus (消息总线): one set of behaviours, run on the memory and the Redis Streams bus."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from dthub.hub.bus import Bus, Delivery, NoSuchGroup, connect_bus

T = TypeVar("T")
STREAM = "vehicles.jt808"
REPORTS = [{"plate": "津A12345", "speed_kmh": str(speed)} for speed in (0, 42, 61)]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def bus_url(request: pytest.FixtureRequest) -> str:
    """URL of an empty bus of each kind."""
    if request.param == "memory":
        return "memory://"
    url: str = request.getfixturevalue("redis_db_url")
    return url


def on_bus(url: str, scenario: Callable[[Bus], Awaitable[T]]) -> T:
    """Run scenario on a fresh connection to the bus at url, closing it afterwards."""

    async def run() -> T:
        bus = connect_bus(url)
        try:
            return await scenario(bus)
        finally:
            await bus.close()

    return asyncio.run(run())


def encoded(message: dict[str, str]) -> dict[str, bytes]:
    return {key: value.encode() for key, value in message.items()}


async def publish_reports(bus: Bus) -> list[str]:
    return [await bus.publish(STREAM, report) for report in REPORTS]


def test_a_group_receives_published_messages_in_order(bus_url: str) -> None:
    async def scenario(bus: Bus) -> tuple[list[str], list[Delivery]]:
        await bus.ensure_group(STREAM, "writers")
        ids = await publish_reports(bus)
        return ids, await bus.read(STREAM, "writers", "w1", count=10, block_ms=0)

    ids, deliveries = on_bus(bus_url, scenario)
    assert deliveries == [
        Delivery(stream=STREAM, id=id_, message=encoded(report))
        for id_, report in zip(ids, REPORTS, strict=True)
    ]


def test_each_group_receives_every_message_even_when_created_after_publishing(bus_url: str) -> None:
    async def scenario(bus: Bus) -> list[list[Delivery]]:
        await bus.ensure_group(STREAM, "rules")
        await publish_reports(bus)
        await bus.ensure_group(STREAM, "writers")
        return [await bus.read(STREAM, group, "c1", count=10, block_ms=0) for group in ("rules", "writers")]

    rules, writers = on_bus(bus_url, scenario)
    assert [d.message for d in rules] == [d.message for d in writers] == list(map(encoded, REPORTS))


def test_consumers_of_one_group_split_messages_without_duplicates(bus_url: str) -> None:
    async def scenario(bus: Bus) -> tuple[list[str], dict[str, list[str]]]:
        await bus.ensure_group(STREAM, "writers")
        ids = [await bus.publish(STREAM, {"n": str(n)}) for n in range(10)]
        seen: dict[str, list[str]] = {"w1": [], "w2": []}
        for consumer in ["w1", "w2", "w1", "w2", "w1"]:
            batch = await bus.read(STREAM, "writers", consumer, count=3, block_ms=0)
            seen[consumer] += [delivery.id for delivery in batch]
        return ids, seen

    ids, seen = on_bus(bus_url, scenario)
    assert seen == {"w1": ids[0:3] + ids[6:9], "w2": ids[3:6] + ids[9:10]}


def test_read_waits_up_to_block_ms_for_a_message(bus_url: str) -> None:
    async def scenario(bus: Bus) -> tuple[list[Delivery], float, list[Delivery]]:
        await bus.ensure_group(STREAM, "writers")
        started = time.monotonic()
        nothing = await bus.read(STREAM, "writers", "w1", count=1, block_ms=100)
        waited_s = time.monotonic() - started

        async def publish_later() -> str:
            await asyncio.sleep(0.05)
            return await bus.publish(STREAM, REPORTS[0])

        arrived, _ = await asyncio.gather(
            bus.read(STREAM, "writers", "w1", count=1, block_ms=5_000), publish_later()
        )
        return nothing, waited_s, arrived

    nothing, waited_s, arrived = on_bus(bus_url, scenario)
    assert (nothing, waited_s >= 0.09) == ([], True)
    assert [delivery.message for delivery in arrived] == [encoded(REPORTS[0])]


def test_unacked_messages_stay_pending_until_another_consumer_claims_them(bus_url: str) -> None:
    async def scenario(bus: Bus) -> tuple[list[str], list[object]]:
        await bus.ensure_group(STREAM, "writers")
        ids = await publish_reports(bus)
        await bus.read(STREAM, "writers", "crashed", count=2, block_ms=0)
        fresh = await bus.claim_stale(STREAM, "writers", "w2", min_idle_ms=60_000, count=10)
        await asyncio.sleep(0.1)
        stale = await bus.claim_stale(STREAM, "writers", "w2", min_idle_ms=50, count=10)
        pending_before_ack = await bus.pending(STREAM, "writers")
        acked = await bus.ack(STREAM, "writers", *(delivery.id for delivery in stale))
        return ids, [fresh, [d.id for d in stale], pending_before_ack, acked]

    ids, observed = on_bus(bus_url, scenario)
    assert observed == [[], ids[:2], 2, 2]


def test_acked_messages_are_not_redelivered(bus_url: str) -> None:
    async def scenario(bus: Bus) -> list[object]:
        await bus.ensure_group(STREAM, "writers")
        await publish_reports(bus)
        first = await bus.read(STREAM, "writers", "w1", count=10, block_ms=0)
        acked = await bus.ack(STREAM, "writers", *(delivery.id for delivery in first))
        return [
            acked,
            await bus.ack(STREAM, "writers", first[0].id),
            await bus.pending(STREAM, "writers"),
            await bus.read(STREAM, "writers", "w1", count=10, block_ms=0),
            await bus.claim_stale(STREAM, "writers", "w2", min_idle_ms=0, count=10),
        ]

    assert on_bus(bus_url, scenario) == [3, 0, 0, [], []]


def test_reading_a_group_never_created_raises_no_such_group(bus_url: str) -> None:
    async def scenario(bus: Bus) -> None:
        await bus.publish(STREAM, REPORTS[0])
        await bus.read(STREAM, "writers", "w1", count=1, block_ms=0)

    with pytest.raises(NoSuchGroup) as raised:
        on_bus(bus_url, scenario)
    assert (raised.value.stream, raised.value.group) == (STREAM, "writers")


def test_message_without_fields_is_refused(bus_url: str) -> None:
    async def scenario(bus: Bus) -> str:
        return await bus.publish(STREAM, {})

    with pytest.raises(ValueError, match="at least one field"):
        on_bus(bus_url, scenario)


def test_unknown_bus_scheme_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'kafka'"):
        connect_bus("kafka://127.0.0.1:9092")


PUBLISH_AND_EXIT = """
import asyncio, sys
from dthub.hub.bus import connect_bus

async def main(url: str) -> None:
    bus = connect_bus(url)
    print(await bus.publish(sys.argv[2], {"plate": "津A12345"}))
    await bus.close()

asyncio.run(main(sys.argv[1]))
"""

READ_AND_DIE = """
import asyncio, os, sys
from dthub.hub.bus import connect_bus

async def main(url: str) -> None:
    bus = connect_bus(url)
    await bus.ensure_group(sys.argv[2], "writers")
    [delivery] = await bus.read(sys.argv[2], "writers", "w1", count=1, block_ms=0)
    print(delivery.id, flush=True)
    os._exit(1)  # dies before acknowledging, without closing anything

asyncio.run(main(sys.argv[1]))
"""


def in_subprocess(script: str, url: str, *, exit_code: int = 0) -> str:
    """Run script in a new Python process with the bus URL and stream; return what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", script, url, STREAM], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stderr) == (exit_code, "")
    return done.stdout.strip()


@pytest.mark.redis
def test_message_published_by_a_process_that_exited_is_delivered(redis_db_url: str) -> None:
    async def scenario(bus: Bus) -> list[Delivery]:
        await bus.ensure_group(STREAM, "writers")
        return await bus.read(STREAM, "writers", "w1", count=10, block_ms=0)

    message_id = in_subprocess(PUBLISH_AND_EXIT, redis_db_url)
    assert on_bus(redis_db_url, scenario) == [
        Delivery(stream=STREAM, id=message_id, message=encoded({"plate": "津A12345"}))
    ]


@pytest.mark.redis
def test_message_read_by_a_worker_that_died_is_claimed_by_its_successor(redis_db_url: str) -> None:
    async def publish(bus: Bus) -> str:
        return await bus.publish(STREAM, REPORTS[0])

    async def successor(bus: Bus) -> tuple[int, list[Delivery]]:
        pending = await bus.pending(STREAM, "writers")
        return pending, await bus.claim_stale(STREAM, "writers", "w2", min_idle_ms=0, count=10)

    message_id = on_bus(redis_db_url, publish)
    assert in_subprocess(READ_AND_DIE, redis_db_url, exit_code=1) == message_id
    assert on_bus(redis_db_url, successor) == (
        1,
        [Delivery(stream=STREAM, id=message_id, message=encoded(REPORTS[0]))],
    )
