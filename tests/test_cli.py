"""The command line (reprolib.cli): every command, one-line errors, nothing overwritten, choices from the library."""
import json
import subprocess
import sys

import pytest
import torch

from reprolib import cli
from reprolib.cli import main
from reprolib.colorization import matching
from reprolib.colorization.grayvgg_weights import grayvgg_small
from reprolib.core.photos import load_image, load_photo, save_image
from reprolib.insertion.nets import load_generator
from reprolib.training import colornet, insertion, loop


def _run(*args):
    return subprocess.run([sys.executable, "-m", "reprolib", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    t = torch.nn.functional.interpolate(load_photo("china.jpg")[None], size=(61, 83), mode="area")[0].clamp(0, 1)
    r = torch.nn.functional.interpolate(load_photo("coffee.jpg")[None], size=(70, 70), mode="area")[0].clamp(0, 1)
    save_image(t, folder / "t.png")
    save_image(r, folder / "r.png")
    return folder / "t.png", folder / "r.png"


def test_help_and_unknown_command():
    proc = _run("--help")
    assert proc.returncode == 0 and "reproduce" in proc.stdout and "models" in proc.stdout
    proc = _run("frobnicate")
    assert proc.returncode != 0 and "invalid choice" in proc.stderr


def test_choices_come_from_the_library():
    parser = cli.build_parser()
    actions = {a.dest: a for a in parser._subparsers._group_actions[0].choices["colorize"]._actions}
    assert tuple(actions["method"].choices) == ("auto", *matching.METHODS)
    assert tuple(actions["device"].choices) == ("cpu", "cuda", "auto")
    train = parser._subparsers._group_actions[0].choices["train"]._subparsers._group_actions[0].choices
    assert tuple(next(a for a in train["colornet"]._actions if a.dest == "mode").choices) == colornet.MODES
    assert tuple(next(a for a in train["insertion"]._actions if a.dest == "pair").choices) == insertion.PAIR_MODES
    for name in ("grayvgg", "colornet", "insertion", "classifier"):  # the shared flags come from one parent parser
        flags = {f for a in train[name]._actions for f in a.option_strings}
        assert {"--seed", "--no-resume", "--force", "--no-progress", "--out", "--steps", "--batch-size"} <= flags


def test_colorize_writes_once_and_never_overwrites(tmp_path, photo_files):
    t, r = photo_files
    out = tmp_path / "out.png"
    done = _run("colorize", str(t), "--reference", str(r), "--output", str(out), "--size", "48")
    assert done.returncode == 0, done.stderr
    first = out.read_bytes()
    again = _run("colorize", str(t), "--reference", str(r), "--output", str(out), "--size", "48")
    assert again.returncode == 2 and "--force" in again.stderr and again.stderr.count("\n") == 1
    assert out.read_bytes() == first
    same = _run("colorize", str(t), "--reference", str(r), "--output", str(t), "--force")
    assert same.returncode == 2 and "never overwritten" in same.stderr


def test_colorize_saves_the_intermediates(tmp_path, photo_files):
    t, r = photo_files
    folder = tmp_path / "why"
    args = ("colorize", str(t), "--reference", str(r), "--output", str(tmp_path / "o.png"), "--size", "48",
            "--save-intermediates", str(folder))
    done = _run(*args)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == sorted(cli.INTERMEDIATES)
    assert all((folder / name).read_bytes().startswith(b"\x89PNG") for name in cli.INTERMEDIATES)
    again = _run(*args[:5], str(tmp_path / "o2.png"), *args[6:])  # a new output, the same intermediates folder
    assert again.returncode == 2 and "--force" in again.stderr and not (tmp_path / "o2.png").exists()


def test_colorize_bad_input_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    out = tmp_path / "out.png"
    for args in ([str(tmp_path / "broken.jpg"), "--reference", str(tmp_path / "broken.jpg")],
                 [str(tmp_path / "missing.jpg"), "--reference", str(tmp_path / "broken.jpg")]):
        done = _run("colorize", *args, "--output", str(out), "--save-intermediates", str(tmp_path / "why"))
        assert done.returncode == 2 and done.stderr.startswith("error:") and done.stderr.count("\n") == 1
        assert "Traceback" not in done.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["broken.jpg"]
    bad_ext = _run("colorize", str(tmp_path / "broken.jpg"), "--reference", str(tmp_path / "broken.jpg"),
                   "--output", str(tmp_path / "o.gif"))
    assert bad_ext.returncode == 2 and "extension" in bad_ext.stderr
    unknown = _run("colorize", str(tmp_path / "broken.jpg"), "--reference", str(tmp_path / "broken.jpg"),
                   "--output", str(out), "--features", "nonsense")
    assert unknown.returncode == 2 and "nonsense" in unknown.stderr


def test_reproduce_error_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    assert main(["reproduce", "--out", str(tmp_path / "file"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1
    assert (tmp_path / "file").read_text() == "mine"


def test_models_lists_every_registry_entry(capsys):
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"grayvgg_small_synthetic", "colornet_full", "colornet_chrominance_only", "colornet_l1_auto",
            "insertion_with_pair_discriminator", "insertion_without_pair_discriminator", "colour_classifier",
            "vgg16", "vgg19"} <= set(rows)
    assert (rows["colornet_full"]["status"] == "shipped"
            and rows["colornet_full"]["features"] == "grayvgg_small_synthetic")
    assert rows["vgg19"]["status"] in ("cached", "missing") and rows["vgg19"]["where"].startswith("https://")
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "colornet_full" in text and "shipped" in text and "licence" in text


def test_download_refuses_unknown_names():
    with pytest.raises(SystemExit):
        main(["download", "grayvgg_small_synthetic"])


def test_train_grayvgg_writes_a_loadable_checkpoint_and_never_overwrites(tmp_path, capsys):
    out = tmp_path / "g.pt"
    args = ["train", "grayvgg", "--out", str(out), "--steps", "2", "--batch-size", "2", "--no-progress"]
    assert main(args) == 0
    assert "held-out per-pixel accuracy" in capsys.readouterr().out
    model = grayvgg_small(out)
    assert model.meta["steps"] == 2
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["command"] == "python -m reprolib " + " ".join(args)
    before = out.read_bytes()
    assert main(args) == 2  # exists: refused without --force
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_train_colornet_refuses_to_overwrite_and_bad_settings(tmp_path, capsys):
    out = tmp_path / "c.pt"
    out.write_bytes(b"keep me")
    assert main(["train", "colornet", "--out", str(out), "--steps", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--force" in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == b"keep me"
    assert main(["train", "colornet", "--out", str(tmp_path / "d.pt"), "--steps", "1", "--batch-size", "0",
                 "--no-progress"]) == 2


def test_train_insertion_writes_a_loadable_checkpoint_and_refuses_to_overwrite(tmp_path, capsys, one_thread):
    out = tmp_path / "g.pt"
    args = ["train", "insertion", "--out", str(out), "--steps", "2", "--batch-size", "2", "--width", "4",
            "--eval-n", "8", "--classifier-steps", "5", "--no-progress"]
    assert main(args) == 0
    g = load_generator(out)
    assert g.config["steps"] == 2 and g.config["pair"] == "confusion" and "real_pair_error" in g.metrics
    assert not loop.state_path(out).exists()
    before = out.read_bytes()
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == before
    with pytest.raises(SystemExit):
        main(["train", "insertion", "--out", str(tmp_path / "x.pt"), "--pair", "sometimes"])


def test_train_classifier(tmp_path, capsys):
    out = tmp_path / "k.pt"
    assert main(["train", "classifier", "--out", str(out), "--steps", "2", "--batch-size", "2", "--size", "32",
                 "--no-progress"]) == 0
    assert "held-out accuracy" in capsys.readouterr().out and out.with_suffix(".json").is_file()


def test_colorize_names_a_missing_gpu_and_an_exact_search_that_would_take_minutes(tmp_path, photo_files, capsys,
                                                                                   monkeypatch):
    t, r = photo_files
    out = tmp_path / "out.png"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["colorize", str(t), "--reference", str(r), "--output", str(out), "--device", "cuda"]) == 2
    assert "torch sees no CUDA GPU here" in capsys.readouterr().err
    assert main(["colorize", str(t), "--reference", str(r), "--output", str(out), "--size", "1024",
                 "--method", "exact"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exact search at 1024 x" in err and "use --method patchmatch" in err
    assert not out.exists()
    assert main(["colorize", str(t), "--reference", str(r), "--output", str(out), "--size", "48"]) == 0
    assert "(matching: exact," in capsys.readouterr().out


def test_reproduce_and_train_name_bad_jobs_and_a_missing_gpu_in_one_line(tmp_path, capsys, monkeypatch):
    assert main(["reproduce", "--out", str(tmp_path / "r"), "--jobs", "0", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "workers (--jobs) must be an integer >= 1, got 0" in err
    assert not (tmp_path / "r").exists()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for argv in (["reproduce", "--out", str(tmp_path / "r"), "--device", "cuda"],
                 ["train", "grayvgg", "--out", str(tmp_path / "g.pt"), "--device", "cuda", "--steps", "1"],
                 ["train", "insertion", "--out", str(tmp_path / "i.pt"), "--device", "cuda", "--steps", "1"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "torch sees no CUDA GPU here" in err
    assert not any(tmp_path.iterdir())


def test_every_train_subcommand_is_its_configs_defaults_and_help():
    """A trainer's flags are its Config's fields (every one with a help), their defaults the Config's: `train
    photo-colornet` runs the photo recipe (1200 steps of 8 pairs), not the synthetic trainer's 800 of 16."""
    import dataclasses
    from importlib import import_module

    from reprolib.core.configs import settings_from

    parser = cli.build_parser()
    for name, trainer in cli.TRAINERS.items():
        config = import_module(f"reprolib.training.{trainer.module}").Config
        assert all("help" in f.metadata for f in dataclasses.fields(config)), name
        args = parser.parse_args(["train", name])
        defaults = {k: v for k, v in dataclasses.asdict(config()).items() if k not in cli.LOOP_FLAGS}
        assert settings_from(args, config, skip=cli.LOOP_FLAGS) == defaults, name
    photo = parser.parse_args(["train", "photo-colornet", "--branches", "chrominance,real", "--no-cached"])
    assert (photo.steps, photo.batch_size, photo.branches, photo.cached) == (1200, 8, ("chrominance", "real"), False)
    synthetic = parser.parse_args(["train", "colornet", "--no-residual", "--pool", "4"])
    assert (synthetic.steps, synthetic.batch_size, synthetic.residual, synthetic.pool) == (800, 16, False, 4)


def test_the_command_line_imports_a_trainer_only_when_it_runs_one():
    code = ("import sys; from reprolib import cli; cli.build_parser([]).parse_args(['models']); "
            "a = sorted(m for m in sys.modules if m.startswith('reprolib.training')); "
            "cli.build_parser(['grayvgg']).parse_args(['train', 'grayvgg']); "
            "b = sorted(m for m in sys.modules if m.startswith('reprolib.training')); print(a, b)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("] [")[0] == "[" and "reprolib.training.grayvgg" in done.stdout
    assert "reprolib.training.chooser" not in done.stdout and "reprolib.training.insertion" not in done.stdout


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """Targets (two photos of other sizes and formats, one broken file, a text file) and a folder of references."""
    folder = tmp_path_factory.mktemp("batch")
    (folder / "targets").mkdir()
    (folder / "refs").mkdir()

    def small(name, hw):
        return torch.nn.functional.interpolate(load_photo(name)[None], size=hw, mode="area")[0].clamp(0, 1)

    save_image(small("china.jpg", (40, 56)), folder / "targets" / "a.png")
    save_image(small("coffee.jpg", (48, 36)), folder / "targets" / "b.jpg")
    (folder / "targets" / "c.png").write_bytes(b"not an image")
    (folder / "targets" / "readme.txt").write_text("not a target")
    save_image(small("coffee.jpg", (48, 48)), folder / "refs" / "r1.png")
    save_image(small("china.jpg", (40, 64)), folder / "refs" / "r2.jpg")
    return folder


def _colorize(*args):
    return main(["colorize", *map(str, args), "--size", "32", "--no-progress"])


def test_colorize_from_several_references_repeated_or_a_folder(tmp_path, photo_files, photo_folder, capsys):
    t, r = photo_files
    refs = photo_folder / "refs"
    assert _colorize(t, "--reference", r, "--output", tmp_path / "one.png") == 0
    assert " references " not in capsys.readouterr().out
    assert _colorize(t, "--reference", r, "--reference", refs, "--output", tmp_path / "three.png") == 0
    assert " s from 3 references (" in capsys.readouterr().out
    assert _colorize(t, "--reference", refs / "r1.png", "--reference", refs / "r2.jpg", "--output",
                     tmp_path / "two.png") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {tmp_path / 'two.png'} (83 x 61) in ") and " s from 2 references (" in out
    one, two = load_image(tmp_path / "one.png"), load_image(tmp_path / "two.png")
    assert one.shape == two.shape == (3, 61, 83) and (one - two).abs().max() > 0.05  # the references were used


def test_colorize_refuses_a_bad_reference_before_any_work(tmp_path, photo_files, photo_folder, capsys):
    t, r = photo_files
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.png").write_bytes(b"not an image")
    many = tmp_path / "many"
    many.mkdir()
    for i in range(9):
        save_image(torch.rand(3, 16, 16), many / f"{i}.png")
    for refs, message in (([r, tmp_path / "empty"], "empty is a folder without an image"),
                          ([r, tmp_path / "broken.png"], "broken.png: "),
                          ([r, tmp_path / "missing.png"], "missing.png"),
                          ([many], "9 references given, at most 8: the exact search's cost grows")):
        for target, out in ((t, tmp_path / "o.png"), (photo_folder / "targets", tmp_path / "out")):
            assert _colorize(target, *[a for ref in refs for a in ("--reference", ref)], "--output", out) == 2
            err = capsys.readouterr().err
            assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "out").exists()


def test_colorize_a_folder_skips_unreadable_targets_and_never_overwrites(tmp_path, photo_folder, capsys):
    targets, out = photo_folder / "targets", tmp_path / "out"
    args = (targets, "--reference", photo_folder / "refs", "--output", out)
    assert _colorize(*args) == 0
    std = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg"]
    assert load_image(out / "a.png").shape == (3, 40, 56) and load_image(out / "b.jpg").shape == (3, 48, 36)
    assert std.out.startswith(f"coloured 2 of 3 into {out} in ") and " from 2 references (matching: " in std.out
    assert std.out.rstrip().endswith("; skipped 1: c.png")
    assert std.err.splitlines() == [f"skipped {targets / 'c.png'}: not an image file Pillow can read (unknown or "
                                    "broken format)"]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "a.png").write_bytes(b"mine")  # one existing output refuses the whole batch: nothing is written
    (out / "b.jpg").unlink()
    assert _colorize(*args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds 1 of the outputs (a.png); pass --force" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.png"] and (out / "a.png").read_bytes() == b"mine"
    assert _colorize(*args, "--force") == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # replaced, and the same result again


def test_colorize_a_folder_never_writes_over_its_inputs(tmp_path, photo_folder, capsys):
    targets, refs = photo_folder / "targets", photo_folder / "refs"
    snapshot = {p: p.read_bytes() for p in (*targets.iterdir(), *refs.iterdir())}
    for args, message in (((targets, "--reference", refs, "--output", targets, "--force"), "is the target folder"),
                          ((targets, "--reference", refs, "--output", tmp_path / "o", "--save-intermediates",
                            tmp_path / "why"), "--save-intermediates takes one target file"),
                          ((targets, "--reference", refs, "--output", refs / "r1.png"), "is a file")):
        assert _colorize(*args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert all(p.read_bytes() == data for p, data in snapshot.items())
    assert not (tmp_path / "o").exists() and not (tmp_path / "why").exists()
    shared = tmp_path / "shared"  # the references' folder as --output: a reference where a result would go is
    shared.mkdir()                # refused, even with --force; other results may go there, beside the references
    save_image(torch.rand(3, 20, 20), shared / "a.png")
    assert _colorize(targets, "--reference", shared, "--output", shared, "--force") == 2
    assert "would overwrite input files (a.png)" in capsys.readouterr().err
    (shared / "a.png").rename(shared / "r.png")
    reference = (shared / "r.png").read_bytes()
    assert _colorize(targets, "--reference", shared, "--output", shared) == 0
    assert sorted(p.name for p in shared.iterdir()) == ["a.png", "b.jpg", "r.png"]
    assert (shared / "r.png").read_bytes() == reference


def test_colorize_a_folder_of_unreadable_files_exits_1(tmp_path, photo_files, capsys):
    _, r = photo_files
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.png").write_bytes(b"broken")
    assert _colorize(tmp_path / "in", "--reference", r, "--output", tmp_path / "out") == 1
    std = capsys.readouterr()
    assert std.out.startswith("coloured 0 of 1") and "x.png" in std.err and not (tmp_path / "out").exists()
    (tmp_path / "in" / "x.png").unlink()
    assert _colorize(tmp_path / "in", "--reference", r, "--output", tmp_path / "out") == 2
    assert "holds no image" in capsys.readouterr().err
