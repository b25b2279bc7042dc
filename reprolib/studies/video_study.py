"""Study: exemplar-based video colorization (notebook 06): every temporal method on held-out clips.

Clips (:mod:`reprolib.video.clips`), none from a photo that trained a shipped model or chose a setting:
* photo clips: 8 frames of 144 x 192, a camera panning, zooming or warping over a tier photo
  (``photo_pairs.tier_photos``), every other one with a sprite of another tier photo crossing it; each coloured
  from its own first frame in colour ("keyframe": the film colourist's workflow) and from another photo of the
  same kind ("other photo", as tier C of notebook 05);
* world clips: the synthetic world (a 64 x 64 camera over a 128 x 128 scene, a sprite of another scene), coloured
  from the reference scene of ``world.sample_pairs`` with the synthetic gray-VGG; the truth is the target's
  layout in the reference's palettes;
* the real clip (Big Buck Bunny, 16 frames), coloured from its first frame; its flow is DIS's.

Every clip is coloured frame by frame once (P_ab^t, the image pipeline against R's features computed once),
then every method of :mod:`reprolib.video.temporal` runs on that sequence; gray (P_ab = 0) and the truth are
measured beside them. Measures: :func:`reprolib.video.metrics.clip_scores` (CIEDE2000, warp error with the exact
flow, CDC, colourfulness), and frames per second of each method at working size 192 (``run``, alone on the
machine). ``results.json["video"]`` and ``figures/video_filmstrip.png``.
"""
from __future__ import annotations

import json
import time
import zlib

import torch
from torch import Tensor

from ..colorization.colorize import upsample_ab
from ..core.color import rgb_to_lab
from ..core.files import OutputDir
from ..core.jobs import Job, run_jobs
from ..core.photos import load_photo, resize_to
from ..core.weights import data_file
from ..training.photo_pairs import tier_photos
from ..video.clips import MOTIONS, Clip, add_sprite, photo_clip, real_clip
from ..video.colorizer import VIDEO_METHODS, VideoColorizer, temporal_method
from ..video.flow import clip_flows
from ..video.metrics import clip_scores
from ..video.recurrent import TemporalNet
from ..world.scenes import recolor, sample_pairs
from .image_metrics import mean_delta_e2000
from .photo_tiers import photo_kinds
from .report import Step, table

PHOTO_CLIPS = 6  # held-out photo clips (each with two references)
WORLD_CLIPS = 4
SPRITE = 48  # px, the sprite's diameter in a photo clip (24 in a world clip)
PHOTO_SIZE, WORLD_SIZE = 144, 64  # working sizes: the frames' own short sides (no resizing)
REAL_FRAMES = 16
LONG_SIZE = 64  # the whole real clip (132 frames) at this short side: does a method drift over a long clip?
SPEED_SIZE, SPEED_FRAMES = 192, 4  # the speed measure: working size and frames per method
MEASURES = ("ciede2000", "warp_error", "cdc", "colourfulness")
SHIPPED = "video_study.json"  # results.json["video"] of the run that measured the shipped models


def shipped() -> dict:
    """The study as measured for the shipped models (``python -m reprolib reproduce --only video``), shipped as
    reprolib/data/video_study.json: what notebook 06 prints."""
    return json.loads(data_file(SHIPPED).read_text())


def _hash(*names: str) -> int:
    return zlib.crc32("|".join(names).encode())


def _other_photo(name: str, names: list[str], kinds: dict[str, str]) -> str:
    """Another photo of ``name``'s kind among ``names`` (any other when it has none), fixed by a hash."""
    pool = [r for r in names if r != name and kinds[r] == kinds[name]] or [r for r in names if r != name]
    return min(pool, key=lambda r: _hash(name, r))


def photo_clip_spec(i: int, names: list[str]) -> dict:
    """The i-th held-out photo clip: its photo, motion, sprite photo (or None) and other-photo reference."""
    photos = names[:: max(1, len(names) // PHOTO_CLIPS)][:PHOTO_CLIPS]
    name = photos[i]
    sprite = names[(names.index(name) + 7) % len(names)] if i % 2 == 0 else None
    return {"photo": name, "motion": MOTIONS[i % len(MOTIONS)], "seed": 1000 + i, "sprite": sprite,
            "other": _other_photo(name, names, photo_kinds())}


def make_photo_clip(spec: dict) -> Clip:
    """The clip of :func:`photo_clip_spec`, with the keyframe (its first frame in colour) as reference."""
    clip = photo_clip(load_photo(spec["photo"]), torch.zeros(3, 16, 16), spec["motion"], spec["seed"],
                      name=f"{spec['photo']}:{spec['motion']}")
    if spec["sprite"]:
        clip = add_sprite(clip, resize_to(load_photo(spec["sprite"]), SPRITE, SPRITE), spec["seed"])
    clip.reference = clip.rgb[0]
    return clip


def make_world_clip(i: int) -> Clip:
    """World clip i: seed 2000 + i of ``sample_pairs`` at 128, the target's layout in the reference's palettes,
    a 64 x 64 camera over it and a sprite cut from the next target (in the same palettes)."""
    target, reference = sample_pairs(2000 + i, 2, size=128)
    truth = recolor(target, reference.palette[:1]).rgb  # both layouts in reference 0's palettes
    clip = photo_clip(truth[0], reference.rgb[0], MOTIONS[i % len(MOTIONS)], 2000 + i, size=(64, 64),
                      name=f"world_{i}")
    sprite = resize_to(truth[1, :, 32:96, 32:96], 24, 24)
    clip = add_sprite(clip, sprite, 2000 + i)
    clip.reference = resize_to(reference.rgb[0], 64, 64)
    return clip


def colour_frames(clip: Clip, reference: Tensor, features: str, size: int) -> tuple[Tensor, Tensor, float]:
    """T_L (T, 1, h, w) and P_ab^t (T, 2, h, w) of every frame alone (the image pipeline, R's features once),
    and the seconds per frame."""
    colour = VideoColorizer(reference, method="per_frame", size=size, features=features)
    start = time.perf_counter()
    preds = [colour.predict(f) for f in clip.rgb]
    seconds = (time.perf_counter() - start) / len(clip)
    return torch.cat([p[0] for p in preds]), torch.cat([p[1] for p in preds]), seconds


def outputs(T_L: Tensor, P_ab: Tensor, methods: tuple[str, ...] = VIDEO_METHODS,
            recurrent: TemporalNet | None = None) -> dict[str, Tensor]:
    """Every method's output clip (T, 3, h, w) sRGB from one per-frame sequence, and gray's; ``recurrent``: a net
    for the recurrent method, added to ``methods`` (None: the shipped one, where "recurrent" is named)."""
    out = {}
    methods = (*methods, "recurrent") if recurrent is not None and "recurrent" not in methods else methods
    flow, mask = clip_flows(T_L)  # DIS, once for every method
    for name in methods:
        method = temporal_method(name, recurrent)
        O_ab = torch.cat([method.step(T_L[t:t + 1], P_ab[t:t + 1], flow[t:t + 1], mask[t:t + 1])
                          for t in range(len(T_L))])
        out[name] = _rgb(T_L, O_ab)
    out["gray"] = _rgb(T_L, torch.zeros_like(P_ab))
    return out


def _rgb(T_L: Tensor, ab: Tensor) -> Tensor:
    """sRGB frames (T, 3, h, w) of L* and a*b* at one size, colours outside the gamut losing chroma."""
    return torch.stack([upsample_ab(ab[t:t + 1], T_L[t]) for t in range(len(T_L))])


def coloured(clip: Clip, reference: Tensor, features: str, size: int) -> tuple[dict[str, Tensor], float]:
    """Every method's and gray's output clip for ``clip`` coloured from ``reference`` (:func:`outputs` of one
    :func:`colour_frames`), and the seconds per frame of the image pipeline."""
    T_L, P_ab, seconds = colour_frames(clip, reference, features, size)
    return outputs(T_L, P_ab), seconds


def rows_of(clip: Clip, clips: dict[str, Tensor]) -> dict[str, dict[str, float]]:
    """{row: clip_scores} of each output clip, and of the truth itself."""
    return {k: clip_scores(v, clip.rgb, clip.flow, clip.mask) for k, v in {**clips, "truth": clip.rgb}.items()}


def score(clip: Clip, reference: Tensor, features: str, size: int) -> dict:
    """{row: clip_scores} for every method, gray and the truth on ``clip`` coloured from ``reference``."""
    clips, seconds = coloured(clip, reference, features, size)
    return {"clip": clip.name, "rows": rows_of(clip, clips), "seconds_per_frame_1_thread": round(seconds, 3)}


def photo_job(i: int) -> dict:
    """Held-out photo clip i from both references."""
    names = tier_photos()
    spec = photo_clip_spec(i, names)
    clip = make_photo_clip(spec)
    return {"spec": spec, "keyframe": score(clip, clip.reference, "photo", PHOTO_SIZE),
            "other_photo": score(clip, load_photo(spec["other"]), "photo", PHOTO_SIZE)}


def world_job(i: int) -> dict:
    clip = make_world_clip(i)
    return score(clip, clip.reference, "small", WORLD_SIZE)


def real_job(frames: int = REAL_FRAMES) -> dict:
    """The real clip from its first frame: :func:`score`'s rows, and six evenly spaced frames of every row for the
    filmstrip."""
    clip = real_clip(0, frames)
    clips, seconds = coloured(clip, clip.reference, "photo", PHOTO_SIZE)
    rows = rows_of(clip, clips)
    keep = sorted({round(i * (frames - 1) / 5) for i in range(6)})  # six frames, first and last included
    strip = {"input (gray)": clips.pop("gray")[keep]} | {k: v[keep] for k, v in clips.items()}
    strip["truth"] = clip.rgb[keep]
    return {"clip": clip.name, "rows": rows, "seconds_per_frame_1_thread": round(seconds, 3),
            "filmstrip": strip, "filmstrip_frames": keep}


def long_job(frames: int | None = None) -> dict:
    """The whole real clip at a short side of ``LONG_SIZE``, from its first frame: :func:`score`'s rows over all
    frames, and the mean CIEDE2000 of its last quarter per row ("last_quarter_ciede2000"), where drift shows."""
    clip = real_clip(0, frames, short=LONG_SIZE)
    clips, _ = coloured(clip, clip.reference, "photo", LONG_SIZE)
    tail = slice(3 * len(clip) // 4, None)
    rows = rows_of(clip, clips)
    rows.pop("truth")
    for k, v in clips.items():
        rows[k]["last_quarter_ciede2000"] = float(mean_delta_e2000(rgb_to_lab(v[tail]),
                                                                   rgb_to_lab(clip.rgb[tail])).mean())
    return {"clip": f"{clip.name}_all_{LONG_SIZE}", "frames": len(clip), "rows": rows}


def jobs(quick: bool) -> dict[str, Job]:
    """One job per held-out photo clip (both references), per world clip, and the real clip (``quick``: two photo
    clips, two world clips, 8 frames of the real one)."""
    photo, world = (2, 2) if quick else (PHOTO_CLIPS, WORLD_CLIPS)
    out = {f"photo clip {i}": Job(photo_job, dict(i=i), cost=12) for i in range(photo)}
    out |= {f"world clip {i}": Job(world_job, dict(i=i), cost=1) for i in range(world)}
    out["real clip"] = Job(real_job, dict(frames=8 if quick else REAL_FRAMES), cost=25)
    out["real clip, all frames"] = Job(long_job, dict(frames=32 if quick else None), cost=25)
    return out


def mean_rows(results: list[dict]) -> dict[str, dict[str, float]]:
    """{row: {measure: mean over the clips}} of :func:`score` results."""
    rows = results[0]["rows"]
    return {row: {m: round(sum(r["rows"][row][m] for r in results) / len(results), 3) for m in MEASURES}
            for row in rows}


def floors(rows: dict[str, dict[str, float]]) -> dict[str, dict[str, bool]]:
    """Per temporal method, the issue's floors against per_frame: warp error at most half, CIEDE2000 at most 5 %
    worse, colourfulness at most 10 % lower."""
    base = rows["per_frame"]
    return {m: {"half_warp_error": r["warp_error"] <= 0.5 * base["warp_error"],
                "ciede2000_within_5pc": r["ciede2000"] <= 1.05 * base["ciede2000"],
                "colourfulness_within_10pc": r["colourfulness"] >= 0.9 * base["colourfulness"]}
            for m, r in rows.items() if m in VIDEO_METHODS and m != "per_frame"}


def speed(size: int = SPEED_SIZE, frames: int = SPEED_FRAMES) -> dict[str, dict[str, float]]:
    """Seconds per frame and frames per second of each method through :class:`VideoColorizer` at working size
    ``size`` on frames of the real clip (upsampled to it), the first frame (planning, R's features) left out."""
    clip = real_clip(0, frames + 1)
    out = {}
    for name in VIDEO_METHODS:
        colour = VideoColorizer(clip.reference, method=name, size=size)
        colour(clip.rgb[0])
        start = time.perf_counter()
        for frame in clip.rgb[1:]:
            colour(frame)
        per = (time.perf_counter() - start) / frames
        out[name] = {"seconds_per_frame": round(per, 3), "fps": round(1 / per, 2)}
    return out


def _markdown(results: dict) -> str:
    head = ("clips", "row", "CIEDE2000", "warp error x1000", "CDC x1000", "colourfulness")
    rows = []
    for group, title in GROUPS.items():
        for row, r in results["groups"][group].items():
            rows.append((title, row, *(f"{r[m]:.3f}" for m in MEASURES)))
    speeds = ", ".join(f"{k} {v['fps']:.2f} fps ({v['seconds_per_frame']:.2f} s)" for k, v in results["speed"].items())
    drift = ", ".join(f"{k} {r['ciede2000']:.2f} / {r['last_quarter_ciede2000']:.2f}"
                      for k, r in results["long_clip"]["rows"].items() if k != "gray")
    return f"""## Video: temporal consistency (notebook 06)

Held-out clips (module docstring of `reprolib.studies.video_study`): {len(results['photo_clips'])} photo clips from
two references each, {results['world_clips']} world clips, {results['real_frames']} frames of the real clip. Warp
error with the exact flow on generated clips, DIS flow on the real one; gray and the truth beside the methods (a
gray clip is perfectly consistent; the truth's warp error is the floor that resampling leaves).

{table(head, rows)}

Floors on all held-out generated clips (per temporal method): {results['floors']}

The whole real clip ({results['long_clip']['frames']} frames at a short side of {results['long_clip']['size']}),
CIEDE2000 over all frames / over the last quarter (drift): {drift}.

Speed at working size {results['speed_size']} (frames of the real clip, {SPEED_FRAMES} per method): {speeds}.

![filmstrip](figures/video_filmstrip.png)
"""


GROUPS = {"generated": "all generated (held out)", "photo_keyframe": "photo, keyframe",
          "photo_other": "photo, other photo", "world": "world", "real": "real (Big Buck Bunny)"}


def run(out: OutputDir, quick: bool, step: Step, done: dict | None = None) -> tuple[dict, str]:
    """The study (module docstring): results.json["video"] and its section of REPORT.md."""
    from ..figures.galleries import filmstrip

    done = run_jobs(jobs(quick), 1, step)[0] if done is None else done
    photo = [done[k] for k in sorted(done) if k.startswith("photo clip")]
    world = [done[k] for k in sorted(done) if k.startswith("world clip")]
    real, long = done["real clip"], done["real clip, all frames"]
    keyframe, other = [p["keyframe"] for p in photo], [p["other_photo"] for p in photo]
    groups = {"generated": mean_rows(keyframe + other + world), "photo_keyframe": mean_rows(keyframe),
              "photo_other": mean_rows(other), "world": mean_rows(world), "real": mean_rows([real])}
    step("video: speed")
    results = {"photo_clips": [p["spec"] for p in photo], "world_clips": len(world),
               "real_frames": 8 if quick else REAL_FRAMES,
               "groups": groups, "floors": floors(groups["generated"]), "speed_size": SPEED_SIZE,
               "speed": speed(frames=2 if quick else SPEED_FRAMES),
               "long_clip": {"frames": long["frames"], "size": LONG_SIZE,
                             "rows": {k: {m: round(v, 3) for m, v in r.items()} for k, r in long["rows"].items()}},
               "per_clip": {r["clip"] + ":" + ref: r["rows"] for p in photo for ref, r in
                            (("keyframe", p["keyframe"]), ("other", p["other_photo"]))}
               | {r["clip"]: r["rows"] for r in (*world, real)}}
    step("video: figures")
    notes = {k: f"CIEDE2000 {real['rows'][k]['ciede2000']:.1f}\nwarp error {real['rows'][k]['warp_error']:.2f}"
             for k in VIDEO_METHODS}
    out.save_figure("figures/video_filmstrip.png",
                    filmstrip(real["filmstrip"], real["filmstrip_frames"], notes,
                              "Big Buck Bunny (CC BY 3.0, Blender Foundation), coloured from its first frame",
                              picked=True))
    return results, _markdown(results)
