"""The newest-wins slot (realtime_style.latest): replacement and drop counts, timeouts,
close wake-ups, numbered reads; real threads, every wait bounded."""

from __future__ import annotations

import threading
import time

from realtime_style.latest import Latest


def test_put_replaces_an_item_not_taken_and_counts_it():
    slot: Latest[int] = Latest()
    assert slot.put(1) == 1 and slot.put(2) == 2
    assert slot.dropped == 1 and slot.seq == 2
    assert slot.take(0) == 2
    assert slot.take(0) is None  # taken: nothing unseen is left
    slot.put(3)
    assert slot.dropped == 1  # nothing was waiting: no drop
    assert slot.take(0) == 3


def test_take_waits_up_to_its_timeout_and_no_longer():
    slot: Latest[int] = Latest()
    t0 = time.perf_counter()
    assert slot.take(0.1) is None
    waited = time.perf_counter() - t0
    assert 0.09 <= waited < 2.0
    t0 = time.perf_counter()
    assert slot.take(0) is None and time.perf_counter() - t0 < 0.05


def test_a_waiting_take_wakes_the_moment_an_item_arrives():
    slot: Latest[str] = Latest()
    got = []
    consumer = threading.Thread(target=lambda: got.append((slot.take(10.0), time.perf_counter())))
    consumer.start()
    time.sleep(0.05)
    put_at = time.perf_counter()
    slot.put("frame")
    consumer.join(timeout=5.0)
    assert not consumer.is_alive()
    item, woke_at = got[0]
    assert item == "frame" and woke_at - put_at < 1.0


def test_close_wakes_waiters_and_keeps_what_was_put_before_it():
    slot: Latest[int] = Latest()
    results = []
    waiters = [threading.Thread(target=lambda: results.append(slot.take(10.0))) for _ in range(2)]
    waiters.append(threading.Thread(target=lambda: results.append(slot.newer(0, 10.0))))
    for t in waiters:
        t.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    slot.close()
    for t in waiters:
        t.join(timeout=5.0)
    assert not any(t.is_alive() for t in waiters) and time.perf_counter() - t0 < 2.0
    assert results == [None, None, None] and slot.closed

    slot = Latest()
    slot.put(7)
    slot.close()
    assert slot.put(8) == 0  # after close nothing is kept
    assert slot.take(10.0) == 7  # put before close: still handed over, without waiting
    assert slot.take(10.0) is None  # closed and empty: at once


def test_newer_reads_by_number_and_leaves_the_item_in_place():
    slot: Latest[str] = Latest()
    assert slot.newer(0, 0) is None
    slot.put("a")
    assert slot.newer(0, 0) == (1, "a")
    assert slot.newer(0, 0) == (1, "a")  # not taken: a reader may see it again
    assert slot.newer(1, 0.05) is None  # nothing newer than 1
    slot.put("b")
    slot.put("c")
    assert slot.newer(1, 0) == (3, "c")  # the newest, skipping what it never saw


def test_a_fast_producer_and_a_slow_consumer_lose_only_counted_items():
    slot: Latest[int] = Latest()
    n = 500
    taken: list[int] = []

    def produce():
        for i in range(n):
            slot.put(i)
            if i % 50 == 0:
                time.sleep(0.001)
        slot.close()

    def consume():
        deadline = time.perf_counter() + 20.0
        while time.perf_counter() < deadline:
            item = slot.take(1.0)
            if item is None:
                if slot.closed:
                    return
                continue
            taken.append(item)
            time.sleep(0.0005)  # slower than the producer

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30.0)
    assert not any(t.is_alive() for t in threads)
    assert taken == sorted(set(taken))  # newest first never reorders, nothing is taken twice
    assert taken[-1] == n - 1  # the newest item is never lost
    assert len(taken) + slot.dropped == n  # every item taken or counted as dropped
    assert slot.dropped > 0
