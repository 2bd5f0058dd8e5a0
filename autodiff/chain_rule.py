"""The chain-rule trace: every step of a backward pass, in the order backward takes them.

Walking the graph from the output back to the inputs, each edge (an op's output -> one of its
inputs) is one step: the gradient that reached the output (upstream, d root / d output) times
the edge's local partial (d output / d input) is what this path adds to the input's gradient;
the accumulated column is the input's gradient so far. When an input's last step is listed,
its accumulated gradient is what ``backward()`` stores in ``.grad``.

>>> from autodiff import Value, trace
>>> x = Value(3.0, label="x")
>>> y = 5 * x**2 + 30
>>> steps = trace(y)
>>> [(s.name, s.upstream, s.local, s.product) for s in steps if s.name == "x"]
[('x', 5.0, 6.0, 30.0)]
>>> steps.gradients[x]
30.0
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from autodiff.drawing import _op_label, format_number, node_name, printable
from autodiff.graph import topological_order


@dataclass(frozen=True)
class TraceStep:
    """One edge of the backward pass: ``product = upstream * local`` flows from `output` into
    `node`, whose gradient so far becomes `accumulated`."""

    step: int  # 1, 2, ... in backward order
    node: Any  # the input receiving gradient
    name: str  # its name (label, value, or '#index op')
    output: Any  # the op's result the gradient comes from
    output_name: str
    op: str  # the op, e.g. '*' or '** 2'
    slot: int  # which input of `output` (x * x has slots 0 and 1, both x)
    upstream: Any  # d root / d output
    local: Any  # d output / d node (tensors: an array, or a note on the shapes)
    product: Any  # upstream * local: this path's share of d root / d node
    accumulated: Any  # d root / d node summed over the paths seen so far

    def as_dict(self) -> dict:
        """The step as a plain dict (nodes left out; names kept)."""
        return {
            "step": self.step,
            "node": self.name,
            "output": self.output_name,
            "op": self.op,
            "slot": self.slot,
            "upstream": self.upstream,
            "local": self.local,
            "product": self.product,
            "accumulated": self.accumulated,
        }


class ChainRuleTrace:
    """The steps of a backward pass from `root` (see `trace`): iterate, index, or print.

    At the REPL it shows its table (the first `REPR_ROWS` steps; ``print`` shows them all), in
    Jupyter an HTML table.
    """

    REPR_ROWS = 60

    def __init__(self, root: Any, seed: Any, steps: list[TraceStep], gradients: dict) -> None:
        self.root = root
        self.seed = seed
        self.steps = steps
        self.gradients = gradients  # node -> d root / d node, as backward() computes it

    def __iter__(self) -> Iterator[TraceStep]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> TraceStep:
        return self.steps[i]

    def as_dicts(self) -> list[dict]:
        """Every step as a dict, for programs (json, pandas...)."""
        return [s.as_dict() for s in self.steps]

    HEADER = ("step", "node", "<- from (op)", "upstream", "x local", "= product", "accum.")

    def _cells(self, rows: list[TraceStep], digits: int) -> list[tuple[str, ...]]:
        return [
            (
                str(s.step),
                s.name,
                f"{s.output_name} ({s.op})",
                format_number(s.upstream, digits),
                format_number(s.local, digits),
                format_number(s.product, digits),
                format_number(s.accumulated, digits),
            )
            for s in rows
        ]

    def _title(self, digits: int) -> str:
        root, seed = _one_line(node_name(self.root)), format_number(self.seed, digits)
        return (
            f"backward from {root} (gradient {seed}): upstream x local = product, summed into "
            "accum."
        )

    def table(self, steps: list[TraceStep] | None = None, digits: int = 4) -> str:
        """The steps (default all) as an aligned text table, headed by the seed."""
        rows = self.steps if steps is None else steps
        header = self.HEADER
        body = self._cells(rows, digits)
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        right = {0, 3, 4, 5, 6}

        def line(r: tuple) -> str:
            cells = (
                c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))
            )
            return "  ".join(cells).rstrip()

        return "\n".join([self._title(digits), line(header), *(line(r) for r in body)])

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        """The table, as at the REPL; a long trace shows its first steps and how many more."""
        if len(self.steps) <= self.REPR_ROWS:
            return self.table()
        more = len(self.steps) - self.REPR_ROWS
        return (
            self.table(self.steps[: self.REPR_ROWS])
            + f"\n... {more:,} more steps ({len(self.steps):,} in all; print(...) shows them all)"
        )

    def _repr_html_(self) -> str:
        """An HTML table for Jupyter (every text escaped), long traces cut as in the repr."""
        rows = self.steps[: self.REPR_ROWS * 5]
        right = ' style="text-align:right"'
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.HEADER)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td{right if i in (0, 3, 4, 5, 6) else ''}>{html.escape(c)}</td>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
            for cells in self._cells(rows, 4)
        )
        more = len(self.steps) - len(rows)
        foot = f"<p>... {more:,} more steps</p>" if more else ""
        title = html.escape(self._title(4))
        return f"<p>{title}</p><table><tr>{head}</tr>{body}</table>{foot}"


def trace(root: Any, seed: Any = None) -> ChainRuleTrace:
    """List the chain-rule steps of ``root.backward()``, without changing any ``.grad``.

    Nodes are visited in reverse topological order (as backward does), so each op's upstream
    gradient is complete before it is passed on; each edge gives one `TraceStep`. The final
    gradients (``.gradients``) equal what ``backward()`` computes. `seed` is d root / d root
    (default 1; tensors with more than one element need it, shaped like `root`).

    >>> from autodiff import Value
    >>> x = Value(3.0, label="x")
    >>> y = x * x
    >>> y.label = "y"
    >>> print(trace(y))
    backward from y (gradient 1): upstream x local = product, summed into accum.
    step  node  <- from (op)  upstream  x local  = product  accum.
       1  x     y (*)                1        3          3       3
       2  x     y (*)                1        3          3       6
    """
    if not (hasattr(root, "_prev") and hasattr(root, "_local_partials")):
        raise TypeError(f"trace: expected a Value or Tensor, got {type(root).__name__}")
    tensor = isinstance(root.data, np.ndarray)
    follow = None
    if tensor:
        if not root.requires_grad:
            raise ValueError("trace: this tensor does not require grad, so nothing flows back")
        if seed is None:
            if root.data.size != 1:
                raise ValueError(
                    f"trace: the output has shape {root.shape}; pass seed (d output / d output, "
                    "shaped like it), as backward(grad) needs"
                )
            seed = np.ones(root.data.shape, dtype=root.data.dtype)
        else:
            seed = np.asarray(getattr(seed, "data", seed), dtype=root.data.dtype)
            if seed.shape != root.data.shape:
                raise ValueError(f"trace: seed has shape {seed.shape}, the output {root.shape}")
        follow = type(root)._follow
    elif seed is None:
        seed = 1.0

    order = topological_order(root, follow)
    index = {node: i for i, node in enumerate(order)}
    pending: dict = {root: seed}
    steps: list[TraceStep] = []
    for node in reversed(order):
        upstream = pending.get(node)
        if upstream is None or not node._prev:
            continue
        partials = node._local_partials()
        if tensor:
            try:
                products = node._vjp(upstream)
            except RuntimeError as error:  # saved values released by an earlier backward()
                if not _released(node):
                    raise  # e.g. .data changed since the forward pass: the message says so
                raise RuntimeError(
                    f"trace: {error}; call trace() before backward(), or backward(retain_graph="
                    "True)"
                ) from None
        else:
            products = [upstream * p for p in partials]  # the same multiply backward does
        output_name = _one_line(node_name(node, index[node]))
        op = _op_label(node, 4)
        for slot, (parent, local, product) in enumerate(zip(node._prev, partials, products)):
            if product is None:
                continue
            # the same sum, in the same order, as backpropagate: results match to the bit
            total = pending[parent] + product if parent in pending else product
            pending[parent] = total
            steps.append(
                TraceStep(
                    step=len(steps) + 1,
                    node=parent,
                    name=_one_line(node_name(parent, index[parent])),
                    output=node,
                    output_name=output_name,
                    op=op,
                    slot=slot,
                    upstream=upstream,
                    local=local,
                    product=product,
                    accumulated=total,
                )
            )
    return ChainRuleTrace(root, seed, steps, pending)


def _released(node: Any) -> bool:
    """Whether backward() freed this tensor node's saved values."""
    from autodiff.tensor import RELEASED  # (tensors import numpy; scalar traces need neither)

    return node._ctx is RELEASED


def _one_line(name: str) -> str:
    r"""A name for one cell of the table: a line break in a label shows as ``\n``, tabs and
    other invisible characters as `printable` shows them."""
    return printable(name).replace("\n", "\\n")
