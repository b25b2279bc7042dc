"""One resumable training loop for every model of the project (nanoGPT and d2l keep one loop for all).

A trainer is three things: a ``Config`` dataclass (every setting, checked by ``Config.check()``), a
``build(cfg)`` that makes the seeded models and optimisers, and a ``step(cfg, parts, i)`` that trains on
batch ``i`` (a deterministic function of the seed and ``i``) and returns the numbers to log. Its
``finish(cfg, parts, history, rank)`` evaluates and returns the final checkpoint. :func:`fit` runs it:

* **resume**: a state (every model and optimiser, the torch RNG, the step, the log) is saved atomically
  every ``checkpoint_every`` steps to ``<out>.state.pt``; a run with the same config continues from it and
  ends with the same weights, bit for bit, as an uninterrupted run (at the same thread count); a state made
  with other settings is refused, naming them;
* **Ctrl-C** (SIGINT) lets the current step finish, saves the state and stops (a second Ctrl-C stops at
  once); an interruption from inside a step keeps the last saved state (a half-done update is never saved);
* **progress** with tqdm; **DDP**: only rank 0 shows progress and writes files, every rank resumes;
* **provenance**: the final checkpoint is written atomically and deterministically, the state file removed,
  and ``<out>.json`` written by :func:`reprolib.core.weights.write_provenance` (the same keys for every model),
  with the run's losses averaged over windows of steps (:func:`loss_log`), for the notebooks' loss curves.
"""
from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from ..core.devices import to_device
from ..core.weights import load_checkpoint, save_checkpoint, sha256_file, write_provenance

STATE_FORMAT = "reprolib.training_state/1"


class Stateful(Protocol):
    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class GeneratorState:
    """A ``torch.Generator`` as a :class:`Stateful` (a trainer's own random stream, saved and restored)."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def state_dict(self) -> dict:
        return {"state": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["state"])


@dataclass(frozen=True)
class Trainer:
    """A model's trainer: ``build(cfg) -> parts`` (with ``parts.stateful() -> {name: Stateful}``),
    ``step(cfg, parts, i) -> {name: number}``, ``finish(cfg, parts, history, rank) -> (checkpoint, metrics)``
    and ``data(cfg)``, one line on what data trains it (for the provenance)."""

    name: str
    build: Callable[[Any], Any]
    step: Callable[[Any, Any, int], Mapping[str, Any]]
    finish: Callable[[Any, Any, list, int], tuple[dict | None, dict]]
    data: Callable[[Any], str]


@dataclass
class Result:
    start: int  # the step the run resumed from (0: a fresh run)
    history: list  # one dict per step
    seconds: float  # wall time of this process's steps


# ---------------------------------------------------------------------------------------------- helpers
def warmup_cosine_lr(step: int, steps: int, lr: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 5% of ``lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * t)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def schedule(optimizer: torch.optim.Optimizer, step: int, steps: int, lr: float) -> float:
    """Every trainer's learning rate at ``step`` of ``steps``: :func:`warmup_cosine_lr` with a warm-up of a tenth
    of the run (1 to 100 steps), set on ``optimizer``; returns it."""
    value = warmup_cosine_lr(step, steps, lr, min(100, max(1, steps // 10)))
    set_lr(optimizer, value)
    return value


def mean_over_ranks(value: torch.Tensor, world: int) -> torch.Tensor:
    """A detached per-rank number averaged over the ``world`` processes of a torchrun launch (itself when
    ``world`` is 1): the loss to log is the whole batch's, as in a single process."""
    value = value.detach()
    if world > 1:
        dist.all_reduce(value)
        value /= world
    return value


def state_path(out: str | os.PathLike) -> Path:
    """The resumable training state kept beside ``out`` while a run is unfinished."""
    out = Path(out)
    return out.with_name(out.stem + ".state" + (out.suffix or ".pt"))


def distributed(backend: str = "gloo") -> tuple[int, int, bool]:
    """(rank, world size, joined here): joins a process group (gloo on CPUs, nccl on GPUs) when launched
    by torchrun with WORLD_SIZE > 1; (0, 1, False) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, False
    joined = not dist.is_initialized()
    if joined:
        dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size(), joined


def join(batch_size: int, device: str = "cpu") -> tuple[int, int, torch.device]:
    """A data-parallel trainer's preamble: (rank, world size, this rank's device). Joins the torchrun process group
    (nccl on GPUs, gloo on CPUs; :func:`distributed`), checks that ``batch_size`` splits evenly over the ranks, and
    puts each rank on its own GPU when ``device`` is "cuda"."""
    rank, world, _ = distributed("nccl" if device == "cuda" else "gloo")
    if batch_size % world:
        raise ValueError(f"batch_size {batch_size} must be divisible by the number of processes {world}")
    where = torch.device(device if device == "cpu" else f"cuda:{rank % max(1, torch.cuda.device_count())}")
    return rank, world, where


def parallel(net: torch.nn.Module, world: int) -> torch.nn.Module:
    """``net`` wrapped in DistributedDataParallel under a torchrun launch of ``world`` > 1 processes, else itself."""
    return torch.nn.parallel.DistributedDataParallel(net) if world > 1 else net


def rank_slice(batch_size: int, rank: int, world: int) -> slice:
    """This rank's contiguous share of a batch of ``batch_size`` (all of it in one process)."""
    return slice(rank * batch_size // world, (rank + 1) * batch_size // world)


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """While inside, the first SIGINT only raises a flag (the step in progress finishes); a second one
    interrupts at once. Yields a function that tells whether a SIGINT came. Outside the main thread
    (where signals cannot be caught) nothing is deferred."""
    caught = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum, frame):
        if caught:
            raise KeyboardInterrupt
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(caught)
    finally:
        signal.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------------------------------------- the loop
def _save_state(state_file: Path, name: str, config: dict, step: int, stateful: Mapping[str, Stateful],
                history: list) -> None:
    state = {"format": STATE_FORMAT, "trainer": name, "config": config, "step": step, "history": history,
             "rng": torch.get_rng_state(), **{f"state.{k}": v.state_dict() for k, v in stateful.items()}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    save_checkpoint(state, state_file)


def _restore(state_file: Path, name: str, config: dict, stateful: Mapping[str, Stateful]) -> tuple[int, list]:
    state = load_checkpoint(state_file, what="training state")
    if state.get("format") != STATE_FORMAT or state.get("trainer") != name or state.get("config") != config:
        raise ValueError(f"{state_file} was made by a run with other settings ({state.get('config')}); "
                         f"run with those settings, pass --no-resume (resume=False), or delete the file")
    for key, obj in stateful.items():
        obj.load_state_dict(state[f"state.{key}"])
    torch.set_rng_state(state["rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return int(state["step"]), [dict(h) for h in state["history"]]


def run_steps(name: str, config: dict, steps: int, stateful: Mapping[str, Stateful],
              step: Callable[[int], Mapping[str, Any]], *, state_file: str | os.PathLike | None = None,
              resume: bool = True, checkpoint_every: int = 100, progress: bool = True, rank: int = 0,
              desc: str | None = None) -> Result:
    """Call ``step(i)`` for i = start .. steps - 1 and return the log; with ``state_file``, save a resumable
    state every ``checkpoint_every`` steps and on Ctrl-C, and resume from it (module docstring)."""
    if steps < 1 or checkpoint_every < 1:
        raise ValueError(f"steps and checkpoint_every must be >= 1, got {steps}, {checkpoint_every}")
    state_file = Path(state_file) if state_file is not None else None
    start, history = 0, []
    if state_file is not None and resume and state_file.exists():
        start, history = _restore(state_file, name, config, stateful)

    def save(i: int) -> None:
        if state_file is not None and rank == 0:
            _save_state(state_file, name, config, i, stateful, history)

    t0 = time.perf_counter()
    i = start
    bar = tqdm(total=steps, initial=start, desc=desc or f"train {name}", disable=not progress or rank > 0,
               leave=False)
    try:
        with _deferred_interrupt() as interrupted:
            while i < steps:
                logged = dict(step(i))
                history.append(logged)
                i += 1
                bar.update(1)
                bar.set_postfix({k: f"{v:.3f}" if isinstance(v, float) else v for k, v in logged.items()},
                                refresh=False)
                if interrupted():
                    save(i)
                    raise KeyboardInterrupt
                if i % checkpoint_every == 0 and i < steps:
                    save(i)
    finally:
        bar.close()
    return Result(start, history, time.perf_counter() - t0)


def loss_log(history: list, points: int = 200) -> dict:
    """Every number a run logged, averaged over windows of ``every`` consecutive steps (at most ``points``
    windows): {"every", "steps", "series": {name: [[first step of the window, mean], ...]}}. A trainer that
    alternates branches logs "loss.<branch>" (the mean over that branch's steps of the window)."""
    every = max(1, math.ceil(len(history) / points))
    series: dict[str, list] = {}
    for start in range(0, len(history), every):
        values: dict[str, list] = {}
        for logged in history[start:start + every]:
            for key, value in logged.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    name = f"{key}.{logged['branch']}" if "branch" in logged else key
                    values.setdefault(name, []).append(float(value))
        for name, v in values.items():
            series.setdefault(name, []).append([start, round(sum(v) / len(v), 5)])
    return {"every": every, "steps": len(history), "series": series}


def heldout_summary(metrics: dict, baseline: str, key: str) -> str:
    """The line a colorization trainer ends with: the net's held-out CIEDE2000 beside its baseline's (``key``)."""
    return (f"held-out CIEDE2000 {metrics.get('heldout_delta_e2000')} ({baseline} {metrics.get(key)}) after "
            f"{metrics['steps']} steps in {metrics['seconds']} s")


def default_command(trainer: Trainer, cfg: Any, out: str | os.PathLike) -> str:
    """The Python call that repeats a run, for the provenance of runs not started from the command line."""
    settings = ", ".join(f"{k}={v!r}" for k, v in asdict(cfg).items())
    return f"reprolib.training.{trainer.name}.train({str(out)!r}, {settings})"


def move_parts(parts: Any, device: str | torch.device) -> Any:
    """``parts`` on ``device``, refused if an optimiser was left holding parameters that did not move (torch
    swaps a parameter's data in place between the CPU and CUDA, so that the optimiser built with it still
    trains it; for other devices it may make new parameters)."""
    parts = to_device(parts, device)
    for name, obj in parts.stateful().items():
        if isinstance(obj, torch.optim.Optimizer) and any(p.device.type != torch.device(device).type
                                                          for g in obj.param_groups for p in g["params"]):
            raise RuntimeError(f"moving the networks to {device} left the {name}'s parameters behind; "
                               "train on cpu or cuda")
    return parts


def fit(trainer: Trainer, cfg: Any, out: str | os.PathLike, *, command: str | None = None, resume: bool = True,
        progress: bool = True, checkpoint_every: int = 100, rank: int = 0, features: str | None = None,
        notes: str = "", device: str | torch.device | None = None) -> dict:
    """Train ``cfg`` with ``trainer`` and write the final checkpoint ``out`` and its provenance ``out``.json.

    ``device``: the built parts (networks, cached tensors) train there (the trainer's ``step`` moves each batch
    to its network's device) and come back to the CPU for ``finish``, so the held-out evaluation runs on the
    CPU; None leaves them where ``build`` put them. Returns the metrics of ``trainer.finish`` plus "seconds",
    "resumed_from" and "sha256" (rank 0; other ranks return what their ``finish`` returns)."""
    cfg = cfg.check()
    out = Path(out)
    parts = trainer.build(cfg)
    if device is not None:
        parts = move_parts(parts, device)
    config = asdict(cfg)
    result = run_steps(trainer.name, config, cfg.steps, parts.stateful(), lambda i: trainer.step(cfg, parts, i),
                       state_file=state_path(out), resume=resume, checkpoint_every=checkpoint_every,
                       progress=progress, rank=rank)
    if device is not None:
        parts = to_device(parts, "cpu")
    checkpoint, metrics = trainer.finish(cfg, parts, result.history, rank)
    if rank > 0 or checkpoint is None:
        return metrics
    save_checkpoint(checkpoint, out)
    state_path(out).unlink(missing_ok=True)
    seconds = round(result.seconds, 1)
    write_provenance(out, command=command or default_command(trainer, cfg, out), seed=getattr(cfg, "seed", None),
                     config=config, data=trainer.data(cfg), metrics=metrics, fmt=checkpoint.get("format"),
                     features=features, seconds=seconds, notes=notes, log=loss_log(result.history))
    return {**metrics, "seconds": seconds, "resumed_from": result.start, "sha256": sha256_file(out)}


def fit_distributed(trainer: Trainer, cfg: Any, out: str | os.PathLike, *, features: str | None = None,
                    **options) -> dict:
    """:func:`fit` as one process or as a rank of a torchrun launch: joins the process group (nccl when
    ``cfg.device`` is "cuda", else gloo), lets the other ranks wait until rank 0 has written ``out``, and
    leaves the group it joined. ``options``: :func:`fit`'s."""
    rank, world, joined = distributed("nccl" if cfg.device == "cuda" else "gloo")
    try:
        metrics = fit(trainer, cfg, out, rank=rank, features=features, **options)
        if world > 1 and rank == 0:
            dist.barrier()
    finally:
        if joined:
            dist.destroy_process_group()
    return metrics
