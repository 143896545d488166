"""The threaded pipeline with real threads: order, back-pressure, stop, and failures."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from realtime_style.io.frames import Frame
from realtime_style.pipeline import Pipeline, PipelineError


class ListSource:
    def __init__(self, n: int, fail_at: int | None = None):
        self.n, self.fail_at = n, fail_at
        self.yielded = 0
        self.closed = 0

    def frames(self):
        for i in range(self.n):
            if i == self.fail_at:
                raise RuntimeError(f"source broke at {i}")
            self.yielded += 1
            yield Frame(i, np.full((4, 4, 3), i % 256, np.uint8), attachments=[f"audio-{i}"])

    def trailing_attachments(self):
        return ["audio-tail"]

    def close(self):
        self.closed += 1


class ListSink:
    def __init__(self, delay: float = 0.0, fail_at: int | None = None, source: ListSource | None = None):
        self.frames, self.finished, self.aborted = [], None, False
        self.delay, self.fail_at, self.source = delay, fail_at, source
        self.max_ahead = 0
        self.source_closed_before_finish = False

    def write(self, frame):
        if frame.index == self.fail_at:
            raise OSError("disk full")
        time.sleep(self.delay)
        self.frames.append(frame)
        if self.source:
            self.max_ahead = max(self.max_ahead, self.source.yielded - len(self.frames))

    def finish(self, trailing):
        if self.source and self.source.closed:
            self.source_closed_before_finish = True
        self.finished = trailing

    def abort(self):
        self.aborted = True


def add_one(frame):
    frame.output = frame.rgb + 1
    return frame


def test_every_frame_arrives_in_order_with_its_attachments():
    src = ListSource(200)
    sink = ListSink(source=src)
    stats = Pipeline(src, [("plus", add_one), ("jitter", lambda f: (time.sleep(0.0005 * (f.index % 3)), f)[1])],
                     sink).run()
    assert [f.index for f in sink.frames] == list(range(200))
    assert all(np.array_equal(f.output, f.rgb + 1) for f in sink.frames)
    assert [f.attachments for f in sink.frames[:2]] == [["audio-0"], ["audio-1"]]
    assert sink.finished == ["audio-tail"] and not sink.aborted
    assert stats.frames_in == stats.frames_out == 200
    assert [s.name for s in stats.stages] == ["source", "plus", "jitter", "sink"]
    assert all(s.frames == 200 for s in stats.stages)
    assert src.closed == 1 and not sink.source_closed_before_finish


def test_a_slow_sink_holds_the_source_back_instead_of_dropping():
    src = ListSource(60)
    sink = ListSink(delay=0.01, source=src)
    Pipeline(src, [("plus", add_one)], sink, queue_size=2).run()
    assert len(sink.frames) == 60
    # two queues of 2, one frame in each thread: the source can never run further ahead
    assert sink.max_ahead <= 2 * 2 + 3


def test_stop_finishes_the_frames_already_read():
    src = ListSource(10_000)
    sink = ListSink(delay=0.002)
    pipeline = Pipeline(src, [("plus", add_one)], sink)
    threading.Timer(0.2, pipeline.stop).start()
    stats = pipeline.run()
    assert stats.stopped and 0 < stats.frames_out < 10_000
    assert stats.frames_in == stats.frames_out == len(sink.frames)
    assert sink.finished == [] and not sink.aborted  # no trailing audio past the cut


def test_frame_limit():
    src, sink = ListSource(50), ListSink()
    stats = Pipeline(src, [("plus", add_one)], sink, frame_limit=7).run()
    assert stats.frames_out == 7 and not stats.stopped and sink.finished == []


@pytest.mark.parametrize("where", ["source", "stage", "sink"])
def test_a_failure_anywhere_stops_everything_and_aborts_the_sink(where):
    src = ListSource(500, fail_at=40 if where == "source" else None)
    sink = ListSink(fail_at=40 if where == "sink" else None)

    def stage(frame):
        if where == "stage" and frame.index == 40:
            raise ValueError("stage broke")
        return frame

    with pytest.raises(PipelineError) as info:
        Pipeline(src, [("stage", stage)], sink).run()
    assert sink.aborted and sink.finished is None
    assert info.value.stats.frames_out == len(sink.frames) <= 40
    assert type(info.value.error) is {"source": RuntimeError, "stage": ValueError, "sink": OSError}[where]
    assert src.closed == 1


def test_no_thread_is_left_behind():
    before = threading.active_count()
    for _ in range(3):
        with pytest.raises(PipelineError):
            Pipeline(ListSource(100, fail_at=5), [("plus", add_one)], ListSink()).run()
        Pipeline(ListSource(20), [("plus", add_one)], ListSink()).run()
    assert threading.active_count() <= before


def test_back_to_back_video_conversions_in_one_process(tmp_path):
    """Regression: a PyAV decode generator left suspended after its container closed was
    finalized later in another thread, corrupting FFmpeg's heap (garbage dts from x264,
    'pts/dts pair unsupported', segfaults). Many runs in one process, with a slow stage so
    decode and encode overlap, must all succeed."""
    import av

    from realtime_style.io.video_file import VideoFileSink, VideoFileSource

    clip = tmp_path / "clip.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for i in range(30):
            frame = av.VideoFrame.from_ndarray(np.full((96, 160, 3), (i * 8) % 256, np.uint8), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)

    def slow(frame):
        time.sleep(0.004)
        frame.output = frame.rgb
        return frame

    for i in range(8):
        src = VideoFileSource(clip)
        sink = VideoFileSink(tmp_path / f"out{i}.mp4", src.info, audio_streams=[])
        stats = Pipeline(src, [("slow", slow)], sink, frame_limit=0 if i % 2 else 20).run()
        assert stats.frames_out == (30 if i % 2 else 20)


@pytest.mark.parametrize("workers", [2, 3, 6])
def test_parallel_workers_keep_the_order(workers):
    """Workers finish frames out of order (random delays); the next stage and the sink still
    see them in sequence, all of them, and the end marker only after the last one."""
    rng = np.random.default_rng(workers)
    delays = rng.uniform(0, 0.004, 300)
    seen_by_next = []

    def slow(frame):
        time.sleep(delays[frame.index])
        return add_one(frame)

    def record(frame):
        seen_by_next.append(frame.index)
        return frame

    src, sink = ListSource(300), ListSink()
    stats = Pipeline(src, [("engine", slow, workers), ("after", record)], sink, queue_size=2).run()
    assert seen_by_next == list(range(300)) == [f.index for f in sink.frames]
    assert sink.finished == ["audio-tail"] and stats.stages[1].frames == 300


def test_parallel_workers_failure_is_reported():
    def broken(frame):
        if frame.index == 50:
            raise ValueError("worker broke")
        return frame

    sink = ListSink()
    with pytest.raises(PipelineError, match="worker broke"):
        Pipeline(ListSource(400), [("engine", broken, 2)], sink).run()
    assert sink.aborted and [f.index for f in sink.frames] == list(range(len(sink.frames)))
