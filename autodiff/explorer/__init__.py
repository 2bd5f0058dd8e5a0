"""Watch the chain rule: a page that steps through a backward pass on the graph's drawing.

``explore(y)`` gives one self-contained HTML page: the graph as `draw` lays it out (same
colours, grouping and node budget), and a step control (slider, buttons, arrow keys, play).
Step 0 is the forward pass alone: every gradient reads 'not computed'. Each further step is one
step of `trace`, in the order ``backward()`` takes them: the edge used and its two values are
outlined in red, a panel shows upstream x local = product and the input's gradient so far, and
gradients fill in on the boxes as their steps pass. At the last step every gradient is the one
``backward()`` computes. Hovering, clicking or tabbing to a box shows its name, op, data and
gradient (tensors: shape, min/mean/max and the first entries).

>>> from autodiff import Value, explore
>>> x = Value(3.0, label="x")
>>> y = 5 * x**2 + 30
>>> y.label = "y"
>>> page = explore(y)  # page.save("y.html"), or the last expression of a Jupyter cell
>>> [(s["upstream"]["text"], s["local"]["text"], s["product"]["text"])
...  for s in page.data["steps"] if page.data["nodes"][s["node"]]["name"] == "x"]
[('5', '6', '30')]

In Jupyter, ``explore(y)`` as the last expression of a cell shows the page inline (in an
iframe, so front ends that strip scripts from HTML outputs still run it). The page fetches
nothing: its CSS, script, data and picture are all inline, and it uses the system's fonts.
Laying out the picture needs Graphviz's ``dot``; without it `explore` raises
`GraphvizNotFoundError`, saying how to install Graphviz.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import graphviz
import numpy as np

from autodiff.chain_rule import ChainRuleTrace, trace
from autodiff.drawing import (
    COLORS,
    HIGHLIGHT,
    INSTALL_HINT,
    MAX_LAYOUT_COST,
    DrawingTooLargeError,
    GraphDrawing,
    _edge_label,
    _op_label,
    _partials_of,
    _role,
    _write_atomic,
    draw,
    format_array,
    format_number,
    node_name,
    printable,
)
from autodiff.graph import topological_order

MAX_STEPS = 20_000  # more is no walk-through, and makes a page of megabytes
DONE = "#1d3557"  # edges whose steps have passed (the page's own state; dark blue)
HEAD = 8  # entries of an array shown in full
JUPYTER_HEIGHT = (480, 900)  # pixels: the inline frame's least and greatest height
# the page's own markers in page.html, each replaced once by what it stands for
_MARKER = re.compile(r"/\*@(\w+)@\*/|<!--@(\w+)@-->")


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program, which lays out the page's picture, was not found."""


class Explorer:
    """A page that steps through the backward pass from a graph's output (see `explore`).

    ``.html`` is the page (one string, nothing fetched); ``.save(path)`` writes it
    atomically; ``.data`` is what the page shows, as the JSON it embeds: ``nodes`` (every
    value of the graph, in topological order), ``steps`` (the trace's steps, with where each
    is drawn: ``places``), ``seed``, ``note``. In Jupyter it displays inline.
    """

    def __init__(self, data: dict, svg: str, drawing: GraphDrawing, steps: ChainRuleTrace):
        self.data = data
        self.svg = svg
        self.drawing = drawing  # the drawing the picture was laid out from
        self.trace = steps  # the steps shown, as `trace` gives them
        self._html: str | None = None

    @property
    def html(self) -> str:
        """The whole page: one HTML document with inline CSS, script, data and SVG."""
        if self._html is None:
            self._html = _page(self.data, self.svg)
        return self._html

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page to `path` (any suffix; ``.html`` is usual), atomically: an existing
        file is replaced only once the new one is complete. Returns the path.

        >>> from autodiff import Value, explore
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "y.html"
        >>> explore(Value(2.0, label="x") * 3).save(out).name
        'y.html'
        """
        path = Path(path)
        _write_atomic(path, self.html.encode("utf-8"))
        return path

    def __repr__(self) -> str:
        steps, values = len(self.data["steps"]), len(self.data["nodes"])
        return (
            f"<Explorer of the backward pass from {self.data['title']}: {steps:,} steps over "
            f"{values:,} values: .save('backward.html') writes the page; in Jupyter it "
            "displays inline>"
        )

    def _repr_html_(self) -> str:
        # An iframe with the page as `srcdoc`: the page runs in a document of its own, so its
        # ids and styles meet no notebook's, and front ends that strip <script> from outputs
        # still run it. `sandbox` lets it script itself and nothing more.
        low, high = JUPYTER_HEIGHT
        height = min(max(int(self.data["picture"]["height"] * 4 / 3) + 420, low), high)
        title = html.escape(f"Backward pass of {self.data['title']}")
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" title="{title}" '
            f'sandbox="allow-scripts" style="width: 100%; height: {height}px; border: 1px solid '
            f'#ccc; border-radius: 4px;" loading="eager"></iframe>'
        )


def explore(
    root: Any,
    *,
    seed: Any = None,
    params: Any = None,
    group: int | str | Callable[[Any], str | None] | None = "auto",
    max_nodes: int | None = 150,
    digits: int = 4,
    title: str | None = None,
    max_steps: int | None = MAX_STEPS,
    timeout: float | None = None,
) -> Explorer:
    """A page that steps through the backward pass from `root` (a `Value` or `Tensor`).

    The picture is `draw`'s, laid out by Graphviz: `params`, `group`, `max_nodes` and
    `digits` mean what they mean there (a large graph is grouped by layer or neuron, or cut
    to the `max_nodes` values nearest the output; the page says what was collapsed, and the
    steps inside a box are steps of that box); a picture too large for ``dot`` is refused
    (`DrawingTooLargeError`, saying how to show less). The steps are `trace`'s (`seed`:
    d root / d root, needed for a tensor of more than one element). Nothing changes any
    ``.grad``. `title` names the output on the page (default: its label). A backward pass of
    more than `max_steps` steps is refused (ValueError; None: no limit); `timeout` bounds
    ``dot``'s time (default: the drawing's, 60 s).

    >>> from autodiff import Value
    >>> x = Value(3.0, label="x")
    >>> page = explore(x * x)
    >>> [s["accumulated"]["text"] for s in page.data["steps"]]  # d(x*x)/dx = x + x
    ['3', '6']
    """
    if not (hasattr(root, "_prev") and hasattr(root, "_local_partials")):
        raise TypeError(f"explore: expected a Value or Tensor, got {type(root).__name__}")
    if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
        raise ValueError(f"explore: max_steps must be a positive int or None, got {max_steps!r}")
    try:
        steps = trace(root, seed)
    except (TypeError, ValueError, RuntimeError) as error:
        message = str(error).removeprefix("trace: ")
        raise type(error)(f"explore: {message}") from None
    if max_steps is not None and len(steps) > max_steps:
        raise ValueError(
            f"explore: the backward pass has {len(steps):,} steps, more than max_steps="
            f"{max_steps:,} can usefully be stepped through: explore a smaller graph (one "
            "example rather than a batch), or pass max_steps=None"
        )
    try:
        drawing = draw(
            root, params=params, group=group, max_nodes=max_nodes, show_grad=False,
            digits=digits, legend=False, svg_ids=True,
        )  # fmt: skip
    except (TypeError, ValueError) as error:
        raise type(error)(f"explore: {str(error).removeprefix('draw: ')}") from None
    _for_the_page(drawing)
    if drawing.too_large():
        raise DrawingTooLargeError(
            f"explore: the picture is too large for Graphviz's dot to lay out in reasonable "
            f"time (about {drawing.layout_cost:,} units of layout work; it manages about "
            f"{MAX_LAYOUT_COST:,} in a few seconds): show less with explore(..., "
            "group='layer') or group='neuron' (nn names), or max_nodes=100"
        )
    try:
        svg = drawing.render_bytes("svg", timeout=timeout).decode("utf-8")
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(
            f"explore: Graphviz's dot program was not found, and it lays out the page's "
            f"picture: {INSTALL_HINT}"
        ) from None
    data = page_data(root, steps, drawing, params=params, digits=digits, title=title)
    svg, data["picture"] = _inline_svg(svg, data["title"])
    return Explorer(data, svg, drawing, steps)


def _for_the_page(drawing: GraphDrawing) -> None:
    """The drawing as the page shows it: no title lines (the page says them in HTML), each
    value's fields stacked (narrower boxes, so the picture fits a screen at a legible size),
    room in group boxes for a bar, a little less room between ranks."""
    body = drawing.body
    for i, line in enumerate(body):
        if "shape=record" in line:
            # '{ a | b }' lays fields side by side in a left-to-right drawing; 'a | b' stacks
            # them. Braces inside fields are escaped (\{), so only the outer pair matches.
            body[i] = re.sub(r'label="\{ (.*) \}"', r'label="\1"', line, count=1)
        elif "shape=box3d" in line or "shape=note" in line:
            # room at the foot of a group's box for the bar of its values' gradients
            body[i] = line.replace(" shape=", ' margin="0.11,0.12" shape=', 1)
    drawing.attr(label="", ranksep="0.35", nodesep="0.18", pad="0.1", bgcolor="transparent")


def _inline_svg(svg: str, title: str) -> tuple[str, dict]:
    """Graphviz's SVG as an element to put in a page: without the XML prolog, doctype and
    comments; its size (in points) returned apart, so the page can fit or zoom it."""
    start = svg.index("<svg")
    svg = re.sub(r"<!--.*?-->", "", svg[start:], flags=re.S)
    match = re.match(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    width, height = (float(match.group(1)), float(match.group(2))) if match else (800.0, 400.0)
    svg = re.sub(r'^<svg width="[\d.]+pt" height="[\d.]+pt"', "<svg", svg, count=1)
    svg = svg.replace("<svg", '<svg id="ad-svg" role="img" aria-labelledby="ad-svg-title"', 1)
    svg = svg.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "", 1)
    svg = svg.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)  # HTML knows svg's
    what = html.escape(
        f"The graph of {title}, left to right: values in boxes, ops in ellipses, each input "
        "edge labelled with its local partial"
    )
    svg = svg.replace("<title>autodiff</title>", f'<title id="ad-svg-title">{what}</title>', 1)
    return svg.strip(), {"width": width, "height": height}


# --------------------------------------------------------------------------------------------
# The page's data: what it shows, as JSON
# --------------------------------------------------------------------------------------------


def quantity(x: Any, digits: int = 4) -> dict:
    """A number, array or note as the page shows it: its ``text`` as the drawing writes it,
    and (numbers) its exact ``value``; arrays also ``shape``, ``dtype``, ``size``, ``min``,
    ``mean``, ``max``, the first entries (``head``) and their text (``summary``, ``entries``).
    Non-finite numbers are the strings 'nan', 'inf' and '-inf' (JSON has no such numbers).

    >>> quantity(20.0)
    {'value': 20.0, 'text': '20'}
    >>> quantity(float("nan"))
    {'value': 'nan', 'text': 'nan'}
    """
    if hasattr(x, "_prev") and hasattr(x, "data"):  # a gradient that is itself a graph node
        x = x.data
    if isinstance(x, str):
        return {"text": printable(x)}
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, (bool, int, float)):
        return {"value": _number(float(x)), "text": format_number(x, digits)}
    if not isinstance(x, np.ndarray):
        return {"text": printable(str(x))}
    shape = list(x.shape)
    flat = x.reshape(-1)
    out: dict = {"text": format_array(x, digits), "shape": shape, "dtype": str(x.dtype)}
    out["size"] = int(x.size)
    numbers = flat.astype(np.float64) if x.dtype.kind in "biuf" else None
    if numbers is None or x.size == 0:
        return out
    with np.errstate(all="ignore"):
        low, mean, high = numbers.min(), numbers.mean(), numbers.max()
    out.update(min=_number(low), mean=_number(mean), max=_number(high))
    out["head"] = [_number(v) for v in numbers[:HEAD]]
    out["summary"] = (
        f"min {format_number(float(low), digits)}, mean {format_number(float(mean), digits)}, "
        f"max {format_number(float(high), digits)}"
    )
    entries = ", ".join(format_number(float(v), digits) for v in numbers[:HEAD])
    more = x.size - min(x.size, HEAD)
    out["entries"] = entries + (f", ... ({more:,} more)" if more else "")
    return out


def _number(v: Any) -> float | str:
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def page_data(
    root: Any,
    steps: ChainRuleTrace,
    drawing: GraphDrawing,
    *,
    params: Any = None,
    digits: int = 4,
    title: str | None = None,
) -> dict:
    """What the page shows, as plain data (the JSON it embeds).

    - ``nodes``: every value of the graph, in the drawing's (topological) order: ``name`` (as
      the trace names it), ``label``, ``op``, ``role`` (the drawing's colours), ``box`` (the
      SVG id of the box it is drawn in: its own, a group's, or 'hidden'), ``data``,
      ``gets_grad`` (gradient flows into it) and ``kept`` (``backward()`` stores it in .grad).
    - ``steps``: the trace's steps, each with ``node`` and ``output`` (indices into nodes),
      ``slot``, ``op``, ``upstream``, ``local``, ``product``, ``accumulated`` (see
      `quantity`), ``formula`` (a tensor edge's label) and ``place``.
    - ``places``: where a step is drawn: ``edge`` (SVG id, None inside a group), ``boxes``
      (the ids of the boxes at its ends), ``inside`` (the group box holding it, or None) and
      ``ids`` (every SVG element the step outlines).
    `explore` adds ``picture``: the SVG's width and height in points.
    """
    order = list(drawing.box_of)
    index = {node: i for i, node in enumerate(order)}
    tensor = isinstance(root.data, np.ndarray)
    follow = type(root)._follow if tensor else None
    # names as `trace` gives them: its index counts the nodes backward walks into
    traced = {n: i for i, n in enumerate(topological_order(root, follow))}
    if params is not None and hasattr(params, "parameters"):
        params = params.parameters()
    param_ids = {id(p) for p in params} if params is not None else set()

    nodes = []
    for node in order:
        is_tensor = isinstance(node.data, np.ndarray)
        gets_grad = node in traced
        entry = {
            "name": printable(node_name(node, traced.get(node))),
            "label": printable(str(node.label)) if node.label else None,
            "op": printable(_op_label(node, digits)) if node._prev else "",
            "role": _role(node, root, param_ids),
            "box": drawing.box_of[node],
            "data": quantity(node.data, digits),
            "tensor": is_tensor,
            "inputs": [index[p] for p in node._prev],
            "gets_grad": gets_grad,
            # what backward() keeps in .grad: every Value; tensor leaves that require grad,
            # and intermediates that asked (retain_grad)
            "kept": (not is_tensor)
            or (gets_grad and (not node._prev or bool(getattr(node, "_keep_grad", False)))),
        }
        nodes.append(entry)

    places: list = []
    place_ids: dict = {}
    partials: dict = {}
    out_steps = []
    for s in steps:
        edge = drawing.edge_of.get((s.output, s.slot))
        src, dst = drawing.box_of[s.node], drawing.box_of[s.output]
        key = (edge, src, dst)
        if key not in place_ids:
            place_ids[key] = len(places)
            places.append(_place(edge, src, dst))
        formula = None
        if tensor and edge is not None and _is_value_box(src) and _is_value_box(dst):
            if s.output not in partials:
                partials[s.output] = _partials_of(s.output)
            formula = printable(_edge_label(s.output, s.slot, partials[s.output], digits)) or None
        out_steps.append(
            {
                "node": index[s.node],
                "output": index[s.output],
                "slot": s.slot,
                "op": printable(s.op),
                "upstream": quantity(s.upstream, digits),
                "local": quantity(s.local, digits),
                "product": quantity(s.product, digits),
                "accumulated": quantity(s.accumulated, digits),
                "formula": formula,
                "place": place_ids[key],
            }
        )

    name = title if title is not None else node_name(root, traced.get(root))
    note = "; ".join(
        part
        for part in drawing.note.split("; ")
        if part and not part.startswith("gradients not computed")
    )
    return {
        "title": printable(str(name)),
        "output": index[root],
        "seed": quantity(steps.seed, digits),
        "tensor": tensor,
        "digits": digits,
        "grouping": drawing.grouping,
        "note": note,
        "nodes": nodes,
        "places": places,
        "steps": out_steps,
        "legend": [
            {"role": role, "color": COLORS[role]}
            for role in ("input", "parameter", "constant", "output", "intermediate", "group")
        ],
        "colors": {"highlight": HIGHLIGHT, "done": DONE, **COLORS},
    }


def _is_value_box(box: str | None) -> bool:
    """A value's own box (``n<index>``), rather than a group's or the hidden values'."""
    return box is not None and re.fullmatch(r"n\d+", box) is not None


def _place(edge: str | None, src: str, dst: str) -> dict:
    """The SVG elements a step outlines: its edge, the boxes at both ends, and when the
    output has a box of its own, the op's ellipse and its edge into the output."""
    ids = [src] if src == dst else [src, dst]
    if _is_value_box(dst):
        ids += [f"{dst}op", f"{dst}op-{dst}"]
    if edge is not None:
        ids.append(edge)
    inside = src if edge is None and src == dst and not _is_value_box(src) else None
    return {"edge": edge, "boxes": [src, dst], "inside": inside, "ids": ids}


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def _asset(name: str) -> str:
    return (resources.files(__name__) / name).read_text(encoding="utf-8")


def json_for_script(data: Any) -> str:
    """`data` as JSON that is safe inside a ``<script>`` element: '<', '>' and '&' escaped,
    so no text in it (a label such as '</script>') can end the element.

    >>> json_for_script({"a": "</script>"})
    '{"a":"\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _css_colours() -> str:
    roles = {**COLORS, "highlight": HIGHLIGHT, "done": DONE}
    return "\n".join(f"  --ad-{role}: {colour};" for role, colour in roles.items())


def _page(data: dict, svg: str) -> str:
    title = html.escape(f"Backward pass of {data['title']}")
    parts = {
        "title": title,
        "heading": html.escape(data["title"]),
        "colours": _css_colours(),
        "css": _asset("page.css"),
        "svg": svg,
        "data": json_for_script(data),
        "js": _asset("page.js"),
    }
    # one pass over the template: what is put in is never scanned for markers again
    return _MARKER.sub(lambda m: parts[m.group(1) or m.group(2)], _asset("page.html"))


__all__ = ["Explorer", "GraphvizNotFoundError", "explore", "page_data", "quantity"]
