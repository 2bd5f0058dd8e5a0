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

`draw` returns a `GraphDrawing` (a ``graphviz.Digraph``): Jupyter shows it inline as SVG, and
``.save("graph.svg")`` writes svg/png/pdf with Graphviz's ``dot`` program (or the DOT source,
with a warning saying how to install Graphviz, when ``dot`` is missing).
"""

from __future__ import annotations

import contextlib
import os
import secrets
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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
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

    Adds `save` (atomic, format from the suffix, a clear warning without Graphviz) and shows
    as inline SVG in Jupyter, or as its DOT source with a note when ``dot`` is missing.
    ``note`` says what was collapsed (empty if nothing); ``shown``/``total`` count values.
    """

    note: str = ""
    shown: int = 0
    total: int = 0

    def save(self, path: str | os.PathLike) -> Path:
        """Write the drawing to `path`; the suffix picks the format (.svg, .png, .pdf, .gv...).

        Returns the path written. Without Graphviz's ``dot`` program, writes the DOT source
        next to it as ``<name>.gv`` instead, warns (`GraphvizNotFoundWarning`) with how to
        install Graphviz, and returns the ``.gv`` path.

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
            data = self.pipe(format=fmt)
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
        except graphviz.CalledProcessError as error:
            stderr = (error.stderr or b"").decode("utf-8", "replace").strip().splitlines()
            detail = stderr[-1] if stderr else f"exit status {error.returncode}"
            raise RuntimeError(f"save: Graphviz's dot could not draw {path}: {detail}") from None
        _write_atomic(path, data)
        return path

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict:
        try:
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        except graphviz.ExecutableNotFound:  # Jupyter without Graphviz: the source, not a trace
            return {"text/plain": f"(Graphviz's dot was not found: {INSTALL_HINT})\n{self.source}"}


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
    wants_grad = node.requires_grad if _is_tensor(node) else bool(node.label)
    if not wants_grad:
        return "constant"
    # nn names its parameters by where they live ("layers.0.neurons.3.w.1")
    return "parameter" if node.label and "." in str(node.label) else "input"


def _group_key(group: Any) -> Callable[[Any], str | None] | None:
    """`group` as a function node -> group name (or None: not grouped by its own label)."""
    if group is None:
        return None
    if isinstance(group, str):
        if group not in GROUP_LEVELS:
            raise ValueError(f"draw: group must be one of {sorted(GROUP_LEVELS)}, got {group!r}")
        group = GROUP_LEVELS[group]
    if isinstance(group, bool) or not (isinstance(group, int) or callable(group)):
        raise TypeError(
            f"draw: group must be 'neuron', 'layer', an int or a callable, got {group!r}"
        )
    if callable(group):
        return group
    if group < 1:
        raise ValueError(f"draw: group depth must be >= 1, got {group}")

    def by_prefix(node: Any) -> str | None:
        parts = str(node.label).split(".") if node.label else ()
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
    group: int | str | Callable[[Any], str | None] | None = None,
    max_nodes: int | None = 150,
    show_grad: bool | None = None,
    digits: int = 4,
    legend: bool = True,
    rankdir: str = "LR",
) -> GraphDrawing:
    """Draw the graph that computed `root` (a `Value` or `Tensor`), left to right.

    - every value is a box: name, data and grad (tensors: shape, dtype, small values or a
      summary); each op is an ellipse; each edge into an op is labelled with the local partial
      derivative d op / d input (scalars: the number; tensors: small arrays or the shapes).
      ``x * x`` shows two edges from x.
    - colours: inputs blue, parameters yellow (labels with dots, as `nn` names them, or those
      in `params`: an iterable or a module with ``parameters()``), constants grey, output green.
    - before ``backward()`` gradients read 'not computed' (`show_grad` None decides from the
      graph: a Value root's grad is 0.0 until a pass runs from it; False/True forces it).
    - `highlight`: a node (or several): every path from it to the output is drawn in red.
    - `group`: one box per group of nodes: 'neuron' or 'layer' (for `nn` names), an int (keep
      that many dotted parts of a label: 4 -> 'layers.0.neurons.3'), or a callable node ->
      group name or None. Unlabelled nodes join the group of their weights or inputs.
    - `max_nodes`: keep at most this many boxes, those nearest the output; the rest become one
      box. The note above the picture says what was collapsed. None draws everything.

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
    key = _group_key(group)
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
    groups = _assign_groups(order, root, key) if key is not None else {}

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

    ids: dict = {}  # unit -> box id
    for u, members in units.items():
        if u in hidden:
            continue
        if isinstance(u, str):
            box = f"g{len(ids)}"
            dot.node(box, _group_label(u, members), shape="box3d", style="filled",
                     fillcolor=COLORS["group"])  # fmt: skip
            ids[u] = box
            continue
        i = index[u]
        box = f"n{i}"
        ids[u] = box
        on_path = id(u) in path
        style = {"penwidth": "2.5", "color": HIGHLIGHT} if on_path else {}
        dot.node(box, _value_label(u, i, show_grad, digits), shape="record", style="filled",
                 fillcolor=COLORS[_role(u, root, param_ids)], **style)  # fmt: skip
        if u._prev:
            dot.node(f"{box}op", _op_label(u, digits), shape="ellipse", style="filled",
                     fillcolor=COLORS["op"], **style)  # fmt: skip
            dot.edge(f"{box}op", box, **style)
    dot.shown = sum(len(units[u]) for u in ids)

    hidden_box = None
    hidden_count = sum(len(units[u]) for u in hidden)
    if hidden:
        hidden_box = "hidden"
        dot.node(hidden_box, f"... {hidden_count:,} more values\\n(beyond max_nodes={max_nodes})",
                 shape="note", style="filled,dashed", fillcolor=COLORS["hidden"])  # fmt: skip

    # Edges. Between two drawn values: one edge per input slot, labelled with its partial.
    # Into or out of a group or the hidden box: one edge per pair of boxes, with a count.
    bundled: Counter = Counter()
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
                continue  # inside one group
            if isinstance(target, str) or isinstance(source, str) or source in hidden:
                src = hidden_box if source in hidden else ids[source]
                dst = ids[target] if isinstance(target, str) else f"{ids[target]}op"
                bundled[(src, dst)] += 1
                continue
            if partials is None:
                partials = _partials_of(node)
            label = format_number(partials[slot], digits) if partials is not None else ""
            style = {}
            if id(node) in path and id(parent) in path:
                style = {"penwidth": "2.5", "color": HIGHLIGHT, "fontcolor": HIGHLIGHT}
            dot.edge(ids[parent], f"{ids[node]}op", label=label, **style)
    for (src, dst), count in bundled.items():
        dashed = {"style": "dashed"} if src == hidden_box else {}
        dot.edge(src, dst, label=f"{count} edge{'s' if count != 1 else ''}", **dashed)

    notes = []
    if groups:
        grouped = len(groups)
        n_groups = sum(1 for u in units if isinstance(u, str))
        notes.append(f"{grouped:,} values collapsed into {n_groups} group boxes")
    if hidden:
        notes.append(
            f"{hidden_count:,} of {len(order):,} values beyond the node budget "
            f"(max_nodes={max_nodes}) collapsed into one box"
            + ("; group='layer' or 'neuron' draws them as boxes" if key is None else "")
        )
    if not show_grad:
        notes.append("gradients not computed yet: call backward()")
    if highlight is not None:
        names = ", ".join(node_name(n, index.get(n)) for n in _as_list(highlight))
        notes.append(f"red: every path from {names} to the output")
    dot.note = "; ".join(notes)
    lines = ([dot.note] if dot.note else []) + ([LEGEND] if legend else [])
    if lines:
        # "\l" ends a left-justified line
        dot.attr(label="".join(line + "\\l" for line in lines), labelloc="t", labeljust="l")
    return dot


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


def _escape(text: str) -> str:
    """Escape the characters that structure record labels: { } | < > and backslash."""
    for ch in "\\{}|<>":
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
    return "{ " + " | ".join(_escape(f) for f in fields) + " }"


def _op_label(node: Any, digits: int) -> str:
    """The op's name; a constant exponent or slope is part of the op, so it is shown too."""
    op, ctx = str(node._op) or "?", getattr(node, "_ctx", None)
    if op == "**" and isinstance(ctx, (int, float)):
        return f"** {format_number(ctx, digits)}"
    if op == "leaky_relu" and isinstance(ctx, (int, float)):
        return f"leaky_relu({format_number(ctx, digits)})"
    return op


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
    return f"{name}\\n{len(members):,} values: {', '.join(parts)}"
