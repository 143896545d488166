"""Generated clips with exact optical flow, written in the Sintel layout (frames in
``NAME_clean/``, ``frame_NNNN.flo`` with ``occlusions_`` and ``invalid_`` masks in ``NAME_gt/``),
so `eval --flow gt`, smoothing_quality.py and flow_accuracy.py judge them like Sintel.

- ``known_motion``: a photo seen by a camera that pans, zooms and rolls by a fixed amount a frame
  (issue 6's clips).
- ``large_motion``: what real footage has and those lack (issue 16): 15-85 px a frame, motion
  blur (the shutter open over part of the frame interval), a scene that bends (a smooth
  non-rigid deformation that changes every frame) and occluders (discs cut from another
  picture, each moving its own way, pasted on top). Everything is analytic in time, so the
  flow between frames is exact: the camera is a similarity about the frame's centre, the
  deformation a sum of a few long sine waves in photo coordinates (inverted by fixed-point
  iteration; its gradient stays well under 1), the occluders move rigidly. A background pixel
  whose destination is covered by an occluder, or leaves the picture, is masked out.

Made from photos when given (the largest of a folder), else from the project's test card:
nothing generated here is ever committed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np

from realtime_style.io.images import list_images, read_image
from realtime_style.temporal.warping import write_flo

# -- issue 6: a camera with a known motion --------------------------------------------------------
# (pan x, pan y) px per frame, zoom per frame, roll degrees per frame
MOTIONS = [(6, 1, 0.004, 0.2), (12, -3, 0.0, 0.0), (3, 2, 0.01, -0.4), (-9, 4, -0.006, 0.3), (20, 0, 0.0, 0.0),
           (-4, -6, 0.008, 0.0), (15, 5, -0.004, -0.2), (0, 8, 0.0, 0.5)]


def _camera(t: float, motion, centre, frame_size) -> np.ndarray:
    """Photo -> frame at time t: about the photo's centre, roll and zoom, pan, to the frame's centre."""
    (tx, ty, zoom, roll), (cx, cy), (w, h) = motion, centre, frame_size
    a, s = np.deg2rad(roll * t), 1 + zoom * t
    rot = np.array([[s * np.cos(a), -s * np.sin(a), 0], [s * np.sin(a), s * np.cos(a), 0], [0, 0, 1]])
    return (np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1]]) @ rot
            @ np.array([[1, 0, -cx - tx * t], [0, 1, -cy - ty * t], [0, 0, 1]]))


def _layout(root: Path, name: str) -> tuple[Path, Path]:
    seq, gt = root / f"{name}_clean", root / f"{name}_gt"
    seq.mkdir(parents=True)
    gt.mkdir()
    return seq, gt


def known_motion(root: Path, name: str, photo: np.ndarray, motion, frames: int = 12, size=(640, 360)) -> Path:
    """A clip of ``photo`` seen by a camera moving by ``motion`` each frame, with its exact
    flow (frame t -> t+1) and the pixels that leave the picture, in the Sintel layout. The
    photo is scaled just enough that every frame lies inside it (no invented border)."""
    w, h = size
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], np.float64).T
    reach = np.abs(np.hstack([np.linalg.inv(_camera(t, motion, (0, 0), size)) @ corners for t in range(frames)]))
    ph, pw = photo.shape[:2]
    cover = 1.02 * max(2 * reach[0].max() / pw, 2 * reach[1].max() / ph)
    img = cv2.resize(photo, None, fx=cover, fy=cover, interpolation=cv2.INTER_AREA if cover < 1 else cv2.INTER_CUBIC)
    centre = (img.shape[1] / 2, img.shape[0] / 2)
    mats = [_camera(t, motion, centre, size) for t in range(frames)]
    seq, gt = _layout(root, name)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    for t, m in enumerate(mats):
        frame = cv2.warpAffine(img, m[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        cv2.imwrite(str(seq / f"frame_{t + 1:04d}.png"), frame[..., ::-1])
        if t + 1 < frames:
            step = mats[t + 1] @ np.linalg.inv(m)
            x2 = step[0, 0] * gx + step[0, 1] * gy + step[0, 2]
            y2 = step[1, 0] * gx + step[1, 1] * gy + step[1, 2]
            write_flo(gt / f"frame_{t + 1:04d}.flo", np.dstack([x2 - gx, y2 - gy]))
            leaves = (x2 < 0) | (x2 > w - 1) | (y2 < 0) | (y2 > h - 1)
            cv2.imwrite(str(gt / f"invalid_frame_{t + 1:04d}.png"), leaves.astype(np.uint8) * 255)
    return seq


def pictures(photos: Path | None, count: int, size=(960, 540)) -> list[np.ndarray]:
    """The ``count`` largest photos of a folder (the least upscaling), or without one the live
    mode's synthetic scene at ``count`` moments."""
    images = [read_image(p).rgb for p in list_images(photos)] if photos is not None and photos.is_dir() else []
    if images:
        return sorted(images, key=lambda im: -im.shape[0] * im.shape[1])[:count]
    from realtime_style.io.live_sources import SyntheticSource

    return [SyntheticSource(size).render(17 * i) for i in range(count)]


def known_motion_clips(root: Path, photos: Path, count: int, motions=MOTIONS, prefix: str = "motion",
                       frames: int = 12, size=(640, 360)) -> list[Path]:
    picks = pictures(photos, count)
    return [known_motion(root, f"{prefix}{i}", picks[i % len(picks)], motions[i % len(motions)], frames, size)
            for i in range(count)]


# -- issue 16: large, blurred, non-rigid motion with occluders -----------------------------------
@dataclasses.dataclass(frozen=True)
class LargeMotion:
    name: str
    pan: tuple[float, float]  # the scene's motion in the frame, px per frame
    zoom: float = 0.0  # per frame
    roll: float = 0.0  # degrees per frame
    bend: float = 0.0  # amplitude (px) of the non-rigid deformation; it changes by up to ~0.6x this a frame
    blur: float = 0.0  # the part of the frame interval the shutter is open (motion blur)
    occluders: tuple[tuple[float, float], ...] = ()  # each one's own motion, px per frame


LARGE_MOTIONS = [
    LargeMotion("pan20_blur", (20, 4), blur=0.5),
    LargeMotion("handheld30_bend", (-28, 10), zoom=0.01, roll=0.5, bend=6, blur=0.4),
    LargeMotion("pan40_occluders", (40, -6), bend=4, blur=0.5, occluders=((-25, 8), (60, 20))),
    LargeMotion("walkers_pan10", (10, 0), blur=0.5, occluders=((45, 0), (-55, 5), (30, -12))),
    LargeMotion("pan65_bend", (62, 12), roll=-0.4, bend=8, blur=0.6),
    LargeMotion("pan85_occluders", (-84, -8), zoom=-0.006, bend=5, blur=0.6, occluders=((-30, 0), (20, 15))),
]
BLUR_SAMPLES = 5  # sub-frame renders averaged for motion blur
OCCLUDER_RADIUS = (0.16, 0.24)  # of the frame's height


class _World:
    """The scene at any real time t: where each frame pixel looks into the photo, and the occluders."""

    def __init__(self, spec: LargeMotion, photo: np.ndarray, texture: np.ndarray, size, frames: int, seed: int):
        self.spec, self.size = spec, size
        w, h = size
        rng = np.random.default_rng(seed)
        # A photo large enough that no frame sees past it would need huge upscales at 85 px a
        # frame: it is a little larger than the frame, mirrored beyond its edges (no seam in value).
        scale = 1.25 * max(h / photo.shape[0], w / photo.shape[1])
        self.photo = cv2.resize(photo, None, fx=scale, fy=scale,
                                interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
        self.centre = (self.photo.shape[1] / 2, self.photo.shape[0] / 2)
        # three long waves per axis: wavelength 180-400 px, amplitude spec.bend, each with its own pace
        self.waves = [(rng.uniform(0, 2 * np.pi), 2 * np.pi / rng.uniform(180, 400) * rng.standard_normal(2) / 1.2,
                       rng.uniform(0.4, 0.7), rng.uniform(0, 2 * np.pi), axis) for axis in (0, 1) for _ in range(3)]
        self.texture = cv2.resize(texture, (2 * h, 2 * h), interpolation=cv2.INTER_AREA)
        # each: position at t = 0 (mid-clip in the picture), motion, radius, texture offset
        self.discs = [(np.array([rng.uniform(0.15, 0.85) * w, rng.uniform(0.2, 0.8) * h]) - frames / 2 * np.array(v),
                       np.array(v, float), rng.uniform(*OCCLUDER_RADIUS) * h, rng.uniform(0, h))
                      for v in spec.occluders]
        self.grid = np.dstack(np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)))

    def _camera(self, t: float) -> np.ndarray:
        s = self.spec
        # the scene moves by +pan a frame in the picture: the camera moves by -pan over the photo
        return _camera(t, (-s.pan[0], -s.pan[1], s.zoom, s.roll), self.centre, self.size)

    def _bend(self, u: np.ndarray, t: float) -> np.ndarray:
        out = np.zeros_like(u)
        for phase, k, pace, tphase, axis in self.waves:
            out[..., axis] += self.spec.bend * np.sin(u @ k + phase) * np.sin(pace * t + tphase)
        return out

    def photo_coords(self, t: float) -> np.ndarray:
        """Where each frame pixel looks into the photo at time t: the camera, then the bend."""
        inv = np.linalg.inv(self._camera(t))
        u = self.grid @ inv[:2, :2].T + inv[:2, 2]
        return u + self._bend(u, t)

    def frame_coords(self, p: np.ndarray, t: float) -> np.ndarray:
        """The inverse: where photo points ``p`` are seen in the frame at time t (u + bend(u) = p,
        solved by fixed-point iteration)."""
        u = p.copy()
        for _ in range(12):  # contracts by |grad bend| < 0.5 a step
            u = p - self._bend(u, t)
        m = self._camera(t)
        return u @ m[:2, :2].T + m[:2, 2]

    def disc_at(self, j: int, t: float):
        c0, v, r, _ = self.discs[j]
        return c0 + v * t, r

    def layers(self, t: float) -> np.ndarray:
        """The top layer at each pixel at time t: -1 background, j occluder j (later ones on top)."""
        top = np.full(self.grid.shape[:2], -1, np.int16)
        for j in range(len(self.discs)):
            c, r = self.disc_at(j, t)
            top[((self.grid - c) ** 2).sum(2) <= r * r] = j
        return top

    def render(self, t: float) -> np.ndarray:
        """The picture at time t, sharp."""
        p = self.photo_coords(t).astype(np.float32)
        img = cv2.remap(self.photo, p[..., 0], p[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        img = img.astype(np.float32)
        for j in range(len(self.discs)):
            c, r = self.disc_at(j, t)
            d = np.sqrt(((self.grid - c) ** 2).sum(2))
            alpha = np.clip(r + 0.5 - d, 0, 1).astype(np.float32)[..., None]  # anti-aliased edge
            tex_xy = (self.grid - c + self.discs[j][3] + r).astype(np.float32)
            tex = cv2.remap(self.texture, tex_xy[..., 0], tex_xy[..., 1], cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT_101).astype(np.float32)
            img = img * (1 - alpha) + tex * alpha
        return img

    def exposure(self, t: float) -> np.ndarray:
        """Frame t as a camera takes it: the shutter open over the last ``blur`` of the interval."""
        if self.spec.blur <= 0:
            return np.clip(self.render(t), 0, 255).astype(np.uint8)
        times = t - self.spec.blur * np.linspace(0, 1, BLUR_SAMPLES)
        acc = sum(self.render(s) for s in times) / BLUR_SAMPLES
        return np.clip(acc + 0.5, 0, 255).astype(np.uint8)

    def flow(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The exact flow from frame t to t+1, the occluded pixels and those that leave the picture."""
        w, h = self.size
        # blurred frames show the scene about blur/2 before their time: the flow is the same step
        lag = self.spec.blur / 2
        t0, t1 = t - lag, t + 1 - lag
        dest = self.frame_coords(self.photo_coords(t0), t1)
        top0, top1 = self.layers(t0), self.layers(t1)
        for j in range(len(self.discs)):
            inside = top0 == j
            dest[inside] = self.grid[inside] + self.discs[j][1]
        leaves = (dest[..., 0] < 0) | (dest[..., 0] > w - 1) | (dest[..., 1] < 0) | (dest[..., 1] > h - 1)
        di = np.clip(np.round(dest), 0, [w - 1, h - 1]).astype(int)
        occluded = top1[di[..., 1], di[..., 0]] != top0
        # blur smears every occluder's edge over its path: those pixels belong to no one layer
        if self.discs and self.spec.blur > 0:
            band = np.zeros((h, w), bool)
            for j in range(len(self.discs)):
                for s in np.linspace(-self.spec.blur, self.spec.blur, 5) + t0:
                    c, r = self.disc_at(j, s)
                    d = np.sqrt(((self.grid - c) ** 2).sum(2))
                    band |= np.abs(d - r) < 2.5
            occluded |= band
        return (dest - self.grid).astype(np.float32), occluded, leaves


def large_motion(root: Path, spec: LargeMotion, photo: np.ndarray, texture: np.ndarray, frames: int = 8,
                 size=(640, 360), seed: int = 0) -> Path:
    """One ``LargeMotion`` clip in the Sintel layout; returns its frame folder."""
    world = _World(spec, photo, texture, size, frames, seed)
    seq, gt = _layout(root, spec.name)
    for t in range(frames):
        cv2.imwrite(str(seq / f"frame_{t + 1:04d}.png"), world.exposure(float(t))[..., ::-1])
        if t + 1 < frames:
            flow, occluded, leaves = world.flow(t)
            write_flo(gt / f"frame_{t + 1:04d}.flo", flow)
            cv2.imwrite(str(gt / f"occlusions_frame_{t + 1:04d}.png"), occluded.astype(np.uint8) * 255)
            cv2.imwrite(str(gt / f"invalid_frame_{t + 1:04d}.png"), leaves.astype(np.uint8) * 255)
    return seq


def large_motion_clips(root: Path, photos: Path | None, specs=LARGE_MOTIONS, frames: int = 8,
                       size=(640, 360)) -> list[Path]:
    """Every spec, each on its own photo, its occluders cut from the next one."""
    picks = pictures(photos, len(specs) + 1)
    return [large_motion(root, spec, picks[i % len(picks)], picks[(i + 1) % len(picks)], frames, size, seed=i)
            for i, spec in enumerate(specs)]
