"""How a graph node is named as a Python variable, in step with the drawing and the trace.

`draw` and `trace` name a node by its label; `trace` names an unlabelled one by its value (a
leaf) or as ``#<n> <op>`` (`autodiff.drawing.node_name`), where ``<n>`` is its position in the
`topological_order` backward walks. Code written by `autodiff.compile` uses the same label, made
an identifier (``layers.0.w.1`` becomes ``layers_0_w_1``), and calls the node ``#<n>`` ``v<n>``;
the gradient that reaches a node ``name`` is ``g_<name>``. So the line ``v7 = v3 + v6  # +`` is
the node the trace calls ``#7 +``, and ``g_v7`` is the upstream gradient it lists for it.

>>> from autodiff import Value
>>> identifier(Value(1.0, label="layers.0.w.1"), 4)
'layers_0_w_1'
>>> identifier(Value(1.0) * 2, 5)
'v5'
"""

from __future__ import annotations

import keyword
import re
from typing import Any

MAX_LENGTH = 40  # longer labels are cut, so generated lines stay readable


def identifier(node: Any, index: int) -> str:
    """`node`'s variable name: its label as an identifier, else ``v<index>``."""
    label = getattr(node, "label", None)
    if label:
        name = as_identifier(str(label))
        if name:
            return name
    return f"v{index}"


def as_identifier(text: str) -> str:
    """`text` as a valid, readable Python name ('' if nothing of it is usable): characters
    that cannot appear in a name become '_', a leading digit gets a '_' before it, keywords
    and the ambiguous single letters l, O, I get one after."""
    name = re.sub(r"\W+", "_", text, flags=re.ASCII).strip("_")
    if not name:
        return ""
    if name[0].isdigit():
        name = "_" + name
    name = name[:MAX_LENGTH].rstrip("_") or name[:MAX_LENGTH]
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in ("l", "O", "I"):
        name += "_"
    return name
