"""One figure, two renderings: a static PNG (matplotlib) and an interactive HTML (plotly).

A :class:`Plot` holds two drawing functions over the same plain data. :func:`render` writes
``figures/GROUP/KEY.png`` (drawn by :mod:`dno.plotting`) and ``figures/GROUP/KEY.html`` (a
page that loads ``figures/plotly.min.js``, the copy of plotly.js shipped with the plotly
package: no CDN), and keeps the HTML fragment for
``index.html``, which embeds plotly.js once. matplotlib and plotly are imported when first used.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dno._io import atomic_path
from dno._names import slug
from dno.errors import DnoError
from dno.plotting import Panel, save_figure
from dno.tracking import REPORT_FIGURES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Plot", "Rendered", "plotly_js", "render", "require_plotly"]

PLOTLY_JS = "plotly.min.js"
MISSING_PLOTLY = (
    "interactive figures need plotly, which is not installed: pip install 'dno[plot]' "
    "(or pass --no-interactive for PNG figures only)"
)


def require_plotly() -> None:
    """Raise a one-line :class:`DnoError` naming the extra if plotly is missing."""
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise DnoError(MISSING_PLOTLY) from None


def plotly_js() -> str:
    """The plotly.js bundle shipped inside the plotly package (no network)."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


@dataclass
class Plot:
    """A figure to draw both ways.

    Attributes:
        key: file stem, unique within its group (``history``, ``heatmap_lr_width``).
        title: shown above the figure.
        caption: what the figure shows, in a sentence or two.
        static: draws the figure on an empty matplotlib ``Figure``.
        interactive: returns the plotly figure.
    """

    key: str
    title: str
    caption: str
    static: Callable[[Figure], None]
    interactive: Callable[[], Any]


@dataclass
class Rendered:
    """A figure written to disk: paths are relative to the report folder.

    Attributes:
        key, group, title, caption: as in :class:`Plot`; ``group`` is the study's folder name
            (``all`` for figures across studies).
        png: the static figure.
        html: the interactive figure's own page (None with ``--no-interactive``).
        div_id: the element id of the interactive figure in ``index.html``.
        fragment: the interactive figure's HTML (a div and its script; not in the JSON).
    """

    key: str
    group: str
    title: str
    caption: str
    png: str
    html: str | None = None
    div_id: str | None = None
    fragment: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "fragment"}


def render(plot: Plot, group: str, out: Path, interactive: bool) -> Rendered:
    """Write the PNG (and the interactive page) of ``plot`` under ``out/figures/group/``."""
    folder = out / REPORT_FIGURES / slug(group)  # keys and groups may hold sweep parameter names
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{slug(plot.key)}.png"
    save_figure(png, plot.static, title=plot.title)
    done = Rendered(plot.key, group, plot.title, plot.caption, png.relative_to(out).as_posix())
    if interactive:
        import plotly.io as pio

        figure = plot.interactive()
        figure.update_layout(template="plotly_white", margin={"l": 60, "r": 30, "t": 50, "b": 50})
        done.div_id = f"fig-{slug(group)}-{slug(plot.key)}"
        config = {"displaylogo": False, "responsive": True}
        done.fragment = pio.to_html(
            figure, include_plotlyjs=False, full_html=False, div_id=done.div_id, config=config
        )
        page = folder / f"{slug(plot.key)}.html"
        with atomic_path(page) as tmp:
            tmp.write_text(
                standalone_page(plot.title, plot.caption, done.fragment, "../"), encoding="utf-8"
            )
        done.html = page.relative_to(out).as_posix()
    return done


def standalone_page(title: str, caption: str, fragment: str, to_figures: str) -> str:
    """A page of its own for one interactive figure; plotly.js from the figures folder."""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        f"<script src='{to_figures}{PLOTLY_JS}'></script>"
        "<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}</style>"
        f"</head><body><h2>{html.escape(title)}</h2><p>{html.escape(caption)}</p>"
        f"{fragment}</body></html>\n"
    )


def write_plotly_js(out: Path) -> Path:
    """Write plotly.js once into ``out/figures/`` for the figures' own pages."""
    path = out / REPORT_FIGURES / PLOTLY_JS
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(plotly_js(), encoding="utf-8")
    return path


def fmt(value: Any) -> str:
    """A number in four significant digits, anything else as text."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def spans_decades(values: list[float]) -> bool:
    """Positive values spanning more than a factor 20 read better on a log axis."""
    return bool(values) and min(values) > 0 and max(values) / min(values) > 20


def plotly_panels(panels: list[Panel], hover: list[list[str]] | None = None) -> Any:
    """The interactive twin of :func:`dno.plotting.draw_panels` (hover: per line, per point)."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p.title for p in panels])
    dash = {"-": "solid", "--": "dash", ":": "dot"}
    for i, panel in enumerate(panels):
        for j, line in enumerate(panel.lines):
            text = hover[j] if hover and j < len(hover) and hover[j] else None
            info = "text" if text else None
            style = {"color": line.color, "dash": dash.get(line.style, "solid")}
            style |= {"shape": "hv"} if line.kind == "step" else {}
            mode = "markers" if line.kind == "points" else "lines"
            fig.add_scatter(x=list(line.x), y=list(line.y), mode=mode, name=line.label, line=style,
                            marker={"color": line.color}, showlegend=i == 0 and bool(line.label),
                            text=text, hoverinfo=info, row=1, col=i + 1)  # fmt: skip
        log = {"type": "log"}
        fig.update_xaxes(title_text=panel.xlabel, row=1, col=i + 1, **(log if panel.logx else {}))
        fig.update_yaxes(title_text=panel.ylabel, row=1, col=i + 1, **(log if panel.logy else {}))
    return fig.update_layout(height=420)
