"""Drawing a graph: every value, every op, and every edge labelled with its local partial.

The picture reads left to right like the article's figures: inputs on the left, the output on
the right, one box per value (its name, data and grad) and one ellipse per op. The edge from an
input into an op carries d op / d input, so the chain rule can be read off the picture: the
gradient of an input is the sum over its paths of the products of the partials along them.

>>> from autodiff import Value, draw
>>> x1 = Value(2.0, label="x1")
>>> y = 5 * x1**2 + 30
>>> y.backward()
>>> dot = draw(y)
>>> 'label=4' in dot.source  # the edge x1 -> ** carries d(x1**2)/dx1 = 2 * x1 = 4
True

`draw` returns a `GraphDrawing` (a ``graphviz.Digraph``): Jupyter shows it inline as SVG, the
plain REPL says what it is and how to save it, and ``.save("graph.svg")`` writes svg/png/pdf
with Graphviz's ``dot`` program (or the DOT source, with a warning saying how to install
Graphviz, when ``dot`` is missing). A large graph is grouped or summarised by default, so that
the picture fits a screen; a drawing too large for ``dot`` to lay out in seconds is refused with
a message saying how to draw less, and ``dot`` itself runs under a timeout.

Every label is escaped, whatever text it holds: users' labels and the op names of their
`Function`s may contain quotes, braces, angle brackets, backslashes, newlines or any Unicode.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import unicodedata
import warnings
from collections import Counter, deque
from pathlib import Path
from typing import Any, Callable, Iterable

import graphviz
import numpy as np

from autodiff.graph import topological_order

# Fill colours by the role a value plays; the legend in the note repeats them in words.
COLORS = {
    "output": "#b7e4c7",  # green
    "input": "#a9d6f5",  # blue
    "parameter": "#ffe08a",  # yellow
    "constant": "#e9e9e9",  # grey
    "intermediate": "#ffffff",
    "op": "#f2f2f2",
    "group": "#dcd0ff",  # lavender
    "hidden": "#f8f8f8",
}
HIGHLIGHT = "#d62828"
LEGEND = (
    "blue: input   yellow: parameter   grey: constant   green: output   "
    "edge label: local partial d(op)/d(input)"
)
INSTALL_HINT = (
    "install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install "
    "graphviz; Windows and others: https://graphviz.org/download/)"
)
GROUP_LEVELS = {"neuron": 4, "layer": 2}  # nn names: layers.<i>.neurons.<j>.w.<k>
# A name where a value lives, as nn gives its parameters: dotted identifiers, no operators.
DOTTED_NAME = re.compile(r"[^\W\d]\w*(?:\.\w+)+")
AUTO_BOXES = 24  # the most boxes the default grouping draws: a screenful
SCREEN = "20,11.25"  # inches: 1920 x 1080 pixels at 96 per inch, Graphviz's `size`
# What Graphviz's dot can lay out in a few seconds, in the units of `layout_cost`. Measured on a
# 2-core machine: about 2,000 lays out in 1-3 s, 3,000 in 3-7 s, 4,000 in 7-15 s, and the time
# grows faster than the size (crossing minimisation and the placement of long edges).
MAX_LAYOUT_COST = 3_000
DOT_TIMEOUT = 60.0  # seconds: dot is stopped after this, so nothing hangs


class DrawingTooLargeError(ValueError):
    """The drawing is too large for Graphviz to lay out in reasonable time (see `layout_cost`)."""


class GraphvizNotFoundWarning(UserWarning):
    """Graphviz's ``dot`` program is missing, so only the DOT source (``.gv``) was saved."""


# --------------------------------------------------------------------------------------------
# Text of numbers, arrays and nodes (shared with the chain-rule trace)
# --------------------------------------------------------------------------------------------


def format_number(x: Any, digits: int = 4) -> str:
    """`x` with `digits` significant digits, integers without a point: 20.0 -> '20'.

    Values (gradients built with ``create_graph=True``) show their data; arrays a short
    summary (see `format_array`).
    """
    if hasattr(x, "_prev") and hasattr(x, "data"):  # a graph node used as a number
        x = x.data
    if isinstance(x, np.ndarray) or isinstance(x, (list, tuple)):
        return format_array(np.asarray(x), digits)
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, (int, float)):
        text = format(x, f".{digits}g")
        return "0" if text == "-0" else text
    return str(x)


def format_array(a: np.ndarray, digits: int = 4, max_size: int = 6) -> str:
    """Small arrays in full on one line; larger ones as 'all v' or a 'min..max' summary."""
    if a.size == 1:
        return format_number(a.reshape(()).item(), digits)
    if a.size == 0:
        return f"empty {a.shape}"
    if a.size <= max_size:
        text = np.array2string(
            a,
            separator=", ",
            max_line_width=10**6,
            formatter={"all": lambda v: format_number(v, digits)},
        )
        return " ".join(text.split())
    low, high = a.min(), a.max()
    if low == high:
        return f"all {format_number(low.item(), digits)}"
    return f"{format_number(low.item(), digits)} .. {format_number(high.item(), digits)}"


def node_name(node: Any, index: int | None = None, digits: int = 4, width: int = 40) -> str:
    """How drawings and traces name a node: its label, else its value (leaves) or '#index op'."""
    label = node.label
    if label:
        text = str(label)
        return text if len(text) <= width else text[: width - 3] + "..."
    if not node._prev:
        data = node.data
        if isinstance(data, np.ndarray) and data.size > 1:
            return f"#{index} {data.shape}" if index is not None else f"array {data.shape}"
        return format_number(data, digits)
    return f"#{index} {node._op}" if index is not None else node._op


def _is_tensor(node: Any) -> bool:
    return isinstance(node.data, np.ndarray)


# --------------------------------------------------------------------------------------------
# The drawing object: a Digraph that saves atomically and copes without `dot`
# --------------------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename, so a failure midway never
    leaves a half-written file (and an existing one is replaced only when the new is complete)."""
    tag = f".{os.getpid()}.{secrets.token_hex(4)}.tmp"
    # a file name may have 255 bytes: keep the temporary one under that whatever `path` is
    room = 255 - 1 - len(tag.encode())
    stem = path.name.encode("utf-8", "surrogateescape")[:room].decode("utf-8", "ignore")
    tmp = path.with_name(f".{stem}{tag}")
    # os.open with a mode (not tempfile's 0600) so the file gets the usual umask permissions
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class GraphDrawing(graphviz.Digraph):
    """A `graphviz.Digraph` of a computation graph, from `draw`.

    Adds `save` (atomic, format from the suffix, a clear warning without Graphviz, a timeout
    on ``dot``), a REPL repr saying what it is and how to save it, and inline SVG in Jupyter
    (or a message instead: the DOT source when ``dot`` is missing, how to draw less when the
    drawing is too large). ``note`` says what was collapsed (empty if nothing);
    ``shown``/``total`` count values, ``boxes`` the boxes drawn, ``ops`` the graph's ops;
    ``layout_cost`` estimates dot's work (see `MAX_LAYOUT_COST`); ``timeout`` is how long dot
    may run when saving or displaying (60 s; None for no limit).
    """

    note: str = ""
    shown: int = 0
    total: int = 0
    ops: int = 0
    boxes: int = 0
    grouping: str = ""  # how the values were grouped: 'layer', 'neuron', ... or ''
    layout_cost: int = 0
    timeout: float | None = DOT_TIMEOUT  # seconds dot may run (save, Jupyter); None: no limit
    box_of: dict = {}  # graph node -> id of the box it is drawn in (its own, a group's, 'hidden')
    edge_of: dict = {}  # (node, input slot) -> id of the edge drawn for it; None inside a group

    def __repr__(self) -> str:
        what = f"<GraphDrawing of {self.total:,} values, {self.ops:,} ops"
        if self.shown < self.total or self.grouping:
            how = f"grouped by {self.grouping}" if self.grouping else "the rest in one box"
            what += f", drawn as {self.boxes:,} boxes ({how}; see .note)"
        if self.layout_cost > MAX_LAYOUT_COST:
            return what + ": too large for Graphviz to lay out quickly (see .note)>"
        return what + ": .save('y.svg') writes svg/png/pdf/gv; in Jupyter it displays inline>"

    def too_large(self) -> str:
        """Why dot would take too long on this drawing and how to draw less, or ''."""
        if self.layout_cost <= MAX_LAYOUT_COST:
            return ""
        return (
            f"this drawing is too large for Graphviz's dot to lay out in reasonable time (about "
            f"{self.layout_cost:,} units of layout work; it manages about {MAX_LAYOUT_COST:,} in "
            f"a few seconds, and the time grows faster than the size): draw less with "
            f"draw(..., group='layer') or group='neuron' (nn names), or max_nodes=100; or save "
            f"it as .gv, or pass force=True to save() to try anyway"
        )

    def render_bytes(self, fmt: str, *, timeout: float | None = None,
                     force: bool = False) -> bytes:  # fmt: skip
        """The drawing rendered by ``dot -T<fmt>``: at most `timeout` seconds (default: the
        drawing's ``timeout``), and refused (`DrawingTooLargeError`) when it is too large,
        unless `force`.

        Raises ``graphviz.ExecutableNotFound`` without Graphviz, RuntimeError if dot fails or
        runs out of time.
        """
        problem = self.too_large()
        if problem and not force:
            raise DrawingTooLargeError(f"draw: {problem}")
        executable = shutil.which("dot")
        if executable is None:
            raise graphviz.ExecutableNotFound(["dot", f"-T{fmt}"])
        command = [executable, f"-T{fmt}"]
        timeout = self.timeout if timeout is None else timeout
        try:
            done = subprocess.run(
                command, input=self.source.encode("utf-8"), capture_output=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"Graphviz's dot did not finish laying out {self.total:,} values within "
                f"{timeout:g} s and was stopped; draw less with group='layer' or max_nodes=100"
            ) from None
        if done.returncode != 0:
            lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = lines[-1] if lines else f"exit status {done.returncode}"
            raise RuntimeError(f"Graphviz's dot failed: {detail}")
        return done.stdout

    def save(self, path: str | os.PathLike, *, timeout: float | None = None,
             force: bool = False) -> Path:  # fmt: skip
        """Write the drawing to `path`; the suffix picks the format (.svg, .png, .pdf, .gv...).

        Returns the path written. Without Graphviz's ``dot`` program, writes the DOT source
        next to it as ``<name>.gv`` instead, warns (`GraphvizNotFoundWarning`) with how to
        install Graphviz, and returns the ``.gv`` path. ``dot`` is stopped after `timeout`
        seconds (default: the drawing's ``timeout``, 60; RuntimeError); a drawing too large
        to lay out in reasonable time is refused (`DrawingTooLargeError`, a ValueError, saying
        how to draw less) unless `force`. The ``.gv`` source is always written, whatever its
        size.

        >>> from autodiff import Value, draw
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "y.gv"
        >>> draw(Value(2.0, label="x") * 3).save(out).name
        'y.gv'
        """
        path = Path(path)
        fmt = path.suffix[1:].lower()
        if fmt in ("gv", "dot"):
            _write_atomic(path, self.source.encode("utf-8"))
            return path
        if fmt not in graphviz.FORMATS:
            raise ValueError(
                f"save: cannot tell the format from {str(path)!r}; use a suffix such as .svg, "
                ".png, .pdf or .gv"
            )
        try:
            data = self.render_bytes(fmt, timeout=timeout, force=force)
        except graphviz.ExecutableNotFound:
            source = path.with_suffix(".gv")
            _write_atomic(source, self.source.encode("utf-8"))
            warnings.warn(
                GraphvizNotFoundWarning(
                    f"Graphviz's `dot` program was not found, so {path} was not drawn; its DOT "
                    f"source is in {source}. To draw it, {INSTALL_HINT}, then save again or run "
                    f"`dot -T{fmt} {source} -o {path}`."
                ),
                stacklevel=2,
            )
            return source
        except RuntimeError as error:
            raise RuntimeError(f"save: {error} (drawing {path})") from None
        _write_atomic(path, data)
        return path

    def pipe(self, format: str | None = None, *args: Any, **kwargs: Any) -> Any:
        """graphviz's ``pipe``, refused (`DrawingTooLargeError`) for a drawing too large to lay
        out in reasonable time; `save` and Jupyter's display also stop dot after a timeout."""
        problem = self.too_large()
        if problem:
            raise DrawingTooLargeError(f"draw: {problem}")
        return super().pipe(format, *args, **kwargs)

    def render(self, *args: Any, **kwargs: Any) -> Any:
        """graphviz's ``render``, refused (`DrawingTooLargeError`) when the drawing is too
        large to lay out in reasonable time (see `save`, which also has a timeout)."""
        problem = self.too_large()
        if problem:
            raise DrawingTooLargeError(f"draw: {problem}")
        return super().render(*args, **kwargs)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict:
        # Jupyter: inline SVG (or PNG/JPEG if asked); a message where no picture can be made
        wanted = set(include) if include is not None else {"image/svg+xml"}
        wanted -= set(exclude or ())
        formats = {"image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpeg"}
        try:
            bundle: dict = {}
            for mimetype, fmt in formats.items():
                if mimetype in wanted:
                    data = self.render_bytes(fmt)
                    bundle[mimetype] = data.decode("utf-8") if fmt == "svg" else data
            return bundle
        except graphviz.ExecutableNotFound:  # Jupyter without Graphviz: the source, not a trace
            return {"text/plain": f"(Graphviz's dot was not found: {INSTALL_HINT})\n{self.source}"}
        except (DrawingTooLargeError, RuntimeError) as error:
            return {"text/plain": f"{repr(self)}\n{error}"}


# --------------------------------------------------------------------------------------------
# Roles, groups and the node budget
# --------------------------------------------------------------------------------------------


def _role(node: Any, root: Any, params: set) -> str:
    if node is root:
        return "output"
    if node._prev:
        return "intermediate"
    if id(node) in params:
        return "parameter"
    if _is_tensor(node):
        # a leaf that wants a gradient is what an optimizer updates, as nn's parameters
        if node.requires_grad:
            return "parameter"
        return "input" if node.label else "constant"
    if not node.label:
        return "constant"
    # nn names its parameters by where they live ("layers.0.neurons.3.w.1")
    return "parameter" if DOTTED_NAME.fullmatch(str(node.label)) else "input"


def _group_key(group: Any) -> Callable[[Any], str | None] | None:
    """`group` as a function node -> group name (or None: not grouped by its own label)."""
    if group is None:
        return None
    if isinstance(group, str):
        if group not in GROUP_LEVELS:
            names = ["auto", *sorted(GROUP_LEVELS)]
            raise ValueError(f"draw: group must be one of {names}, got {group!r}")
        group = GROUP_LEVELS[group]
    if isinstance(group, bool) or not (isinstance(group, int) or callable(group)):
        raise TypeError(
            f"draw: group must be 'auto', 'neuron', 'layer', an int, a callable or None, got "
            f"{group!r}"
        )
    if callable(group):
        return group
    if group < 1:
        raise ValueError(f"draw: group depth must be >= 1, got {group}")

    def by_prefix(node: Any) -> str | None:
        label = node.label
        if not label or not DOTTED_NAME.fullmatch(str(label)):  # '1.5*x' is no place
            return None
        parts = str(label).split(".")
        return ".".join(parts[:group]) if len(parts) > group else None

    return by_prefix


def _assign_groups(order: list, root: Any, key: Callable[[Any], str | None]) -> dict:
    """Group name of each grouped node. One pass, inputs before outputs (no recursion):

    1. by name: its own key if any; else the one group of its grouped leaf inputs (a neuron's
       weights make its weighted sum part of it); else the group all its inputs share (its
       activation, a chain of + inside it);
    2. by stage: the remaining op nodes that apply the same op to inputs from the same boxes
       (a batch's copies of the loss terms) form one box, e.g. '- x320';
    3. an unnamed leaf (a constant) joins the box of its consumers when they are all in one.
    """
    groups: dict = {}
    stage_of: dict = {}  # ungrouped op node -> its stage (number, op)
    stage_ids: dict = {}
    for node in order:
        if node is root:
            continue
        name = key(node)
        if name is None and node._prev:
            leaf_groups = {groups.get(p) for p in node._prev if not p._prev} - {None}
            if len(leaf_groups) == 1:
                name = leaf_groups.pop()
            else:
                input_groups = {groups.get(p) for p in node._prev}
                if len(input_groups) == 1:
                    name = input_groups.pop()
        if name is not None:
            groups[node] = name
        elif node._prev:
            inputs = tuple(
                groups.get(p) or stage_of.get(p) or ("leaf" if not p._prev else id(p))
                for p in node._prev
            )
            # stages are numbered, so a key never nests its inputs' keys (deep chains)
            op = _op_label(node, 4)
            stage_of[node] = stage_ids.setdefault((op, inputs), (len(stage_ids), op))
    sizes = Counter(stage_of.values())
    names: dict = {}
    for stage, n in sizes.items():
        if n > 1:
            name = f"{stage[1]} x{n}"
            while name in names.values() or name in groups.values():
                name += "'"
            names[stage] = name
    for node, stage in stage_of.items():
        if stage in names:
            groups[node] = names[stage]
    consumers: dict = {}  # unnamed leaf -> the boxes it feeds
    for node in order:
        box = groups.get(node, node)
        for p in node._prev:
            if not p._prev and p not in groups and not p.label:
                consumers.setdefault(p, set()).add(box)
    for leaf, boxes in consumers.items():
        if len(boxes) == 1:
            (box,) = boxes
            if isinstance(box, str):
                groups[leaf] = box
    return groups


def _auto_groups(order: list, root: Any, max_nodes: int | None) -> tuple[str, dict]:
    """The default grouping: none for a graph of at most `max_nodes` values (or with no nn
    names); else one box per neuron if that fits a screen (`AUTO_BOXES`), else per layer."""
    if max_nodes is None or len(order) <= max_nodes:
        return "", {}
    if not any(n.label and DOTTED_NAME.fullmatch(str(n.label)) for n in order):
        return "", {}
    for level in ("neuron", "layer"):
        groups = _assign_groups(order, root, _group_key(level))
        boxes = len(set(groups.values())) + sum(1 for n in order if n not in groups)
        if boxes <= AUTO_BOXES:
            break
    return level, groups


def _layout_cost(nodes: list[str], edges: list[tuple[str, str]]) -> int:
    """An estimate of dot's work: nodes + edges + 3 per rank a long edge crosses.

    dot places each node on a rank and routes an edge through every rank between its ends (a
    'virtual node' each); crossing minimisation and placement grow faster than linearly in all
    of them. Ranks are taken as late as possible (dot pulls a value next to its consumer).
    """
    consumers: dict = {n: [] for n in nodes}
    outgoing = Counter()
    for src, dst in edges:
        consumers.setdefault(dst, []).append(src)
        outgoing[src] += 1
    rank = dict.fromkeys(consumers, 0)  # 0 at the output; rank r is r steps before it
    ready = deque(n for n in consumers if outgoing[n] == 0)
    while ready:  # from the output back: a node's rank once all its consumers have theirs
        node = ready.popleft()
        for src in consumers[node]:
            rank[src] = max(rank[src], rank[node] + 1)
            outgoing[src] -= 1
            if outgoing[src] == 0:
                ready.append(src)
    virtual = sum(max(0, rank[src] - rank[dst] - 1) for src, dst in edges)
    return len(consumers) + len(edges) + 3 * virtual


def _distances(root: Any) -> dict:
    """Edges from each node to the output (breadth first, iterative)."""
    distance = {root: 0}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        d = distance[node] + 1
        for parent in node._prev:
            if parent not in distance:
                distance[parent] = d
                queue.append(parent)
    return distance


def _on_paths(order: list, sources: Iterable) -> set:
    """Nodes on some path from one of `sources` to the output (order ends at the output)."""
    reached = {id(s) for s in sources}
    for node in order:  # inputs come first, so one pass propagates reachability forwards
        if any(id(p) in reached for p in node._prev):
            reached.add(id(node))
    return reached


# --------------------------------------------------------------------------------------------
# draw
# --------------------------------------------------------------------------------------------


def draw(
    root: Any,
    *,
    highlight: Any = None,
    params: Any = None,
    group: int | str | Callable[[Any], str | None] | None = "auto",
    max_nodes: int | None = 150,
    show_grad: bool | None = None,
    digits: int = 4,
    legend: bool = True,
    rankdir: str = "LR",
    svg_ids: bool = False,
) -> GraphDrawing:
    """Draw the graph that computed `root` (a `Value` or `Tensor`), left to right.

    - every value is a box: name, data and grad (tensors: shape, dtype, small values or a
      summary); each op is an ellipse; each edge into an op is labelled with the local partial
      derivative d op / d input: scalars show the number; tensors a short formula with the
      operands' names (``W.T`` for d(x @ W)/dx, ``1 - tanh^2``, ``2·x`` for x**2), and its
      values when they are few, or the shapes for ops without a formula. ``x * x`` shows two
      edges from x.
    - colours: inputs blue, parameters yellow (tensors that require grad, labels with dots as
      `nn` names them, or those in `params`: an iterable or a module with ``parameters()``),
      constants grey, output green.
    - before ``backward()`` gradients read 'not computed' (`show_grad` None decides from the
      graph: a Value root's grad is 0.0 until a pass runs from it; False/True forces it).
    - `highlight`: a node (or several): every path from it to the output is drawn in red.
    - `group`: one box per group of nodes. 'auto' (the default) leaves a graph of at most
      `max_nodes` values alone, and groups a larger one named by `nn` by neuron, or by layer
      when that is too many boxes for a screen; 'neuron' or 'layer' (for `nn` names), an int
      (keep that many dotted parts of a label: 4 -> 'layers.0.neurons.3'), a callable node ->
      group name or None, or None for no groups. Unlabelled nodes join the group of their
      weights or inputs.
    - `max_nodes`: keep at most this many boxes, those nearest the output; the rest become one
      box. None draws everything: ``draw(y, group=None, max_nodes=None)`` is the whole graph.
    The note above the picture says what was grouped or collapsed, and how to see it all.
    - `svg_ids`: give every node and edge an SVG id (``n3``, ``n1-n3op-0``; see `edge_id`), for
      pages that script the picture; ``.box_of`` and ``.edge_of`` say where each value and
      each edge of the graph is drawn.

    >>> from autodiff import Value
    >>> x = Value(3.0, label="x")
    >>> dot = draw(x * x)
    >>> dot.source.count("label=3")  # both edges of x * x carry d(x*x)/dx = x = 3
    2
    """
    if not (hasattr(root, "_prev") and hasattr(root, "_op") and hasattr(root, "data")):
        raise TypeError(f"draw: expected a Value or Tensor, got {type(root).__name__}")
    budget_ok = isinstance(max_nodes, int) and not isinstance(max_nodes, bool) and max_nodes > 0
    if max_nodes is not None and not budget_ok:
        raise ValueError(f"draw: max_nodes must be a positive int or None, got {max_nodes!r}")
    if not isinstance(digits, int) or not 1 <= digits <= 17:
        raise ValueError(f"draw: digits must be an int from 1 to 17, got {digits!r}")
    auto = isinstance(group, str) and group == "auto"
    key = None if auto else _group_key(group)
    if params is not None and hasattr(params, "parameters"):
        params = params.parameters()
    param_ids = {id(p) for p in params} if params is not None else set()

    order = topological_order(root)
    index = {node: i for i, node in enumerate(order)}
    tensor = _is_tensor(root)
    if show_grad is None:
        if tensor:  # tensors: leaves that want a gradient get one from backward()
            show_grad = any(n.grad is not None for n in order if n.requires_grad and not n._prev)
        else:
            # Value grads start at 0.0 and backward() seeds its root with 1, so a root with a
            # gradient means a pass has run from it (or through it, from a larger graph). Other
            # nonzero grads prove nothing: the graph of x.grad (create_graph) shares x and the
            # constants with the graph that was differentiated, but has had no pass of its own.
            show_grad = not (isinstance(root.grad, (int, float)) and root.grad == 0)

    # units: what gets one box each; a group name (str) or a node
    grouping = ""
    if auto:
        grouping, groups = _auto_groups(order, root, max_nodes)
    else:
        groups = _assign_groups(order, root, key) if key is not None else {}
        if groups:
            grouping = (
                group
                if isinstance(group, str)
                else ("your function" if callable(group) else f"the first {group} parts of names")
            )

    def unit(node: Any) -> Any:
        return groups.get(node, node)

    units: dict = {}  # unit -> members, in topological order
    for node in order:
        units.setdefault(unit(node), []).append(node)

    hidden: set = set()
    if max_nodes is not None and len(units) > max_nodes:
        distance = _distances(root)
        nearest = {}
        for u, members in units.items():
            nearest[u] = min(distance[m] for m in members)
        # nearest the output first; among equals, later in the order (nearer the output)
        ranked = sorted(units, key=lambda u: (nearest[u], -index[units[u][-1]]))
        hidden = set(ranked[max_nodes:])

    path: set = set()
    if highlight is not None:
        for node in _as_list(highlight):
            if node not in index:
                raise ValueError(
                    f"draw: highlight {node!r} is not in the graph of the output {root!r}"
                )
        path = _on_paths(order, _as_list(highlight))

    dot = GraphDrawing(
        name="autodiff",
        graph_attr={"rankdir": rankdir, "fontname": "Helvetica", "fontsize": "11"},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"fontname": "Helvetica", "fontsize": "10", "fontcolor": "#1d3557"},
    )
    dot.total = len(order)
    dot.ops = sum(1 for n in order if n._prev)
    dot.grouping = grouping
    # what dot will lay out, for its cost estimate
    dot_nodes: list[str] = []
    dot_edges: list[tuple[str, str]] = []

    # With `svg_ids`, every node and edge carries an id (the SVG element's), so that a page can
    # script the picture: a node's is its name, an edge's `edge_id(src, dst, slot)`.
    def add_node(name: str, label: str, **attrs: Any) -> None:
        if svg_ids:
            attrs["id"] = name
        dot.node(name, graphviz.nohtml(label), **attrs)
        dot_nodes.append(name)

    def add_edge(src: str, dst: str, label: str | None = None, slot: int | None = None,
                 **attrs: Any) -> None:  # fmt: skip
        if svg_ids:
            attrs["id"] = edge_id(src, dst, slot)
        if label is None:
            dot.edge(src, dst, **attrs)
        else:
            dot.edge(src, dst, graphviz.nohtml(label), **attrs)
        dot_edges.append((src, dst))

    ids: dict = {}  # unit -> box id
    for u, members in units.items():
        if u in hidden:
            continue
        if isinstance(u, str):
            box = f"g{len(ids)}"
            add_node(box, _group_label(u, members), shape="box3d", style="filled",
                     fillcolor=COLORS["group"])  # fmt: skip
            ids[u] = box
            continue
        i = index[u]
        box = f"n{i}"
        ids[u] = box
        on_path = id(u) in path
        style = {"penwidth": "2.5", "color": HIGHLIGHT} if on_path else {}
        add_node(box, _value_label(u, i, show_grad, digits), shape="record", style="filled",
                 fillcolor=COLORS[_role(u, root, param_ids)], **style)  # fmt: skip
        if u._prev:
            add_node(f"{box}op", dot_text(_op_label(u, digits)), shape="ellipse",
                     style="filled", fillcolor=COLORS["op"], **style)  # fmt: skip
            add_edge(f"{box}op", box, **style)
    dot.shown = sum(len(units[u]) for u in ids)
    dot.boxes = len(ids)

    hidden_box = None
    hidden_count = sum(len(units[u]) for u in hidden)
    if hidden:
        hidden_box = "hidden"
        add_node(hidden_box, f"... {hidden_count:,} more values\\n(beyond max_nodes={max_nodes})",
                 shape="note", style="filled,dashed", fillcolor=COLORS["hidden"])  # fmt: skip
        dot.boxes += 1

    # Edges. Between two drawn values: one edge per input slot, labelled with its partial.
    # Into or out of a group or the hidden box: one edge per pair of boxes, with a count.
    bundled: Counter = Counter()
    edge_of: dict = {}  # (node, slot) -> id of the edge drawn for it (None: inside one group)
    for node in order:
        if not node._prev:
            continue
        target = unit(node)
        if target in hidden:
            continue
        partials = None
        for slot, parent in enumerate(node._prev):
            source = unit(parent)
            if isinstance(target, str) and source == target:
                edge_of[node, slot] = None
                continue  # inside one group
            if isinstance(target, str) or isinstance(source, str) or source in hidden:
                src = hidden_box if source in hidden else ids[source]
                dst = ids[target] if isinstance(target, str) else f"{ids[target]}op"
                bundled[(src, dst)] += 1
                edge_of[node, slot] = edge_id(src, dst)
                continue
            if partials is None:
                partials = _partials_of(node)
            label = _edge_label(node, slot, partials, digits)
            style = {}
            if id(node) in path and id(parent) in path:
                style = {"penwidth": "2.5", "color": HIGHLIGHT, "fontcolor": HIGHLIGHT}
            add_edge(ids[parent], f"{ids[node]}op", dot_text(label), slot, **style)
            edge_of[node, slot] = edge_id(ids[parent], f"{ids[node]}op", slot)
    # where each value and each edge of the graph is drawn, for pages that script the picture
    dot.box_of = {node: hidden_box if unit(node) in hidden else ids[unit(node)] for node in order}
    dot.edge_of = edge_of
    for (src, dst), count in bundled.items():
        dashed = {"style": "dashed"} if src == hidden_box else {}
        add_edge(src, dst, f"{count} edge{'s' if count != 1 else ''}", **dashed)
    dot.layout_cost = _layout_cost(dot_nodes, dot_edges)

    notes = []
    everything = "group=None, max_nodes=None draws every value"
    if groups and auto:
        other = "layer' a box per layer" if grouping == "neuron" else "neuron' a box per neuron"
        notes.append(
            f"grouped by {grouping} to fit a screen ({len(order):,} values in {dot.boxes} "
            f"boxes): group='{other}, {everything}"
        )
        dot.attr(size=SCREEN)  # and scaled down, should it still be larger
    elif groups:
        grouped = len(groups)
        n_groups = sum(1 for u in units if isinstance(u, str))
        notes.append(f"{grouped:,} values collapsed into {n_groups} group boxes")
    if hidden:
        notes.append(
            f"{hidden_count:,} of {len(order):,} values beyond the node budget "
            f"(max_nodes={max_nodes}) collapsed into one box"
            + ("; group='layer' or 'neuron' draws them as boxes" if key is None else "")
            + ("" if groups and auto else f"; {everything}")
        )
    if not show_grad:
        notes.append("gradients not computed yet: call backward()")
    if highlight is not None:
        names = ", ".join(node_name(n, index.get(n)) for n in _as_list(highlight))
        notes.append(f"red: every path from {names} to the output")
    too_large = dot.too_large()
    if too_large:
        notes.append(too_large)
    dot.note = "; ".join(notes)
    lines = notes + ([LEGEND] if legend else [])  # a line each: the picture stays narrow
    if lines:
        # "\l" ends a left-justified line
        label = "".join(dot_text(line, newline="\\l") + "\\l" for line in lines)
        dot.attr(label=graphviz.nohtml(label), labelloc="t", labeljust="l")
    return dot


def edge_id(src: str, dst: str, slot: int | None = None) -> str:
    """The id of the edge from box `src` to box `dst` (an op's input `slot`, when the edge is
    one input's own) in the DOT source and the SVG: ``n1-n2op-0``."""
    return f"{src}-{dst}" if slot is None else f"{src}-{dst}-{slot}"


def _as_list(x: Any) -> list:
    if isinstance(x, (list, tuple, set, frozenset)):
        return list(x)
    return [x]


def _partials_of(node: Any) -> tuple | None:
    try:
        partials = node._local_partials()
    except Exception:  # a drawing must not fail because one op cannot state its partials
        return None
    return partials if len(partials) == len(node._prev) else None


# --------------------------------------------------------------------------------------------
# Labels: any text, escaped for DOT
# --------------------------------------------------------------------------------------------


def printable(text: str) -> str:
    r"""`text` with what cannot be shown made visible: line breaks become newlines, tabs and
    other spaces a space, other control and invisible characters (and unpaired surrogates)
    their escapes.

    >>> printable("a\tb\r\nc\x00")
    'a b\nc\\x00'
    """
    if text.isprintable():  # the common case
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for ch in text:
        if ch.isprintable() or ch == "\n":
            out.append(ch)
        elif ch == "\t" or unicodedata.category(ch) == "Zs":  # tabs, no-break spaces
            out.append(" ")
        else:
            out.append(ascii(ch)[1:-1])  # \x00, \u2028, \udc80
    return "".join(out)


def dot_text(text: str, newline: str = "\\n") -> str:
    r"""`text` as a DOT label shows it literally: backslashes, quotes and '&' escaped, each
    line break as `newline` (DOT's ``\n`` centres a line, ``\l`` left-justifies it). Pass the
    result through ``graphviz.nohtml`` so that '<...>' is not read as an HTML label.

    >>> print(dot_text('say "hi" & \\ bye\nnext'))
    say \"hi\" &amp; \\ bye\nnext
    """
    text = printable(text).replace("\\", "\\\\").replace('"', '\\"')
    # Graphviz reads HTML entities in every label (&lt; shows '<'): escape '&' itself
    return text.replace("&", "&amp;").replace("\n", newline)


def record_text(text: str) -> str:
    """`text` as one field of a record label: also escapes the characters that structure
    records, ``{ } | < >``."""
    text = dot_text(text)
    for ch in "{}|<>":
        text = text.replace(ch, "\\" + ch)
    return text


def _value_label(node: Any, index: int, show_grad: bool, digits: int) -> str:
    fields = []
    if node.label:
        fields.append(node_name(node))
    if _is_tensor(node):
        data = node.data
        fields.append(f"{data.shape} {data.dtype}")
        fields.append(f"data {format_array(data, digits)}")
        if node.requires_grad:
            if node.grad is None:
                if show_grad and node._prev and not node._keep_grad:
                    fields.append("grad not kept (see retain_grad)")
                else:
                    fields.append("grad not computed")
            else:
                fields.append(f"grad {format_array(np.asarray(_data_of(node.grad)), digits)}")
    else:
        fields.append(f"data {format_number(node.data, digits)}")
        fields.append(f"grad {format_number(node.grad, digits)}" if show_grad
                      else "grad not computed")  # fmt: skip
    return "{ " + " | ".join(record_text(f) for f in fields) + " }"


def _op_label(node: Any, digits: int) -> str:
    """The op's name; a constant exponent or slope is part of the op, so it is shown too."""
    op, ctx = str(node._op) or "?", getattr(node, "_ctx", None)
    if op == "**" and isinstance(ctx, (int, float)):
        return f"** {format_number(ctx, digits)}"
    if op == "leaky_relu" and isinstance(ctx, (int, float)):
        return f"leaky_relu({format_number(ctx, digits)})"
    return op


def _edge_label(node: Any, slot: int, partials: tuple | None, digits: int) -> str:
    """The label of the edge from input `slot` into `node`'s op: d node / d input. Scalars:
    the number. Tensors: the op's formula with the operands' names (and its values when
    they are few), or, for an op without a formula, the values or the shapes."""
    partial = partials[slot] if partials is not None else None
    if not _is_tensor(node):
        return format_number(partial, digits) if partials is not None else ""
    formula = edge_formula(node, slot)
    if formula is None:
        return format_number(partial, digits) if partial is not None else ""
    if isinstance(partial, np.ndarray) and partial.size <= 6 and not _is_constant(formula):
        return f"{formula} = {format_array(partial, digits)}"
    return formula


def _is_constant(formula: str) -> bool:
    try:
        float(formula)
    except ValueError:
        return False
    return True


_FORMULA_TABLES: dict = {}  # module name -> its EDGE_FORMULAS (or None)


def edge_formula(node: Any, slot: int) -> str | None:
    """d node / d input `slot` of a tensor op as a short formula, or None if the op has none.

    Each tensor_ops module keeps an ``EDGE_FORMULAS`` table next to its rules: op -> {input
    letter: formula}; the formula is found through the module of the op's backward rule, so
    a new op adds its formula where it adds its rule. A custom `Function` may carry its own
    table for its inputs as ``edge_formulas = {"x": "1/(1 + |x|)^2"}``. Letters are replaced
    by the operands' labels where they have short ones.

    >>> from autodiff import Tensor
    >>> x = Tensor([[1.0, 2.0]], label="x")
    >>> W = Tensor([[1.0], [2.0]], requires_grad=True, label="W")
    >>> y = x @ W
    >>> edge_formula(y, 0), edge_formula(y, 1)
    ('W.T', 'x.T')
    """
    op, ctx = node._op, node._ctx
    entry = None
    owner = ctx[0] if isinstance(ctx, tuple) and len(ctx) == 2 else None
    if isinstance(owner, type) and getattr(owner, "name", None) == op:  # a custom Function
        entry = getattr(owner, "edge_formulas", None)
        ctx = None
    else:
        from autodiff.tensor import VJP_RULES  # here: tensor ops import drawing's neighbours

        rules = VJP_RULES.get(op)
        rule = rules[0] if isinstance(rules, tuple) and rules else rules
        module = getattr(rule, "__module__", None)
        if module not in _FORMULA_TABLES:
            _FORMULA_TABLES[module] = getattr(sys.modules.get(module), "EDGE_FORMULAS", None)
        table = _FORMULA_TABLES[module]
        entry = table.get(op) if isinstance(table, dict) else None
    if not isinstance(entry, dict) or not entry:
        return None
    letters = list(entry)
    if letters == ["*"]:  # every input alike (concatenate, stack)
        letter, formula = "x", entry["*"]
    elif slot < len(letters):
        letter, formula = letters[slot], entry[letters[slot]]
    else:
        return None
    names = {name: _operand_name(p, name) for name, p in zip(letters, node._prev)}
    names.setdefault("x", _operand_name(node._prev[slot], letter) if letters == ["*"] else "x")
    parent, out = node._prev[slot], node.data
    names["n"] = str(max(parent.data.size // max(out.size, 1), 1))
    try:
        if callable(formula):
            return str(formula(names, ctx))
        return str(formula).format(c=_constant_text(ctx), **names)
    except Exception:  # a formula that cannot be written for this node: the shapes instead
        return None


def _operand_name(node: Any, letter: str) -> str:
    """What a formula calls an operand: its label if short (in parentheses unless a plain
    name), else the letter the formula is written with."""
    label = node.label
    if not label:
        return letter
    text = printable(str(label))
    if len(text) > 12:
        return letter
    return text if re.fullmatch(r"[\w.]+", text) else f"({text})"


def _constant_text(ctx: Any) -> str:
    return format_number(ctx) if isinstance(ctx, (int, float)) else str(ctx)


def _data_of(grad: Any) -> Any:
    return grad.data if hasattr(grad, "_prev") else grad


def _group_label(name: str, members: list) -> str:
    ops = Counter(m._op for m in members if m._prev)
    leaves = sum(1 for m in members if not m._prev)
    parts = [f"{n:,} {op}" for op, n in ops.most_common(4)]
    if len(ops) > 4:
        parts.append("...")
    if leaves:
        parts.append(f"{leaves} leaves")
    # three short lines, so that a group's box stays narrow
    return f"{dot_text(str(name))}\\n{len(members):,} values\\n{dot_text(', '.join(parts))}"
