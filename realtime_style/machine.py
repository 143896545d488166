"""Facts about this machine."""

from __future__ import annotations

import glob
import sys


def gpu_present() -> bool:
    """An NVIDIA device node exists: then a failed GPU provider is worth mentioning."""
    return bool(glob.glob("/dev/nvidia[0-9]*")) or sys.platform == "win32"


def machine_info() -> dict:  # placeholder until the probes move here
    from realtime_style.doctor import machine_info as info

    return info()
