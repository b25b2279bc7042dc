"""End to end: the colour-your-own-photos page, served by Voila and used in a real headless Chromium.

A widget can pass every Python test and still show nothing in a browser. This test does what a reader
does on the page that `make picker` serves: it uploads a target through the page's file chooser (a shipped
photo, then a broken file, which must give a message and leave the page working), downloads the result and
checks its size, moves the exemplar slider with the keyboard, checks that the picture and the downloaded
result change, and that the page left no upload on disk and wrote nothing into the repository. The kernel
behind the page does the work; the browser only shows it.

Needs Debian's `chromium` (or `$REPROLIB_CHROMIUM`), Voila and Playwright's Python package (the `test`
extra); Playwright drives the installed Chromium and never downloads a browser of its own. Skipped with
the reason when one of them is missing. Screenshots go to `$REPROLIB_ARTEFACTS/browser` (default
`build/browser`).
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "app" / "exemplar_picker.ipynb"
PHOTOS = REPO / "data" / "photos"
ARTEFACTS = Path(os.environ.get("REPROLIB_ARTEFACTS", REPO / "build")) / "browser"

SERVER_START_S = 60  # Voila listening on its port
PAGE_READY_S = 180  # kernel started, notebook executed, slider rendered (first panel computed)
RESULT_CHANGE_S = 120  # one recomputation of the panel (after an upload or a move of the slider)
WORKING_SIZE = 128  # the page's smallest working size (?size=128), to keep the test short

# Chromium has no internet here, and a test must not call out anyway: the features that talk to a server
# of their own on start or in the background are switched off. Chromium 156 still asks for two names at
# start whatever the flags (accounts.google.com/ListAccounts, and update.googleapis.com for the on-device
# model manifest component), and Voila's page template links Font Awesome on cdn.jsdelivr.net. The last
# flag is the backstop for those and for any feature a later Chromium adds: every host name but localhost
# fails to resolve inside Chromium, before any DNS query. The test reads Chromium's net log, fails if
# Chromium connected or sent anything beyond loopback, and lists the names it refused in hosts_refused.txt.
NO_CALLING_OUT = [
    "--disable-background-networking",  # extension updates, safe-browsing lists, translate, UMA, ...
    "--disable-component-update",  # no downloads of the components listed at chrome://components
    "--disable-sync",  # no account sync
    "--disable-default-apps",  # no default apps installed on first run
    "--disable-extensions",  # no extensions (and none of their update checks)
    "--disable-component-extensions-with-background-pages",  # built-in extensions --disable-extensions misses
    "--no-first-run",  # no first-run tasks (welcome page, import, search-engine choice)
    "--no-default-browser-check",  # no default-browser prompt
    "--disable-domain-reliability",  # no Domain Reliability beacons
    "--disable-client-side-phishing-detection",  # no phishing model download
    "--disable-breakpad",  # no crash reports
    "--metrics-recording-only",  # UMA metrics recorded locally, never uploaded
    "--no-pings",  # no hyperlink-auditing pings
    "--disable-quic",  # no QUIC probes
    # Features that fetch hints, models, time or media routes: optimisation-guide hints and models,
    # the network time service, Cast/DIAL media routing (discovery on the LAN), translate,
    # certificate-transparency log lists, autofill server queries, search preconnects and AI-mode checks.
    "--disable-features=OptimizationHints,OptimizationHintsFetching,OptimizationGuideModelDownloading,"
    "NetworkTimeServiceQuerying,MediaRouter,DialMediaRouteProvider,Translate,"
    "CertificateTransparencyComponentUpdater,AutofillServerCommunication,PreconnectToSearch,AimEnabled",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
HEADLESS = [
    "--headless",  # no screen
    "--disable-gpu",  # no GPU: software rendering, no GPU probing
    "--disable-dev-shm-usage",  # /dev/shm may be tiny in containers
    "--hide-scrollbars",  # screenshots without scrollbars
    "--mute-audio",
    "--force-color-profile=srgb",  # screenshots in sRGB whatever the machine's colour profile
    "--window-size=1200,900",
]
if hasattr(os, "geteuid") and os.geteuid() == 0:
    HEADLESS.append("--no-sandbox")  # Chromium's sandbox refuses to run as root (CI runs as root)


def _chromium() -> str | None:
    """The Chromium to drive: $REPROLIB_CHROMIUM, else Debian's `chromium` on PATH."""
    path = os.environ.get("REPROLIB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return path if path and os.access(path, os.X_OK) else None


def _missing(reason: str):
    """Skip with the reason; fail instead where $REPROLIB_REQUIRE_BROWSER is set (CI, which installs them)."""
    if os.environ.get("REPROLIB_REQUIRE_BROWSER"):
        pytest.fail(f"REPROLIB_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def needs():
    """Chromium's path and Playwright's sync API; skips (with the reason) when something is missing."""
    chromium = _chromium()
    if chromium is None:
        _missing("no Chromium: `apt-get install chromium` (Debian) or set REPROLIB_CHROMIUM to its path")
    try:
        import voila  # noqa: F401
        from playwright import sync_api
    except ImportError as error:
        _missing(f"{error.name} is not installed: pip install --constraint constraints.txt -e '.[test]'")
    if not NOTEBOOK.is_file():
        _missing(f"the picker page {NOTEBOOK.relative_to(REPO)} is missing")
    return chromium, sync_api


def _free_port() -> int:
    """A loopback port that nothing listens on now (Voila is told not to try another one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server, its process group and every process it started (kernels run in sessions of their own)."""
    import psutil

    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # Voila shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
    _, alive = psutil.wait_procs(family, timeout=5)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)


@pytest.fixture
def picker_server(needs, tmp_path):
    """Voila serving app/exemplar_picker.ipynb on a free loopback port, as `make picker` does (the settings in
    app/voila.json); yields the page's URL and the server's log. The kernel's temporary folder is
    tmp_path/"tmp", so that the test can see what the page leaves there."""
    port = _free_port()
    env = dict(os.environ)
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")  # connection files stay out of ~
    (tmp_path / "tmp").mkdir()
    env["TMPDIR"] = str(tmp_path / "tmp")
    log = open(tmp_path / "voila.log", "wb")
    cmd = [
        sys.executable, "-m", "voila", str(NOTEBOOK),
        "--no-browser",
        "--Voila.config_file_paths=app",
        "--Voila.ip=127.0.0.1",
        f"--port={port}",
        "--Voila.port_retries=0",
        "--VoilaConfiguration.show_tracebacks=True",
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def server_log() -> str:
        log.flush()
        return (tmp_path / "voila.log").read_text(errors="replace")[-4000:]

    try:
        deadline = time.monotonic() + SERVER_START_S
        while not _listening(port):
            if proc.poll() is not None:
                pytest.fail(f"Voila exited with code {proc.returncode}:\n{server_log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"Voila did not listen on port {port} within {SERVER_START_S} s:\n{server_log()}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/", server_log
    finally:
        _stop(proc)
        log.close()


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _net_log(netlog: Path) -> tuple[dict, list]:
    """Chromium's net log: (event type names by number, events)."""
    text = netlog.read_text(errors="replace")
    try:
        log = json.loads(text)
    except ValueError:  # a log cut short at exit: keep its complete events (one a line)
        log = json.loads(text[: text.rindex("},\n") + 1] + "]}")
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    return names, log["events"]


def _loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    return host == "::1" or host.startswith("127.")


def _left_the_machine(netlog: Path) -> list[str]:
    """Non-loopback addresses that Chromium connected to over TCP or sent UDP bytes to."""
    names, events = _net_log(netlog)
    out, udp_peer = set(), {}
    for event in events:
        kind, params = names.get(event["type"]), event.get("params") or {}
        if kind == "TCP_CONNECT_ATTEMPT" and "address" in params and not _loopback(params["address"]):
            out.add(params["address"])
        elif kind == "UDP_CONNECT" and "address" in params:
            udp_peer[event["source"]["id"]] = params["address"]  # a connect() alone sends nothing
        elif kind == "UDP_BYTES_SENT":
            address = params.get("address") or udp_peer.get(event["source"]["id"], "")
            if not _loopback(address):
                out.add(address)
    return sorted(out)


def _names_refused(netlog: Path) -> list[str]:
    """Host names that a request asked for and the resolver rule refused (what the flags did not stop)."""
    names, events = _net_log(netlog)
    hosts = set()
    for event in events:
        url = (event.get("params") or {}).get("url")
        if names.get(event["type"]) == "URL_REQUEST_START_JOB" and isinstance(url, str):
            host = urlsplit(url).hostname
            if url.startswith(("http:", "https:", "ws:", "wss:")) and host not in ("127.0.0.1", "localhost"):
                hosts.add(host)
    return sorted(hosts)


def _repository_state() -> set[str]:
    """What `git status` shows, ignored files included, less build/ (the artefacts) and Python's caches."""
    out = subprocess.run(["git", "status", "--porcelain", "--ignored=matching", "--untracked-files=all"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return {line for line in out.splitlines() if "__pycache__" not in line and not line[3:].startswith("build/")}


def _upload(page, which: str, path: Path) -> None:
    """Choose ``path`` in the page's file chooser of the upload button ``which`` ("target" or "reference")."""
    with page.expect_file_chooser() as chooser:
        page.locator(f".reprolib-{which}-upload").click()
    chooser.value.set_files(path)


def _download(page, sync_api) -> tuple[str, bytes]:
    with page.expect_download(timeout=RESULT_CHANGE_S * 1000) as download:
        page.locator(".reprolib-download-link").click()
    return download.value.suggested_filename, Path(download.value.path()).read_bytes()


@pytest.mark.browser
def test_colour_an_uploaded_photo_pick_and_download(needs, picker_server, tmp_path):
    chromium, sync_api = needs
    url, server_log = picker_server
    expect, wait = sync_api.expect, RESULT_CHANGE_S * 1000  # ms, for each step that waits on the kernel
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    repository_before = _repository_state()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes((PHOTOS / "chelsea.jpg").read_bytes()[:3000])  # a JPEG cut short
    with Image.open(PHOTOS / "chelsea.jpg") as im:
        target_size = im.size
    netlog = tmp_path / "netlog.json"
    args = NO_CALLING_OUT + HEADLESS + [
        f"--user-data-dir={tmp_path / 'profile'}",  # a new empty profile
        f"--log-net-log={netlog}",
        "--remote-debugging-pipe",  # how Playwright talks to it
        "--no-startup-window",
    ]
    with sync_api.sync_playwright() as pw:
        # ignore_default_args: the command line is exactly the list above, nothing added by the driver
        browser = pw.chromium.launch(executable_path=chromium, ignore_default_args=True, args=args)
        try:
            # tall enough for the whole page: Voila's page scrolls inside a box, which full_page screenshots miss
            page = browser.new_page(viewport={"width": 1200, "height": 1500}, accept_downloads=True)
            page.set_default_timeout(RESULT_CHANGE_S * 1000)
            page.goto(f"{url}?size={WORKING_SIZE}", timeout=PAGE_READY_S * 1000)

            slider = page.locator(".widget-slider", has=page.locator(".widget-label", has_text="exemplar"))
            try:
                slider.wait_for(state="visible", timeout=PAGE_READY_S * 1000)
            except sync_api.TimeoutError:
                page.screenshot(path=ARTEFACTS / "photo_page_failed.png", full_page=True)
                pytest.fail(f"no 'exemplar' slider on the page after {PAGE_READY_S} s; Voila said:\n{server_log()}")
            image, link = page.locator("img.reprolib-panel"), page.locator(".reprolib-download-link")
            info, message = page.locator(".reprolib-target-info"), page.locator(".reprolib-message")
            expect(image).to_have_count(1, timeout=wait)
            expect(link).to_have_attribute("download", re.compile(r"^aitzgorri.*\.png$"), timeout=wait)
            page.screenshot(path=ARTEFACTS / "photo_page_start.png")  # the page as it opens (README's picture)

            # A shipped colour photo as the visitor's target, through the page's file chooser.
            src_default = image.get_attribute("src")
            _upload(page, "target", PHOTOS / "chelsea.jpg")
            expect(link).to_have_attribute("download", re.compile(r"^chelsea_from_.*\.png$"), timeout=wait)
            expect(info).to_contain_text("chelsea.jpg (uploaded, 451 x 300 px)", timeout=wait)
            expect(info).to_contain_text("only its lightness L* is used", timeout=wait)
            expect(image).not_to_have_attribute("src", src_default, timeout=wait)
            image.evaluate("img => img.decode()")
            assert image.evaluate("img => img.naturalWidth * img.naturalHeight") > 0, "the page shows an empty panel"

            # A broken file: a message on the page, and the page keeps its target and panel.
            src_first = image.get_attribute("src")
            _upload(page, "target", broken)
            expect(message).to_contain_text("broken.jpg: truncated or corrupt", timeout=wait)
            page.screenshot(path=ARTEFACTS / "photo_page_bad_upload.png", full_page=True)
            expect(info).to_contain_text("chelsea.jpg", timeout=wait)
            assert image.get_attribute("src") == src_first
            shot_before = image.screenshot()
            assert _pixels(shot_before).std() > 1.0, "the page's first panel is blank"
            name_first, png_first = _download(page, sync_api)

            # The next exemplar, as a reader does with the keyboard; the page still answers.
            handle = slider.locator(".noUi-handle")
            handle.focus()
            handle.press("ArrowRight")
            expect(handle).to_have_attribute("aria-valuetext", "2", timeout=wait)
            expect(image).not_to_have_attribute("src", src_first, timeout=wait)
            expect(link).not_to_have_attribute("download", name_first, timeout=wait)
            image.evaluate("img => img.decode()")
            shot_after = image.screenshot()
            page.screenshot(path=ARTEFACTS / "photo_page.png", full_page=True)
            name_second, png_second = _download(page, sync_api)
            left_behind = sorted(p.name for p in (tmp_path / "tmp").glob("reprolib-upload-*"))
        finally:
            browser.close()

    before, after = _pixels(shot_before), _pixels(shot_after)
    assert after.std() > 1.0, "the page's panel went blank after moving the slider"
    changed = before.shape != after.shape or float(np.abs(before - after).mean()) > 1.0
    assert changed, "moving the slider to another exemplar did not change the panel on the page"
    first, second = Image.open(io.BytesIO(png_first)), Image.open(io.BytesIO(png_second))
    assert (first.format, first.size) == ("PNG", target_size), f"{name_first}: {first.format} {first.size}"
    assert (second.format, second.size) == ("PNG", target_size), f"{name_second}: {second.format} {second.size}"
    assert float(np.abs(_pixels(png_first) - _pixels(png_second)).mean()) > 0.5, "the result did not change"
    assert not left_behind, f"uploads left in the temporary folder: {left_behind}"
    assert _repository_state() == repository_before, "the page or the test wrote into the repository"
    (ARTEFACTS / "hosts_refused.txt").write_text("".join(f"{h}\n" for h in _names_refused(netlog)))
    left = _left_the_machine(netlog)
    assert not left, f"Chromium connected or sent data beyond the loopback interface: {left}"


def test_net_log_check_sees_traffic_beyond_loopback(tmp_path):
    """The net-log check itself, on a made-up log cut short at exit as Chromium may leave it."""
    types = {"TCP_CONNECT_ATTEMPT": 1, "UDP_CONNECT": 2, "UDP_BYTES_SENT": 3}

    def event(kind, source, **params):
        return json.dumps({"type": types[kind], "source": {"id": source, "type": 0}, "params": params})

    def write(*events):
        lines = [f'{{"constants": {{"logEventTypes": {json.dumps(types)}}},', '"events": [']
        lines += [e + "," for e in events] + ['{"type": 1, "sour']  # the last event is cut off
        path = tmp_path / "netlog.json"
        path.write_text("\n".join(lines))
        return path

    quiet = write(
        event("TCP_CONNECT_ATTEMPT", 1, address="127.0.0.1:8866"),
        event("UDP_CONNECT", 2, address="[2001:db8::1]:443"),  # a route lookup: connect() sends nothing
    )
    assert _left_the_machine(quiet) == []
    loud = write(
        event("TCP_CONNECT_ATTEMPT", 1, address="192.0.2.7:443"),
        event("UDP_CONNECT", 2, address="[2001:db8::1]:443"),
        event("UDP_BYTES_SENT", 2, byte_count=40),
    )
    assert _left_the_machine(loud) == ["192.0.2.7:443", "[2001:db8::1]:443"]
