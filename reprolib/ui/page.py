"""The widgets of the colour-your-own-photos page (``make picker`` serves app/exemplar_picker.ipynb with Voila).

:class:`PhotoPage` binds the plain functions of :mod:`.session` to ipywidgets: two file choosers
(``FileUpload``: a target; one or more references), the shipped photos as the other choice, the ranked
candidates with their scores, the "exemplar" slider (arrow keys too), the "top k" slider (k > 1: the k best
candidates used jointly instead of one), the working size and method controls,
a progress line while the kernel computes, the panel and a download link for the result at the target's
full size (PNG, a ``data:`` URL: nothing is written on the server). Uploads are decoded in memory (a private
temporary file only while decoding) and the file choosers are emptied once read. A bad upload or setting
gives a message on the page; the page keeps its last good state.
"""
from __future__ import annotations

import base64
import html
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import NamedTuple
from urllib.parse import parse_qs

import torch

from ..colorization.colorize import DEFAULT_FEATURES
from ..colorization.grayvgg import VID_LAYERS, GrayVGG
from ..colorization.grayvgg_weights import load_extractor
from ..colorization.pipelines import DEFAULT_METHOD, methods_for
from ..core.photos import list_photos
from .session import (
    DEFAULT_REFERENCES,
    DEFAULT_SIZE,
    DEFAULT_TARGET,
    SIZES,
    TOP_MAX,
    Photo,
    Session,
    compute_panel,
    make_session,
    panel_png,
    result_filename,
    result_png,
    shipped,
    uploaded,
)
from .uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, is_colour, thumbnail_jpeg

ACCEPT = "image/*"  # what the file choosers offer (any file can still be chosen; it is checked here)
CACHE_BYTES = 200 * 2**20  # panels kept, oldest dropped first (a 16-megapixel result's PNG takes ~30 MB)
SPINNER = ("<style>@keyframes reprolib-spin {to {transform: rotate(360deg)}}</style>"
           "<span style='display:inline-block;width:0.9em;height:0.9em;border:0.2em solid #ccc;"
           "border-top-color:#1976d2;border-radius:50%;animation:reprolib-spin 0.8s linear infinite;"
           "vertical-align:middle'></span>")


class Shown(NamedTuple):
    """What the page keeps of a computed panel: the panel's PNG, the full-size result's PNG, its (H, W), seconds."""

    png: bytes
    result: bytes
    size: tuple[int, int]
    seconds: float


def _data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def options_from_query(query: str) -> dict:
    """Page options from the URL's query string (Voila passes it as $QUERY_STRING): ``size`` (working
    size) and ``method``; a value out of range is ignored."""
    values = {k: v[-1] for k, v in parse_qs(query or "").items()}
    options = {}
    if values.get("size", "").isdigit() and SIZES[0] <= int(values["size"]) <= SIZES[1]:
        options["size"] = int(values["size"])
    if values.get("method"):
        options["method"] = values["method"]
    return options


class PhotoPage:
    """The page's state and widgets; ``PhotoPage().widget`` is the box to display."""

    def __init__(self, size: int = DEFAULT_SIZE, method: str = DEFAULT_METHOD,
                 features: str | GrayVGG = DEFAULT_FEATURES, target: str | Photo = DEFAULT_TARGET,
                 references: Sequence[str] = DEFAULT_REFERENCES):
        """Start with ``target`` (a shipped photo's name, or a Photo) and the shipped ``references`` selected."""
        self.features = load_extractor(features)
        methods = methods_for(self.features)
        self.target: Photo = shipped(target) if isinstance(target, str) else target
        self.uploaded_references: list[Photo] = []
        self.session: Session | None = None
        self._generation = 0  # one per session: the panel cache's keys start with it
        self._cache: OrderedDict[tuple, Shown] = OrderedDict()
        self._shipped: dict[str, Photo] = {}
        self._thumbnails: list[str] = []  # data: URLs of the candidates' thumbnails, in ranked order
        self._last_status = ""
        self._quiet = False  # set while the page moves its own controls
        self._controls(size, method, methods, references)
        self.widget = self._layout(methods)
        self._rebuild()

    def _controls(self, size: int, method: str, methods: tuple[str, ...], references: Sequence[str]) -> None:
        """The page's widgets and what each does when a visitor moves it."""
        import ipywidgets as w

        names = list_photos()
        self.target_upload = w.FileUpload(accept=ACCEPT, multiple=False, description="upload a target photo", icon="",
                                          layout=w.Layout(width="auto"))
        self.target_choice = w.Dropdown(options=names, value=self.target.name if self.target.name in names else None,
                                        description="or shipped", layout=w.Layout(width="360px"))
        self.target_info = w.HTML()
        self.reference_upload = w.FileUpload(accept=ACCEPT, multiple=True, description="upload references", icon="",
                                             layout=w.Layout(width="auto"))
        self.clear_uploads = w.Button(description="remove uploaded references", layout=w.Layout(width="auto"))
        self.reference_choice = w.SelectMultiple(options=names, value=tuple(references), rows=6,
                                                 description="shipped", layout=w.Layout(width="400px"))
        self.message = w.HTML()
        self.size = w.IntSlider(value=size, min=SIZES[0], max=SIZES[1], step=32, description="working size",
                                continuous_update=False, style={"description_width": "initial"})
        self.method = w.ToggleButtons(options=methods, value=method if method in methods else methods[0],
                                      description="method", style={"button_width": "110px"})
        self.exemplar = w.IntSlider(value=1, min=1, max=1, description="exemplar", continuous_update=False)
        self.top = w.IntSlider(value=1, min=1, max=1, description="top k together", continuous_update=False,
                               style={"description_width": "initial"})
        self.ranking = w.HTML()
        self.status = w.HTML()
        self.image = w.Image(format="png", layout=w.Layout(width="100%", max_width="1200px"))
        self.download = w.HTML()
        for name, widget in (("target-upload", self.target_upload), ("reference-upload", self.reference_upload),
                             ("message", self.message), ("status", self.status), ("ranking", self.ranking),
                             ("panel", self.image), ("download", self.download), ("target-info", self.target_info)):
            widget.add_class(f"reprolib-{name}")

        self.target_upload.observe(self._guard(self._on_target_upload), names="value")
        self.target_choice.observe(self._guard(self._on_target_choice), names="value")
        self.reference_upload.observe(self._guard(self._on_reference_upload), names="value")
        self.reference_choice.observe(self._guard(lambda _: self._rebuild()), names="value")
        self.clear_uploads.on_click(self._guard(self._on_clear))
        for control in (self.size, self.method, self.exemplar, self.top):
            control.observe(self._guard(lambda _: self.show()), names="value")

    def _layout(self, methods: tuple[str, ...]):
        """The page: target and references side by side, then the exemplar, its controls and the panel."""
        import ipywidgets as w

        heading = "<h3 style='margin:0.3em 0 0.1em'>{}</h3>".format
        target = w.VBox([
            w.HTML(heading("1. Target") + f"<small>Gray or colour (a colour photo is used through its lightness "
                   f"L* only); JPEG, PNG, TIFF, ... up to {MAX_UPLOAD_BYTES // 2**20} MB and "
                   f"{MAX_UPLOAD_PIXELS // 10**6} megapixels.</small>"),
            w.HBox([self.target_upload, self.target_choice]), self.target_info,
        ], layout=w.Layout(width="50%"))
        references = w.VBox([
            w.HTML(heading("2. References") + "<small>Uploaded ones and the shipped photos selected here "
                   "(Ctrl-click for several), ranked for the target by retrieval.</small>"),
            w.HBox([self.reference_upload, self.clear_uploads]), self.reference_choice,
        ], layout=w.Layout(width="50%"))
        return w.VBox([
            w.HBox([target, references]), self.message,
            w.HTML(heading("3. Pick the exemplar") + "<small>Move the slider, or focus it and press the arrow "
                   "keys. Or colour from the k best recommended at once with top k together above 1: side by side, "
                   "every matcher searching them all. " + self._method_note(methods) + "</small>"),
            w.HBox([self.exemplar, self.top, self.size, self.method]),
            self.ranking, self.status, self.image, self.download,
        ])

    # ------------------------------------------------------------------------------------------- actions
    def _guard(self, action: Callable) -> Callable:
        """``action`` for an observer: skipped while the page moves its own controls; an error becomes the
        page's message (an ``ImageError`` or ``ValueError`` says what to do; anything else is named)."""
        def run(change):
            if self._quiet:
                return
            try:
                self._say("")  # a message belongs to the last action
                action(change)
            except ValueError as error:  # ImageError is one
                self._say(str(error))
            except Exception as error:  # noqa: BLE001 - the page keeps working whatever happened
                self._say(f"unexpected error ({type(error).__name__}: {error})")
            finally:
                if self.status.value.startswith(SPINNER):  # stopped before the end: the last good state
                    self.status.value = self._last_status
        return run

    def _say(self, text: str) -> None:
        self.message.value = (f"<div role='alert' style='color:#b00020;font-weight:600;margin:0.4em 0'>"
                              f"{html.escape(text)}</div>" if text else "")

    def _quietly(self, widget, **values) -> None:
        self._quiet = True
        try:
            for k, v in values.items():
                setattr(widget, k, v)
        finally:
            self._quiet = False

    def _files(self, upload) -> list[tuple[str, memoryview]]:
        files = [(f["name"], f["content"]) for f in upload.value]
        self._quietly(upload, value=())  # the bytes are not kept in the widget
        return files

    def _on_target_upload(self, change) -> None:
        files = self._files(self.target_upload)
        if files:
            target = uploaded(files[0][1], files[0][0])  # a bad file stops here: the page keeps its target
            self.target = target
            self._quietly(self.target_choice, value=None)
            self._rebuild()

    def _on_target_choice(self, change) -> None:
        if change["new"] is not None:
            self.target = self._shipped_photo(change["new"])
            self._rebuild()

    def _on_reference_upload(self, change) -> None:
        files = self._files(self.reference_upload)
        problems = []
        for name, content in files:
            try:
                self.uploaded_references.append(uploaded(content, name))
            except ValueError as error:
                problems.append(str(error))
        if len(problems) < len(files):
            self._rebuild()
        self._say("; ".join(problems))

    def _on_clear(self, _) -> None:
        self.uploaded_references = []
        self._rebuild()

    def _shipped_photo(self, name: str) -> Photo:
        if name not in self._shipped:
            self._shipped[name] = shipped(name)
        return self._shipped[name]

    # ------------------------------------------------------------------------------------------- drawing
    def _rebuild(self) -> None:
        """Rank the references for the target; then show the best one."""
        t = self.target
        kind = ("a colour photo: only its lightness L* is used, the colours come from the reference"
                if is_colour(t.rgb) else "a gray photo")
        self.target_info.value = (f"target: <b>{html.escape(t.name)}</b> ({t.source}, {t.rgb.shape[2]} x "
                                  f"{t.rgb.shape[1]} px), {kind}.")
        references = self.uploaded_references + [self._shipped_photo(n) for n in self.reference_choice.value]
        self.status.value = f"{SPINNER} ranking {len(references)} references ..."
        session = make_session(t, references, self.features)  # ValueError without any reference
        self.session, self._generation = session, self._generation + 1
        self._thumbnails = [_data_url("image/jpeg", thumbnail_jpeg(p.rgb)) for p in session.candidates]
        self._quietly(self.exemplar, max=len(session), value=1)
        top = min(TOP_MAX, len(session))
        self._quietly(self.top, max=top, value=min(self.top.value, top))
        self.show()

    def _chosen(self) -> list[int]:
        """The candidates of the panel: the exemplar on the slider, or with top k above 1 the k best, jointly."""
        k = self.top.value
        return list(range(k)) if k > 1 else [self.exemplar.value - 1]

    def _which(self, chosen: list[int]) -> str:
        """"exemplar i of n" or "the top k of n jointly", for the status line."""
        n = len(self.session)
        return f"the top {len(chosen)} of {n} jointly" if len(chosen) > 1 else f"exemplar {chosen[0] + 1} of {n}"

    def show(self) -> None:
        """The panel of the exemplar on the slider (or of the top k jointly) at the chosen working size and method
        (cached)."""
        session, chosen = self.session, self._chosen()
        self.exemplar.disabled = len(chosen) > 1  # the top k are used: the exemplar slider has no say
        key = (self._generation, tuple(chosen), self.size.value, self.method.value)
        if key not in self._cache:
            self.status.value = (f"{SPINNER} colouring the target from {self._which(chosen)} at working size "
                                 f"{self.size.value} ({self.method.value}) ...")
            with torch.no_grad():
                panel = compute_panel(session, chosen, self.size.value, self.method.value)
            self._cache[key] = Shown(panel_png(panel), result_png(panel), tuple(panel.result.shape[-2:]), panel.seconds)
            while len(self._cache) > 1 and sum(len(v.png) + len(v.result) for v in self._cache.values()) > CACHE_BYTES:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        shown = self._cache[key]
        self.image.value = shown.png
        self.ranking.value = self._ranking_html(chosen)
        h, w = shown.size
        self.download.value = (f"<a class='jupyter-button widget-button reprolib-download-link' "
                               f"download='{html.escape(result_filename(session, chosen))}' "
                               f"href='{_data_url('image/png', shown.result)}' style='display:inline-block;"
                               f"width:auto;padding:0 1em;text-decoration:none'>download the result "
                               f"(PNG, {w} x {h} px, the target's size)</a>")
        self._last_status = (f"{self._which(chosen)}: coloured in {shown.seconds:.1f} s "
                             f"(working size {self.size.value}, {self.method.value})")
        self.status.value = self._last_status

    def _ranking_html(self, current: Sequence[int]) -> str:
        cells = []
        for i, (photo, score, thumb) in enumerate(zip(self.session.candidates, self.session.scores,
                                                      self._thumbnails)):
            border = "3px solid #1976d2" if i in current else "3px solid transparent"
            name = html.escape(photo.name if len(photo.name) <= 24 else photo.name[:21] + "...")
            cells.append(f"<figure style='margin:0 6px 0 0;text-align:center;font-size:11px;line-height:1.3'>"
                         f"<img src='{thumb}' alt='' style='height:72px;border:{border}'><figcaption>"
                         f"#{i + 1} {name}<br>score {score:.3f}{' (uploaded)' if photo.source == 'uploaded' else ''}"
                         f"</figcaption></figure>")
        return ("<div style='font-size:12px;margin:0.3em 0'>candidates, best recommended first (score: "
                "retrieval on L*, higher is more alike):</div><div style='display:flex;flex-wrap:wrap'>"
                + "".join(cells) + "</div>")

    @staticmethod
    def _method_note(methods: tuple[str, ...]) -> str:
        if "attention" in methods:
            return ""
        return (f"Method attention is not offered: it compares {', '.join(VID_LAYERS)}, which this gray-VGG "
                "does not have.")


def photo_page(query: str = "", **options):
    """The page's widget box; ``query`` is the URL's query string (``?size=128&method=patchmatch``)."""
    return PhotoPage(**{**options_from_query(query), **options}).widget
