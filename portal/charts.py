"""Bar charts drawn on the server as inline SVG: they need no JavaScript, print as they show,
and read out to a screen reader as an image with a title and a description (the page's table
beside each chart holds the same figures for those who want them one by one).

Values are integers (amounts in minor units); the caller gives each bar's label and how its
value reads, so this module knows nothing of money or dates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

WIDTH = 720
BAR_HEIGHT = 22
LABEL_WIDTH = 220
VALUE_WIDTH = 130
COLUMN_AREA = 200
#: the most labels under a column chart: beyond that every n-th column is labelled
COLUMN_LABELS = 12
COLOUR = "#005ea2"
INK = "#1b1b1b"
RULE = "#a9aeb1"


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    reads: str


def _frame(
    name: str, title: str, description: str, width: int, height: int, body: list[Markup]
) -> Markup:
    """The ``<svg>`` element around ``body``: an image named by its title and description;
    ``name`` makes their ids unique on the page."""
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="portal-chart" role="img" id="{name}" '
        'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        'aria-labelledby="{name}-title {name}-desc" '
        'font-family="Source Sans Pro, Helvetica, Arial, sans-serif" font-size="13">'
        '<title id="{name}-title">{title}</title><desc id="{name}-desc">{description}</desc>'
        "{body}</svg>"
    ).format(
        name=name,
        width=width,
        height=height,
        title=title,
        description=description,
        body=Markup("").join(body),
    )


def _scale(bars: Sequence[Bar]) -> int:
    return max([bar.value for bar in bars] + [1])


def bar_chart(name: str, title: str, description: str, bars: Sequence[Bar]) -> Markup:
    """Horizontal bars, one a row with its label on the left and its value on the right: for
    categories (services, departments), whose names are too long to stand under a column."""
    top = _scale(bars)
    room = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    body = []
    for row, bar in enumerate(bars):
        y = row * (BAR_HEIGHT + 6) + 4
        length = round(room * max(bar.value, 0) / top)
        body.append(
            Markup(
                "<g><title>{label}: {reads}</title>"
                '<text x="{label_x}" y="{text_y}" text-anchor="end" fill="{ink}">{short}</text>'
                '<rect x="{bar_x}" y="{y}" width="{length}" height="{height}" fill="{colour}"/>'
                '<text x="{value_x}" y="{text_y}" fill="{ink}">{reads}</text></g>'
            ).format(
                label=bar.label,
                reads=bar.reads,
                short=_shortened(bar.label, 32),
                label_x=LABEL_WIDTH - 8,
                text_y=y + 16,
                bar_x=LABEL_WIDTH,
                y=y,
                length=length,
                height=BAR_HEIGHT,
                value_x=LABEL_WIDTH + length + 6,
                ink=INK,
                colour=COLOUR,
            )
        )
    height = max(len(bars), 1) * (BAR_HEIGHT + 6) + 8
    return _frame(name, title, description, WIDTH, height, body)


def column_chart(
    name: str, title: str, description: str, bars: Sequence[Bar], axis: Callable[[int], str]
) -> Markup:
    """Vertical columns in time order (days, months) above a baseline, the highest value
    marked on the axis as ``axis`` writes it; every column tells its value on hover."""
    top = _scale(bars)
    left, bottom = 110, 40
    step = (WIDTH - left - 10) / max(len(bars), 1)
    every = max(1, -(-len(bars) // COLUMN_LABELS))
    base = COLUMN_AREA + 10
    body = [
        Markup(
            '<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="{rule}"/>'
            '<line x1="{left}" y1="10" x2="{right}" y2="10" stroke="{rule}" '
            'stroke-dasharray="4 4"/>'
            '<text x="{tick_x}" y="14" text-anchor="end" fill="{ink}">{top}</text>'
            '<text x="{tick_x}" y="{zero_y}" text-anchor="end" fill="{ink}">{zero}</text>'
        ).format(
            left=left,
            right=WIDTH - 10,
            base=base,
            rule=RULE,
            ink=INK,
            tick_x=left - 6,
            zero_y=base + 4,
            top=axis(top),
            zero=axis(0),
        )
    ]
    for index, bar in enumerate(bars):
        height = round(COLUMN_AREA * max(bar.value, 0) / top)
        x = left + index * step
        body.append(
            Markup(
                '<g><title>{label}: {reads}</title><rect x="{x}" y="{y}" width="{width}" '
                'height="{height}" fill="{colour}"/></g>'
            ).format(
                label=bar.label,
                reads=bar.reads,
                x=f"{x + step * 0.1:.1f}",
                y=base - height,
                width=f"{step * 0.8:.1f}",
                height=height,
                colour=COLOUR,
            )
        )
        if index % every == 0:
            body.append(
                Markup(
                    '<text x="{x}" y="{y}" text-anchor="middle" fill="{ink}">{label}</text>'
                ).format(x=f"{x + step / 2:.1f}", y=base + 18, ink=INK, label=bar.label)
            )
    return _frame(name, title, description, WIDTH, base + bottom, body)


def _shortened(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
