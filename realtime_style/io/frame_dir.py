"""Directories of still frames: sorted PNG/JPEG in, one PNG per frame out."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import cv2

from realtime_style.errors import InputError, OutputError
from realtime_style.fsutil import PendingFile
from realtime_style.io.frames import Frame
from realtime_style.io.images import list_images, read_image
from realtime_style.io.video_file import VideoInfo

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


class FrameDirSource:
    def __init__(self, directory: str | os.PathLike, fps: Fraction = Fraction(25)) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise InputError(f"{self.directory} is not a directory")
        self.files = [p for p in list_images(self.directory) if p.suffix.lower() in FRAME_SUFFIXES]
        if not self.files:
            raise InputError(f"{self.directory} contains no PNG or JPEG frames")
        stems: dict[str, Path] = {}
        for path in self.files:  # each becomes STEM.png in a frame-directory output
            if path.stem in stems:
                raise InputError(f"{stems[path.stem].name} and {path.name} would both become {path.stem}.png; "
                                 "rename one of them")
            stems[path.stem] = path
        first = read_image(self.files[0]).rgb
        h, w = first.shape[:2]
        self.info = VideoInfo(w, h, fps, 1 / fps, len(self.files), 0)
        self.audio_streams: list = []

    def frames(self) -> Iterator[Frame]:
        h, w = self.info.height, self.info.width
        for i, path in enumerate(self.files):
            rgb = read_image(path).rgb
            if rgb.shape[:2] != (h, w):
                raise InputError(f"{path.name} is {rgb.shape[1]}x{rgb.shape[0]}, the first frame {w}x{h}; "
                                 "all frames of a directory must have one size")
            yield Frame(i, rgb, pts=i, time_base=self.info.time_base, name=path.name)

    def close(self) -> None:
        pass


class FrameDirSink:
    """One PNG per frame, named after the source frame (or ``frame_000001.png``), into a
    temporary directory that replaces ``target`` only when the run finishes."""

    def __init__(self, target: str | os.PathLike) -> None:
        self.target = Path(target)
        self._pending = PendingFile(self.target, directory=True)
        self.frames_written = 0

    def write(self, frame: Frame) -> None:
        name = Path(frame.name).stem if frame.name else f"frame_{frame.index + 1:06d}"
        img = frame.output if frame.output is not None else frame.rgb
        ok, buf = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise OutputError(f"could not encode frame {frame.index} as PNG")
        try:
            (self._pending.path / f"{name}.png").write_bytes(buf.tobytes())
        except OSError as exc:
            raise OutputError(f"writing frames into {self.target} failed: {exc.strerror or exc}") from exc
        self.frames_written += 1

    def finish(self, trailing: list) -> None:
        if self.frames_written == 0:
            self.abort()
            raise InputError("no frames were decoded; nothing was written")
        self._pending.commit()

    def abort(self) -> None:
        self._pending.discard()

    remove_temporary = abort  # nothing else to release: safe from any thread
