"""What the viewer can change while a live run goes on, and the keys that change it."""

from __future__ import annotations

import dataclasses

from realtime_style.io.frames import FrameSettings

HELP = ("n/p style  +/- strength  s smoothing  c colour  o overlay  f fullscreen  "
        "space pause  q/Esc quit")


@dataclasses.dataclass
class LiveControls:
    strength: float = 1.0
    preserve_color: bool = False
    smooth: float = 0.0  # the smoothing strength in use (0 = off)
    smooth_on_value: float = 0.5  # what `s` turns smoothing back on to
    overlay: bool = True
    paused: bool = False
    fullscreen: bool = False
    side_by_side: bool = False
    quit: bool = False

    def snapshot(self, style: str | None = None) -> FrameSettings:
        """What a frame captured now is to be stylized with (the keys change the controls on
        the main thread; the stages read only the frame's copy)."""
        return FrameSettings(strength=self.strength, preserve_color=self.preserve_color, smooth=self.smooth,
                             style=style)

    def handle_key(self, key: int, switcher=None) -> str | None:
        """Apply one key press (an OpenCV key code); returns what changed, for the overlay."""
        if key < 0:
            return None
        ch = chr(key & 0xFF) if (key & 0xFF) < 128 else ""
        if key & 0xFF == 27 or ch == "q":
            self.quit = True
            return "quit"
        if not ch:
            return None
        if ch in "np" and switcher is not None:
            switcher.step(1 if ch == "n" else -1)
            return switcher.message or f"style {switcher.current}"
        if ch in "+=":
            self.strength = round(min(1.0, self.strength + 0.1), 2)
            return f"strength {self.strength:.1f}"
        if ch in "-_":
            self.strength = round(max(0.0, self.strength - 0.1), 2)
            return f"strength {self.strength:.1f}"
        if ch == "s":
            if self.smooth > 0:
                self.smooth_on_value, self.smooth = self.smooth, 0.0
            else:
                self.smooth = self.smooth_on_value
            return f"smoothing {'on' if self.smooth else 'off'}"
        if ch == "c":
            self.preserve_color = not self.preserve_color
            return f"colour preservation {'on' if self.preserve_color else 'off'}"
        if ch == "o":
            self.overlay = not self.overlay
            return None
        if ch == "f":
            self.fullscreen = not self.fullscreen
            return None
        if ch == " ":
            self.paused = not self.paused
            return "paused" if self.paused else "playing"
        return None
