"""autodiff.compile on the tensor ops: every op of the catalogue (tests/ops_catalogue.py), einsum,
the losses with every reduction, linear's (out, in) weight, softmax and friends. Each is
compiled on one input and evaluated on others, and must give exactly what value_and_grad gives
there: the same bits, NaN and infinities and the sign of zero included, in float64 and float32;
on both sides of every kink; with sort orders and running maxima recomputed, not frozen. The
ops whose rules branch on data refuse with an error naming them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from ops_catalogue import CATALOGUE, EINSUM, Op
from test_compile import assert_same, reference, ruff_check, run_without_autodiff, same_bits

import autodiff
from autodiff import Tensor, compile
from autodiff.compiler.expr import ConstantArrays, Expr, SymbolicBranchError, collecting, render
from autodiff.testing import arrays

# ops whose backward rule branches on data (a form for negative gradients only where there are
# some): compiling them is refused, naming the op
NOT_COMPILED = {"logcumsumexp"}
FEW = settings(max_examples=max(4, settings().max_examples // 8))
IDS = [op.name for op in CATALOGUE]
WEIGHTS = np.array([0.5, -2.0, 1.5, 3.0, -0.25])


def scalar(fn: Callable) -> Callable:
    """`fn`'s output reduced to a scalar with an upstream gradient that is not all ones."""

    def f(*ts: Tensor) -> Tensor:
        out = fn(*ts)
        weights = WEIGHTS[np.arange(out.size) % len(WEIGHTS)].reshape(out.shape)
        return (out * out).sum() + (out * weights).sum()

    return f


def ops_of(f: Callable, *xs: np.ndarray) -> set:
    """The ops of f's graph at xs."""
    out = f(*(Tensor(x, requires_grad=True) for x in xs))
    return {node._op for node in autodiff.topological_order(out)}


def check(f: Callable, traced: list, *elsewhere: list) -> Any:
    """Compile f on `traced` and compare it with value_and_grad there and at each of
    `elsewhere` (where define-by-run refuses an input, the compiled function must too)."""
    compiled = compile(f, *traced)
    for xs in (traced, *elsewhere):
        expected = reference(f, *xs)
        if expected is None:
            continue
        assert_same(compiled(*xs), expected)
    return compiled


# --------------------------------------------------------------------------------------------
# Every op of the catalogue
# --------------------------------------------------------------------------------------------


def _same_shaped(op: Op, xs: list, data: st.DataObject) -> list:
    """Other inputs of the shapes of `xs`, from the op's domains."""
    others = [data.draw(domain(np.shape(x))) for domain, x in zip(op.domains, xs)]
    assume(op.valid is None or op.valid(*others))
    return others


@pytest.mark.parametrize("op", CATALOGUE, ids=IDS)
@FEW
@given(data=st.data())
def test_every_op_compiles_to_the_engines_numbers(op: Op, data: st.DataObject) -> None:
    xs = data.draw(op.inputs())
    f = scalar(op.fn)
    refused = ops_of(f, *xs) & NOT_COMPILED
    if refused:
        with pytest.raises(NotImplementedError, match=f"op '{sorted(refused)[0]}'.*branch"):
            compile(f, *xs)
        return
    check(f, xs, _same_shaped(op, xs, data), _same_shaped(op, xs, data))


COMPILED = [op for op in CATALOGUE if op.name.split()[0] not in NOT_COMPILED]


@pytest.mark.parametrize("op", COMPILED, ids=[op.name for op in COMPILED])
@settings(max_examples=2)
@given(data=st.data())
def test_every_op_compiles_in_float32(op: Op, data: st.DataObject) -> None:
    xs = [x.astype(np.float32) for x in data.draw(op.inputs())]
    f = scalar(op.fn)
    compiled = check(f, xs, [x.astype(np.float32) for x in _same_shaped(op, xs, data)])
    value, grads = compiled(*xs)
    assert all(g.dtype == np.float32 for g in grads)


SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300, -1e-300, 2.5, -3.0, 6.0])


# numpy warns where these special values overflow or are invalid; the engine and the compiled
# code both give inf and nan there, as PyTorch does, which is what this test checks
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("op", [op for op in CATALOGUE if op.nan_elementwise], ids=lambda o: o.name)
def test_nan_inf_and_signed_zeros_give_the_engines_numbers(op: Op) -> None:
    f = scalar(op.fn)
    traced = np.linspace(0.1, 0.9, SPECIAL.size)
    check(f, [traced], [SPECIAL], [-SPECIAL], [SPECIAL[::-1].copy()])


@pytest.mark.parametrize("equation, shapes", EINSUM, ids=[e for e, _ in EINSUM])
@settings(max_examples=3)
@given(data=st.data())
def test_einsum_compiles(equation: str, shapes: list, data: st.DataObject) -> None:
    f = scalar(lambda *ts: autodiff.einsum(equation, *ts))
    check(f, [data.draw(arrays(s)) for s in shapes], [data.draw(arrays(s)) for s in shapes])


def test_a_large_einsum_takes_the_optimised_path_as_the_op_does() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((70, 70)), rng.standard_normal((70, 3))
    compiled = check(scalar(lambda x, y: autodiff.einsum("ij,jk->ik", x, y)), [a, b], [a / 2, b])
    assert "optimize=True" in compiled.source


# --------------------------------------------------------------------------------------------
# The losses, every reduction; linear; softmax, log_softmax, logsumexp
# --------------------------------------------------------------------------------------------

LABELS = np.array([0, 3, 1, 3, 2])
WEIGHT = np.array([1.0, 0.5, 2.0, 3.0])
GRID = np.array([[0, 1], [1, 1], [0, 0], [1, 0], [0, 1]])  # 5 samples, 2 positions, 2 classes
LOSSES: dict[str, Callable] = {
    "mse_loss": lambda r: lambda x, t: autodiff.mse_loss(x, t, reduction=r),
    "l1_loss": lambda r: lambda x, t: autodiff.l1_loss(x, t, reduction=r),
    "bce with logits": lambda r: (
        lambda x, t: autodiff.binary_cross_entropy_with_logits(x, t.sigmoid(), reduction=r)
    ),
    "bce with logits, weight and pos_weight": lambda r: (
        lambda x, t: autodiff.binary_cross_entropy_with_logits(
            x, t.sigmoid(), weight=WEIGHT, pos_weight=WEIGHT[::-1].copy(), reduction=r
        )
    ),
    "bce": lambda r: (
        lambda x, t: autodiff.binary_cross_entropy(x.sigmoid(), t.sigmoid(), reduction=r)
    ),
    "bce, weight": lambda r: (
        lambda x, t: autodiff.binary_cross_entropy(
            x.sigmoid(), t.sigmoid(), weight=WEIGHT, reduction=r
        )
    ),
    "cross_entropy, indices": lambda r: (
        lambda x, t: autodiff.cross_entropy(x * t, LABELS, reduction=r)
    ),
    "cross_entropy, weight and ignore_index": lambda r: (
        lambda x, t: autodiff.cross_entropy(
            x * t, LABELS, weight=WEIGHT, ignore_index=3, reduction=r
        )
    ),
    "cross_entropy, label_smoothing": lambda r: (
        lambda x, t: autodiff.cross_entropy(
            x, LABELS, weight=WEIGHT, label_smoothing=0.2, reduction=r
        )
    ),
    "cross_entropy, probabilities": lambda r: (
        lambda x, t: autodiff.cross_entropy(x, t.softmax(axis=1), reduction=r)
    ),
    "cross_entropy, unnormalised probabilities and smoothing": lambda r: (
        lambda x, t: autodiff.cross_entropy(
            x, t.abs(), weight=WEIGHT, label_smoothing=0.1, reduction=r
        )
    ),
    "cross_entropy, (n, classes, d1)": lambda r: (
        lambda x, t: autodiff.cross_entropy(
            (x * t).reshape(5, 2, 2).transpose((0, 2, 1)), GRID, reduction=r
        )
    ),
    "cross_entropy, one sample": lambda r: (
        lambda x, t: autodiff.cross_entropy(x[1] * t[2], np.array(2), reduction=r)
    ),
    "nll_loss": lambda r: (
        lambda x, t: autodiff.nll_loss(autodiff.log_softmax(x * t, axis=1), LABELS, reduction=r)
    ),
    "nll_loss, weight and ignore_index": lambda r: (
        lambda x, t: autodiff.nll_loss(x - t, LABELS, weight=WEIGHT, ignore_index=0, reduction=r)
    ),
}


@pytest.mark.filterwarnings("ignore::autodiff.compiler.CompileWarning")  # a constant target
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(LOSSES))
@settings(max_examples=3)
@given(data=st.data())
def test_losses_compile_with_every_reduction(name: str, reduction: str, data: Any) -> None:
    f = scalar(LOSSES[name](reduction))
    draw = [data.draw(arrays((5, 4))) for _ in range(4)]
    check(f, draw[:2], draw[2:], [np.zeros((5, 4)), draw[3]])


def test_cross_entropy_reads_the_logits_exponentials_from_the_forward_pass() -> None:
    rng = np.random.default_rng(0)
    f = lambda z: autodiff.cross_entropy(z, LABELS)  # noqa: E731
    compiled = check(f, [rng.standard_normal((5, 4))], [rng.standard_normal((5, 4)) * 50])
    body = compiled.source.split("def f")[1]
    # the rule's exp / total, then 1 subtracted at the labels (written out from p[...] -= 1)
    assert "v1_exp = np.exp(v1_shifted)" in body and "v1_exp / v1_total" in body
    assert "setitem(" in body
    huge = np.array([[1000.0, 0.0, -1000.0, 3.0]] * 5)
    assert_same(compiled(huge), reference(f, huge))  # exact for large logits too


@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear_takes_its_weight_as_out_by_in(shape: tuple, bias: bool, dtype: type) -> None:
    rng = np.random.default_rng(len(shape))
    args = [rng.standard_normal(shape), rng.standard_normal((5, 4))]  # weight (out, in)
    args += [rng.standard_normal(5)] if bias else []
    args = [a.astype(dtype) for a in args]
    f = scalar(lambda *ts: autodiff.linear(*ts).tanh())
    compiled = check(f, args, [a * 3 for a in args])
    assert "np.dot(x, w.T)" in compiled.source.replace("args_0", "x").replace("args_1", "w") or (
        ".T)" in compiled.source
    )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # rows of -inf give nan, deliberately
@pytest.mark.parametrize(
    "fn",
    [
        lambda x: autodiff.softmax(x, axis=0),
        lambda x: autodiff.log_softmax(x, axis=-1),
        lambda x: x.logsumexp(axis=1, keepdims=True),
        lambda x: x.logsumexp(),
        lambda x: autodiff.softmin(x, dim=1),
    ],
    ids=["softmax", "log_softmax", "logsumexp kept", "logsumexp", "softmin"],
)
def test_the_softmax_family_is_exact_for_huge_and_masked_logits(fn: Callable) -> None:
    rng = np.random.default_rng(3)
    f = scalar(fn)
    huge = np.array([[1e17, 1e17 + 64, -1e17], [3000.0, 0.0, -np.inf], [-np.inf] * 3])
    check(f, [rng.standard_normal((3, 3))], [huge], [rng.standard_normal((3, 3)) * 100])


# --------------------------------------------------------------------------------------------
# Kinks from both sides, recomputed orders, what cannot be compiled
# --------------------------------------------------------------------------------------------

KINKS: dict[str, tuple[Callable, list]] = {
    "hardtanh": (lambda x: autodiff.hardtanh(x, -0.5, 1.5), [-0.5, 1.5]),
    "relu6": (autodiff.relu6, [0.0, 6.0]),
    "hardsigmoid": (autodiff.hardsigmoid, [-3.0, 3.0]),
    "hardswish": (autodiff.hardswish, [-3.0, 3.0]),
    "elu": (lambda x: autodiff.elu(x, 0.5), [0.0]),
    "selu": (autodiff.selu, [0.0]),
    "celu": (lambda x: autodiff.celu(x, 2.0), [0.0]),
    "softplus threshold": (lambda x: x.softplus(beta=2.0, threshold=3.0), [1.5]),
    "clamp": (lambda x: x.clamp(min=-1.0, max=1.0), [-1.0, 1.0]),
    "sign": (lambda x: x.sign() * x, [0.0]),
    "floor": (lambda x: x.floor() * x, [0.0, 1.0, -1.0]),
    "round": (lambda x: x.round(decimals=1) * x, [0.25, -0.05]),
    "%": (lambda x: x % 0.5, [0.5, -1.0, 0.0]),
    "fmod": (lambda x: autodiff.fmod(x, 0.5), [0.5, -1.0, 0.0]),
    "atan2 at the origin": (lambda x: autodiff.atan2(x, x * x), [0.0]),
    "l1_loss at equality": (
        lambda x: autodiff.l1_loss(x, Tensor(np.ones(x.shape)), reduction="none"),
        [1.0],
    ),
    "max ties": (lambda x: x.reshape(2, 4).max(axis=1), [2.0]),
    "std of equal elements": (lambda x: (x * 0 + 1.5).std(correction=0) + x, [0.0]),
}


@pytest.mark.parametrize("name", sorted(KINKS))
def test_kinks_are_right_on_both_sides(name: str) -> None:
    fn, kinks = KINKS[name]
    f = scalar(fn)
    rng = np.random.default_rng(1)
    traced = np.abs(rng.standard_normal(8)) + 7.0  # every element off the kinks, on one side
    at = np.resize(np.array(kinks), 8)
    eps = 1e-9 * np.maximum(1.0, np.abs(at))
    check(f, [traced], [at], [at + eps], [at - eps], [-traced], [rng.standard_normal(8) * 4])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0 ** negative gives inf, deliberately
def test_rules_with_a_fast_path_compile_to_their_general_form() -> None:
    # pow and cumprod take a shortcut where no element needs their special case (an exponent
    # of 0, a base of 0, a zero in the product); the compiled code takes the general form,
    # which gives the same numbers there, and the special ones where they are needed
    def power(a: Tensor, b: Tensor) -> Tensor:
        return (a**b * np.array([1.0, 2.0, -1.0, 0.5])).sum()

    base, exponent = np.array([0.5, 2.0, 3.0, 1.5]), np.array([1.5, -0.5, 2.0, 3.0])
    zeros = [np.array([0.0, 2.0, np.nan, 0.0]), np.array([0.0, 0.0, 0.0, -1.0])]
    check(power, [base, exponent], zeros, [base, zeros[1]], [zeros[0], exponent])

    def products(x: Tensor) -> Tensor:
        return (x.cumprod(1) * np.arange(1.0, 7.0).reshape(2, 3)).sum()

    no_zeros = np.array([[2.0, 3.0, 0.5], [1.5, -2.0, 4.0]])
    one, two = no_zeros.copy(), no_zeros.copy()
    one[0, 1] = 0.0
    two[1, :2] = 0.0
    check(products, [no_zeros], [one], [two], [np.zeros((2, 3))])
    check(products, [two], [no_zeros], [one])


def test_sort_orders_are_computed_again_not_frozen() -> None:
    def f(x: Tensor) -> Tensor:
        values, _ = x.sort(dim=1, descending=True)
        top, _ = x.topk(2, dim=0)
        running, _ = x.cummax(1)
        low, _ = x.cummin(0)
        order = x[np.arange(2)[:, None], x.argsort(dim=1)]  # an argsort used as an index
        weights = np.arange(1.0, 7.0).reshape(2, 3)
        return ((values + running + low + order) * weights).sum() + (top * top).sum()

    ascending = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    ties = np.array([[2.0, 2.0, 1.0], [np.nan, 0.0, 0.0]])  # stable order; NaN sorts largest
    compiled = check(f, [ascending], [ascending[::-1, ::-1].copy()], [ties])
    assert "argsort(x, 1, True)" in compiled.source
    assert "running_arg_extreme(x, 1, True)" in compiled.source


def test_ops_whose_rules_branch_on_data_are_refused_by_name() -> None:
    with pytest.raises(NotImplementedError, match=r"op 'logcumsumexp'.*branch"):
        compile(lambda x: x.logcumsumexp(0).sum(), np.ones(3))
    # an op whose forward is fine but has no rule for its input is not compiled either
    with pytest.raises(TypeError, match="dtype int64"):
        compile(lambda x: x.sum(), np.arange(3))


def test_a_constant_keeps_its_memory_layout(tmp_path: Path) -> None:
    # x * W.T lays its result out as W.T is laid out, and a sum over it adds in that order:
    # the constant is written transposed back, so the sums (and their roundings) are the same
    rng = np.random.default_rng(2)
    small, large = rng.standard_normal((3, 4)), rng.standard_normal((40, 30))

    def f(x: Tensor, y: Tensor) -> Tensor:
        return (x * small.T).sum() + ((y * large.T) ** 2).sum()

    x, y = rng.standard_normal((4, 3)), rng.standard_normal((30, 40))
    compiled = check(f, [x, y], [x * 1e3, y * 1e-3])
    assert ".transpose((1, 0))" in compiled.source
    path = compiled.save(tmp_path / "layout.py")
    got = run_without_autodiff(path, "f", f"(np.array({x.tolist()!r}), np.array({y.tolist()!r}))")
    value, grads = eval(got)  # noqa: S307 - lists of floats we printed
    expected_value, expected = compiled(x, y)
    assert value == expected_value and all(np.array_equal(g, e) for g, e in zip(grads, expected))


def test_saved_modules_with_the_new_helpers_run_without_autodiff(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((30, 20))  # 600 elements: erf's rational approximations, not math.erf

    def f(x: Tensor) -> Tensor:
        h = autodiff.gelu(x).erf() + autodiff.hardswish(x) + x.sort(dim=1).values
        loss = autodiff.cross_entropy(h, np.arange(30) % 20, label_smoothing=0.1)
        return loss + autodiff.log_softmax(x, axis=0).sum() + x.cummax(0).values.mean()

    compiled = check(f, [x], [rng.standard_normal((30, 20)) * 3])
    path = compiled.save(tmp_path / "helpers.py")
    ruff_check(path)
    assert max(len(line) for line in compiled.source.splitlines()) < 100
    x2 = rng.standard_normal((30, 20))
    value, (grad,) = eval(run_without_autodiff(path, "f", f"(np.array({x2.tolist()!r}),)"))  # noqa: S307
    expected_value, (expected,) = compiled(x2)
    assert value == expected_value and np.array_equal(grad, expected)


# --------------------------------------------------------------------------------------------
# Expr: the numpy protocol the rules need
# --------------------------------------------------------------------------------------------


def test_expressions_answer_numpy_reductions_methods_and_item_assignment() -> None:
    x = Expr.name("x", np.array([[1.0, -2.0], [3.0, 0.5]]))
    top = np.maximum.reduce(x, axis=1, keepdims=True, initial=-np.inf)
    assert render(top) == "np.maximum.reduce(x, axis=1, keepdims=True, initial=-np.inf)"
    assert same_bits(top.value, [[1.0], [3.0]])
    running = np.logaddexp.accumulate(x, axis=0)
    assert render(running) == "np.logaddexp.accumulate(x, axis=0)"
    assert render(x.cumsum(axis=0)) == "x.cumsum(axis=0)"
    with pytest.raises(SymbolicBranchError, match=r"\(x > 0\).any\(\)"):
        bool((x > 0).any())
    p = x * 2.0
    with collecting(ConstantArrays()):  # the index arrays become named constants
        p[np.array([0, 1]), np.array([1, 0])] -= 1
    assert same_bits(p.value, [[2.0, -5.0], [5.0, 1.0]])
    assert render(p) == "setitem(x * 2.0, (c0, c1), (x * 2.0)[c0, c1] - 1)"
    with pytest.raises(TypeError, match="writes into x in place"):
        x[0] = 1.0
    with pytest.raises(AttributeError):
        x._private  # noqa: B018
