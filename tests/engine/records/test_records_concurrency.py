"""Concurrent writers on the same database: conflicts, not lost updates; no duplicate numbers."""

from __future__ import annotations

import threading

import pytest

from engine.records import VersionConflict

from .conftest import ALICE, BOB


def test_two_writers_one_conflict_nothing_lost(service, customer):
    deal = service.create("deal", {"customer": customer["id"], "amount": 100}, ALICE)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def write(name, actor, amount):
        barrier.wait()
        try:
            outcomes[name] = service.update(
                "deal", deal["id"], {"amount": amount}, actor, expected_version=1
            )
        except VersionConflict as exc:
            outcomes[name] = exc

    threads = [
        threading.Thread(target=write, args=("a", ALICE, 200)),
        threading.Thread(target=write, args=("b", BOB, 300)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conflicts = [o for o in outcomes.values() if isinstance(o, VersionConflict)]
    winners = [o for o in outcomes.values() if isinstance(o, dict)]
    assert len(conflicts) == 1 and len(winners) == 1
    assert conflicts[0].changed_fields == ["amount", "net"]
    stored = service.get("deal", deal["id"], ALICE)
    assert stored["amount"] == winners[0]["amount"] and stored["version"] == 2


@pytest.mark.parametrize("threads", [8])
def test_autonumbers_are_unique_and_gap_free_under_concurrency(service, customer, threads):
    per_thread = 10
    numbers: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work():
        try:
            for _ in range(per_thread):
                deal = service.create("deal", {"customer": customer["id"]}, ALICE)
                with lock:
                    numbers.append(deal["number"])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    expected = [f"D-2026-{n:04d}" for n in range(1, threads * per_thread + 1)]
    assert sorted(numbers) == expected
