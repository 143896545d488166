"""OUTDIR/batch.json: every input's state and each of its segments', rewritten atomically
after every change, so a rerun (after a failure, a crash or Ctrl-C) knows what is done.

An input's record is valid for the file it was made from (size and modification time) and the
options that shape its output (style, strength, colour, smoothing, encoder, segmenting); a
rerun with other options or a changed file starts that input over.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from realtime_style.errors import OutputError
from realtime_style.fsutil import write_bytes_atomic

STATE_NAME = "batch.json"
VERSION = 1

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"


def fingerprint(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


class BatchState:
    def __init__(self, outdir: Path) -> None:
        self.path = outdir / STATE_NAME
        self.inputs: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text())
            except (OSError, ValueError) as exc:
                raise OutputError(f"{self.path} is not a batch state file ({exc}); move it away to start over") \
                    from exc
            if not isinstance(data, dict) or data.get("version") != VERSION:
                raise OutputError(f"{self.path} was written by another version; move it away to start over")
            self.inputs = data.get("inputs", {})

    def names(self) -> dict[str, str]:
        return {key: rec["output"] for key, rec in self.inputs.items() if rec.get("output")}

    def record(self, key: str) -> dict[str, Any]:
        return self.inputs.setdefault(key, {})

    def save(self) -> None:
        data = {"version": VERSION, "inputs": self.inputs}
        try:
            write_bytes_atomic(self.path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc


def is_done(record: dict[str, Any], outdir: Path, source: dict[str, int], options: dict[str, Any]) -> bool:
    return (record.get("state") == DONE and record.get("source") == source and record.get("options") == options
            and (outdir / record.get("output", "")).is_file())


def reusable_segments(record: dict[str, Any], source: dict[str, int], options: dict[str, Any],
                      workdir: Path) -> dict[int, dict[str, Any]]:
    """The segments an earlier run finished for the same file, options and cuts."""
    if record.get("source") != source or record.get("options") != options:
        return {}
    done = {}
    for seg in record.get("segments") or []:
        if seg.get("state") == DONE and (workdir / seg["file"]).is_file():
            done[seg["index"]] = seg
    return done


def remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
