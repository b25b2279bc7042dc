"""The one training loop (reprolib.training.loop): every trainer resumes bit-identically after Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import threading

import pytest
import torch

from reprolib.core.weights import load_checkpoint, sha256_file
from reprolib.training import chooser, colornet, colour_classifier, distill, grayvgg, insertion, loop, photo_colornet

TRAINERS = {
    "grayvgg": (grayvgg.train, dict(steps=5, batch_size=2, seed=3, size=32, widths=(4, 4, 8, 8, 8),
                                    convs=(1, 1, 1, 1, 2), eval_n=2)),
    "colornet": (colornet.train, dict(steps=6, mode="full", pool=2, batch_size=4, seed=3, size=32, eval_n=0)),
    "insertion": (insertion.train, dict(steps=4, batch_size=4, width=4, seed=1, eval_n=8, classifier_steps=5)),
    "colour_classifier": (colour_classifier.train, dict(steps=5, batch_size=2, size=32, width=4, heldout_n=4)),
    "photo_colornet": (photo_colornet.train, dict(steps=4, batch_size=2, size=32, crop=48, pairs_per_image=1,
                                                 features="small", eval_n=0, branches=("chrominance", "real"))),
    "chooser": (chooser.train, dict(steps=4, batch_size=2, size=32, crop=48, pairs_per_image=1, eval_n=0)),
    "distill": (distill.train, dict(steps=5, batch_size=4, size=48, views=12, widths=(4, 8, 8, 8, 8), teacher="small")),
}


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    """Bit-identical comparisons at one fixed thread count (conftest's ``one_thread``)."""


def interrupt_at_optimizer_step(monkeypatch, n: int) -> None:
    """Send this process a SIGINT (Ctrl-C) from inside the n-th optimiser step (every trainer uses Adam or AdamW)."""
    calls = {"n": 0}
    for cls in {torch.optim.Adam, torch.optim.AdamW}:
        original = cls.step

        def step(self, *args, _original=original, **kwargs):
            calls["n"] += 1
            if calls["n"] == n:
                os.kill(os.getpid(), signal.SIGINT)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "step", step)


@pytest.mark.parametrize("name", list(TRAINERS))
def test_ctrl_c_then_resume_is_bit_identical(name, tmp_path, monkeypatch):
    train, settings = TRAINERS[name]
    straight = train(tmp_path / "straight.pt", progress=False, checkpoint_every=2, **settings)
    assert straight["resumed_from"] == 0 and not loop.state_path(tmp_path / "straight.pt").exists()

    out = tmp_path / "resumed.pt"
    with monkeypatch.context() as patch:
        interrupt_at_optimizer_step(patch, 3)  # inside an early step: the loop finishes that step, saves, stops
        with pytest.raises(KeyboardInterrupt):
            train(out, progress=False, checkpoint_every=2, **settings)
    state = load_checkpoint(loop.state_path(out))
    assert state["trainer"] == name and 1 <= state["step"] < settings["steps"] and not out.exists()
    with pytest.raises(ValueError, match="other settings"):
        train(out, progress=False, checkpoint_every=2, **{**settings, "steps": settings["steps"] + 1})

    resumed = train(out, progress=False, checkpoint_every=2, **settings)
    assert resumed["resumed_from"] == state["step"] and not loop.state_path(out).exists()
    # the checkpoint's bytes depend on its contents only: same weights, same metrics, same file
    assert sha256_file(out) == sha256_file(tmp_path / "straight.pt") == resumed["sha256"]
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["sha256"] == resumed["sha256"] and record["seed"] == settings.get("seed", 0)
    assert record["config"]["steps"] == settings["steps"] and record["command"].startswith(f"reprolib.training.{name}")
    # the log survives the interruption: the resumed run's curve is the straight run's
    assert record["log"] == json.loads((tmp_path / "straight.json").read_text())["log"]
    assert record["log"]["steps"] == settings["steps"] and record["log"]["series"]


def test_the_loss_log_averages_windows_and_names_branches():
    history = [{"branch": "a" if i % 2 == 0 else "b", "loss": float(i), "note": "x", "flag": True}
               for i in range(10)]
    log = loop.loss_log(history, points=3)
    assert log["every"] == 4 and log["steps"] == 10
    assert log["series"] == {"loss.a": [[0, 1.0], [4, 5.0], [8, 8.0]], "loss.b": [[0, 2.0], [4, 6.0], [8, 9.0]]}
    plain = loop.loss_log([{"loss": 1.0, "acc": 0.5}, {"loss": 3.0, "acc": 1}])
    assert plain == {"every": 1, "steps": 2, "series": {"loss": [[0, 1.0], [1, 3.0]], "acc": [[0, 0.5], [1, 1.0]]}}


class Counter:
    def __init__(self):
        self.value = torch.zeros(())

    def state_dict(self):
        return {"value": self.value.clone()}

    def load_state_dict(self, state):
        self.value = state["value"].clone()


def test_run_steps_logs_saves_and_checks_the_config(tmp_path):
    c = Counter()

    def step(i):
        c.value += i
        return {"i": i, "draw": torch.rand(()).item()}  # consumes the global RNG: it must be restored too

    torch.manual_seed(0)
    whole = loop.run_steps("count", {"a": 1}, 6, {"c": c}, step, progress=False)
    assert [h["i"] for h in whole.history] == list(range(6)) and c.value.item() == 15 and whole.start == 0

    state_file = tmp_path / "s.state.pt"
    torch.manual_seed(0)
    c2 = Counter()

    def stop_after_3(i):
        if i == 3:
            raise KeyboardInterrupt  # from inside a step: the half-done step is not saved
        c2.value += i
        return {"i": i, "draw": torch.rand(()).item()}

    with pytest.raises(KeyboardInterrupt):
        loop.run_steps("count", {"a": 1}, 6, {"c": c2}, stop_after_3, state_file=state_file, checkpoint_every=2,
                       progress=False)
    assert load_checkpoint(state_file)["step"] == 2  # the last periodic checkpoint
    c3 = Counter()
    rest = loop.run_steps("count", {"a": 1}, 6, {"c": c3},
                          lambda i: (c3.value.add_(i), {"i": i, "draw": torch.rand(()).item()})[1],
                          state_file=state_file, checkpoint_every=2, progress=False)
    assert rest.start == 2 and c3.value.item() == 15 and rest.history == whole.history
    with pytest.raises(ValueError, match="other settings"):
        loop.run_steps("count", {"a": 2}, 6, {"c": Counter()}, step, state_file=state_file, progress=False)
    with pytest.raises(ValueError, match=">= 1"):
        loop.run_steps("count", {}, 0, {}, step, progress=False)


def test_a_second_ctrl_c_stops_at_once():
    seen, before = [], signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN in a background job

    def step(i):
        seen.append(i)
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # the second one raises inside the step
        seen.append("after")
        return {}

    with pytest.raises(KeyboardInterrupt):
        loop.run_steps("x", {}, 3, {}, step, progress=False)
    assert seen == [0]
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back


def test_outside_the_main_thread_nothing_is_deferred():
    result = {}

    def run():
        result["r"] = loop.run_steps("x", {}, 2, {}, lambda i: {"i": i}, progress=False)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert [h["i"] for h in result["r"].history] == [0, 1]


def test_learning_rate_schedule():
    lrs = [loop.warmup_cosine_lr(s, 100, 1.0, 10) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0) and lrs[-1] == pytest.approx(0.05, abs=1e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert loop.state_path("a/b.pt").name == "b.state.pt"


@pytest.mark.parametrize("name", [n for n in TRAINERS if n not in ("photo_colornet", "chooser")])  # Config fields
def test_an_explicit_device_moves_the_parts_and_changes_nothing_else(name, tmp_path):
    train, settings = TRAINERS[name]
    default = train(tmp_path / "default.pt", progress=False, **settings)
    moved = train(tmp_path / "cpu.pt", progress=False, device="cpu", **settings)  # to_device there and back
    assert moved["sha256"] == default["sha256"]


def test_a_device_that_would_leave_the_optimiser_behind_is_refused(tmp_path):
    train, settings = TRAINERS["grayvgg"]  # moving to "meta" makes new parameters, which Adam does not hold
    with pytest.raises(RuntimeError, match="moving the networks to meta left the optimizer's parameters behind"):
        train(tmp_path / "meta.pt", progress=False, device="meta", **settings)
    assert not (tmp_path / "meta.pt").exists()
