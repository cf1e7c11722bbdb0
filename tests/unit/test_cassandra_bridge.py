"""The hand-over of a Cassandra answer from the driver's thread to the asyncio loop."""

from __future__ import annotations

import asyncio
import threading

from trackstream_cassandra.session import _hand_over


def test_an_answer_reaches_a_running_loop_from_another_thread() -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        got: asyncio.Future[list[int]] = loop.create_future()
        thread = threading.Thread(target=_hand_over, args=(loop, got.set_result, [1, 2]))
        thread.start()
        thread.join()
        return await asyncio.wait_for(got, 5)

    assert asyncio.run(main()) == [1, 2]


def test_an_answer_after_the_loop_closed_is_dropped_without_an_error() -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    called: list[object] = []
    _hand_over(loop, called.append, "late")  # a shutdown: nobody waits any more
    assert called == []
