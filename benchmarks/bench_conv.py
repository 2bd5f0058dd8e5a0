"""Convolutions vs PyTorch CPU, side by side: conv2d layers, and a CNN trained on the digits.

    python3 benchmarks/bench_conv.py                 # everything, 1 and 2 threads
    python3 benchmarks/bench_conv.py --quick         # fewer repeats and seeds
    python3 benchmarks/bench_conv.py --part layers   # or: stages, digits, norm

(a) ``layers``: one conv2d layer's forward and backward, float32: 64 single-channel 28x28
    images through 16 3x3 filters (the image needs no gradient, in either engine: both compute
    the gradients of the weight and the bias only), and the second layer, 16 -> 32 channels on
    the first one's 26x26 output (its input needs one: both compute all three). The same
    arrays (batch-first, as a user has them) and upstream gradient go to both engines, checked
    to agree first.
(a') ``stages``: where (a)'s time goes: each stage of ours alone (layout copies, columns,
    products, col2im adds) and each matrix product alone with its GFLOP/s, against PyTorch's
    forward and forward-and-backward; the least time of the repeats, each stage on its own
    (so warmer caches than in (a), where the stages follow each other).
(b) ``digits``: a CNN (Conv2d 1->32 3x3 pad 1, ReLU, MaxPool 2, Conv2d 32->64, ReLU, MaxPool 2,
    Linear 256->10) trained on the 8x8 digits with Adam (lr 1e-3), batch 32, 20 epochs, a
    stratified 75/25 split: the plain loop (forward, loss, zero_grad, backward, step) in each
    engine on the very same batches; wall time of the training loop and test accuracy, per
    seed (each engine initialises its own weights from the seed).
(c) ``norm``: batch_norm forward and backward, one fused node vs the same maths composed of
    elementwise ops and reductions (why batch_norm has its own rule).

Every engine is limited to the same number of threads (numpy's BLAS through threadpoolctl,
``torch.set_num_threads``). The machine is shared and noisy, so engines alternate within each
repeat (the order flips every repeat) and the report is the median of the per-repeat ratios
ours / PyTorch with their interquartile range, not an absolute time.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threadpoolctl import threadpool_limits  # noqa: E402

import autodiff as ad  # noqa: E402
from autodiff import Tensor  # noqa: E402

try:
    import torch
except ImportError:  # every part compares with PyTorch
    sys.exit("bench_conv.py needs PyTorch (pip install torch)")


def paired(ours: Callable, theirs: Callable, repeats: int) -> tuple[float, float, float, list]:
    """Median ratio ours / theirs over `repeats` alternating pairs, its quartiles, and the
    median times (ms) of each."""
    ours(), theirs()  # warm up
    ratios, times_a, times_b = [], [], []
    for r in range(repeats):
        order = (ours, theirs) if r % 2 == 0 else (theirs, ours)
        took = {}
        for fn in order:
            start = time.perf_counter()
            fn()
            took[fn] = time.perf_counter() - start
        ratios.append(took[ours] / took[theirs])
        times_a.append(took[ours])
        times_b.append(took[theirs])
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    med = statistics.median
    return med(ratios), q1, q3, [1e3 * med(times_a), 1e3 * med(times_b)]


# ------------------------------------------------------------------------------------------
# (a) conv2d layers
# ------------------------------------------------------------------------------------------


def layer_problems(rng: np.random.Generator) -> list:
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    h = rng.standard_normal((64, 16, 26, 26)).astype(np.float32)
    problems = []
    for name, inp, w_shape, grad_input in (
        ("conv 1->16, 64x1x28x28", x, (16, 1, 3, 3), False),
        ("conv 16->32, 64x16x26x26", h, (32, 16, 3, 3), True),
    ):
        w = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(np.float32)
        b = rng.standard_normal(w_shape[0]).astype(np.float32)
        out_shape = (64, w_shape[0], inp.shape[2] - 2, inp.shape[3] - 2)
        g = rng.standard_normal(out_shape).astype(np.float32)
        problems.append((name, inp, w, b, g, grad_input))
    return problems


def layer_steps(inp, w, b, g, grad_input) -> tuple[Callable, Callable, Callable]:
    X, W, B = Tensor(inp, requires_grad=grad_input), Tensor(w, requires_grad=True), Tensor(
        b, requires_grad=True)  # fmt: skip
    tx = torch.tensor(inp, requires_grad=grad_input)
    tw, tb, tg = (torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True),
                  torch.tensor(g))  # fmt: skip

    def ours():
        X.grad = W.grad = B.grad = None
        ad.conv2d(X, W, B).backward(g)

    def theirs():
        tx.grad = tw.grad = tb.grad = None
        torch.nn.functional.conv2d(tx, tw, tb).backward(tg)

    def check():
        ours(), theirs()
        pairs = [(W.grad, tw.grad), (B.grad, tb.grad)] + ([(X.grad, tx.grad)] if grad_input else [])
        out = ad.conv2d(Tensor(inp), Tensor(w), Tensor(b)).data
        ref = torch.nn.functional.conv2d(torch.tensor(inp), torch.tensor(w), torch.tensor(b))
        np.testing.assert_allclose(out, ref.numpy(), rtol=1e-4, atol=1e-4)
        for a, t in pairs:
            scale = float(np.abs(t.numpy()).max())
            np.testing.assert_allclose(a, t.numpy(), rtol=1e-4, atol=1e-5 * scale)

    return ours, theirs, check


def bench_layers(threads: int, repeats: int, report: list) -> None:
    for name, inp, w, b, g, grad_input in layer_problems(np.random.default_rng(0)):
        ours, theirs, check = layer_steps(inp, w, b, g, grad_input)
        check()
        ratio, q1, q3, (ms_a, ms_b) = paired(ours, theirs, repeats)
        report.append(f"| {name} | {threads} | **{ratio:.2f}x** ({q1:.2f}-{q3:.2f}) | "
                      f"{ms_a:.1f} | {ms_b:.1f} |")  # fmt: skip
        print(report[-1], flush=True)


def fastest(fn: Callable, repeats: int) -> float:
    """The least time (ms) of `repeats` calls: the cost of `fn` itself, without the noise of
    a shared machine (a breakdown's parts are each timed alone)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def bench_stages(threads: int, repeats: int, report: list) -> None:
    """Where the time of each layer goes: each stage of ours alone, and the three matrix
    products alone on the whole batch (with their GFLOP/s), against PyTorch's forward and
    forward-and-backward (their GFLOP/s: the same products' flops)."""
    for problem in layer_problems(np.random.default_rng(0)):
        for label, ms, flops in layer_stages(*problem, repeats):
            rate = f" ({flops / ms / 1e6:.0f} GFLOP/s)" if flops else ""
            report.append(f"| {problem[0]} | {threads} | {label} | {ms:.2f}{rate} |")
            print(report[-1], flush=True)


def layer_stages(name, inp, w, b, g, grad_input, repeats: int) -> list:
    """(stage, least ms, flops or 0) for one layer problem, ours then PyTorch's."""
    from autodiff.tensor_ops import conv as C

    geo = C.ConvGeometry(inp.shape[2:], w.shape[2:], (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    o, k = w.shape[0], w[0].size
    flops = 2 * o * k * (g.size // o)  # one product's: g.size // o columns
    xp = C.padded(inp, geo)
    view = C.windows(xp, geo)
    cols = np.ascontiguousarray(view)
    gl = C.batch_first(np.ascontiguousarray(C.batch_last(g)))
    g2, w2, c2 = C.batch_last(gl).reshape(o, -1), w.reshape(o, k), cols.reshape(k, -1)
    # the products write into arrays made once, as the blocks in conv.py write into theirs
    into_out, into_cols = np.empty((o, c2.shape[1]), np.float32), np.empty_like(c2)
    stages = [
        ("ours: input to batch-last", lambda: C.padded(inp, geo), 0),
        ("ours: forward (columns, product, bias)", lambda: C.conv_array(inp, w, geo, xp, b), 0),
        ("ours:   columns alone (im2col copy)", lambda: np.copyto(cols, view), 0),
        ("ours:   product W @ columns alone", lambda: np.matmul(w2, c2, out=into_out), flops),
        ("ours: backward's copy of the given g", lambda: np.array(g), 0),
        ("ours: bias gradient", lambda: C.conv_grad_bias(gl, None, None, None), 0),
    ]
    if grad_input:
        stages += [
            ("ours: g to batch-last", lambda: np.ascontiguousarray(C.batch_last(g)), 0),
            ("ours: weight gradient (columns, product)",
             lambda: C.conv_weight_array(inp, gl, geo, xp), 0),
            ("ours:   product columns @ g.T alone", lambda: c2 @ g2.T, flops),
            ("ours: input gradient (product, col2im adds)",
             lambda: C.conv_transpose_array(gl, w, geo), 0),
            ("ours:   product W.T @ g alone", lambda: np.matmul(w2.T, g2, out=into_cols),
             flops),
            ("ours: input gradient to batch-first",
             lambda: C.batch_first_copy(C.conv_transpose_array(gl, w, geo)), 0),
        ]  # fmt: skip
    else:
        stages += [
            ("ours: weight gradient, image by image", lambda: C.conv_weight_by_image(inp, g, geo),
             flops),
            ("ours:   (instead: g to batch-last, one product)",
             lambda: C.conv_weight_array(inp, C.batch_first(np.ascontiguousarray(
                 C.batch_last(g))), geo, xp), flops),
        ]  # fmt: skip
    tx = torch.tensor(inp, requires_grad=grad_input)
    tw, tb, tg = (torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True),
                  torch.tensor(g))  # fmt: skip

    def both():
        tx.grad = tw.grad = tb.grad = None
        torch.nn.functional.conv2d(tx, tw, tb).backward(tg)

    stages += [
        ("PyTorch: forward", lambda: torch.nn.functional.conv2d(tx, tw, tb), flops),
        ("PyTorch: forward and backward", both, (3 if grad_input else 2) * flops),
    ]
    return [(label, fastest(fn, repeats), work) for label, fn, work in stages]


# ------------------------------------------------------------------------------------------
# (b) the digits CNN
# ------------------------------------------------------------------------------------------


def digits_loops(seed: int, epochs: int) -> tuple[Callable, Callable]:
    """Two training runs from scratch on the same split and batches: (ours, theirs), each
    returning (seconds of the training loop, test accuracy)."""
    from nn.data import DataLoader
    from nn.examples import accuracy, digits_cnn, digits_data
    from nn.optim import Adam

    X_train, X_test, y_train, y_test = digits_data(seed)
    batches = [list(DataLoader((X_train, y_train), 32, shuffle=True, seed=seed + e))
               for e in range(epochs)]  # fmt: skip

    def ours():
        model = digits_cnn(rng=seed)
        optimizer = Adam(model.parameters(), lr=1e-3)
        start = time.perf_counter()
        for epoch in batches:
            for xb, yb in epoch:
                loss = ad.cross_entropy(model(Tensor(xb)), yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return time.perf_counter() - start, accuracy(model, X_test, y_test)

    def theirs():
        tnn = torch.nn
        torch.manual_seed(seed)
        model = tnn.Sequential(tnn.Conv2d(1, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                               tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                               tnn.Flatten(), tnn.Linear(256, 10))  # fmt: skip
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        start = time.perf_counter()
        for epoch in batches:
            for xb, yb in epoch:
                loss = tnn.functional.cross_entropy(model(torch.from_numpy(xb)),
                                                    torch.from_numpy(yb))  # fmt: skip
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            predicted = model(torch.from_numpy(X_test)).argmax(1).numpy()
        return seconds, float((predicted == y_test).mean())

    return ours, theirs


def bench_digits(threads: int, seeds: int, epochs: int, report: list) -> None:
    ratios, acc_a, acc_b, sec_a, sec_b = [], [], [], [], []
    for seed in range(seeds):
        ours, theirs = digits_loops(seed, epochs)
        runs = {}
        for fn in (ours, theirs) if seed % 2 == 0 else (theirs, ours):
            runs[fn] = fn()
        (ta, aa), (tb, ab) = runs[ours], runs[theirs]
        ratios.append(ta / tb)
        acc_a.append(aa), acc_b.append(ab), sec_a.append(ta), sec_b.append(tb)
        print(f"  seed {seed}: ours {ta:.2f} s, {aa:.2%}; PyTorch {tb:.2f} s, {ab:.2%}",
              flush=True)  # fmt: skip
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
    report.append(
        f"| digits CNN, {epochs} epochs, {seeds} seeds | {threads} | "
        f"**{statistics.median(ratios):.2f}x** ({q1:.2f}-{q3:.2f}) | "
        f"{statistics.median(sec_a):.2f} s | {statistics.median(sec_b):.2f} s | "
        f"{np.mean(acc_a):.2%} ({min(acc_a):.2%}-{max(acc_a):.2%}) | "
        f"{np.mean(acc_b):.2%} ({min(acc_b):.2%}-{max(acc_b):.2%}) |"
    )
    print(report[-1], flush=True)


# ------------------------------------------------------------------------------------------
# (c) batch_norm: fused vs composed
# ------------------------------------------------------------------------------------------


def norm_steps(shape: tuple, rng: np.random.Generator) -> tuple[Callable, Callable]:
    """batch_norm forward and backward on `shape`: (fused, composed)."""
    axes = (0, *range(2, len(shape)))
    view = (1, shape[1]) + (1,) * (len(shape) - 2)
    x = Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
    w = Tensor(np.ones(shape[1], np.float32), requires_grad=True)
    b = Tensor(np.zeros(shape[1], np.float32), requires_grad=True)
    g = rng.standard_normal(shape).astype(np.float32)

    def fused():
        x.grad = w.grad = b.grad = None
        ad.batch_norm(x, None, None, w, b, training=True).backward(g)

    def composed():
        x.grad = w.grad = b.grad = None
        centred = x - x.mean(axis=axes, keepdims=True)
        var = (centred * centred).mean(axis=axes, keepdims=True)
        (centred / (var + 1e-5).sqrt() * w.reshape(view) + b.reshape(view)).backward(g)

    return fused, composed


def bench_norm(threads: int, repeats: int, report: list) -> None:
    rng = np.random.default_rng(0)
    for shape in ((64, 16, 26, 26), (128, 256)):
        ratio, q1, q3, (ms_a, ms_b) = paired(*norm_steps(shape, rng), repeats)
        report.append(f"| batch_norm {shape}: fused / composed | {threads} | **{ratio:.2f}x** "
                      f"({q1:.2f}-{q3:.2f}) | {ms_a:.1f} | {ms_b:.1f} |")  # fmt: skip
        print(report[-1], flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and seeds")
    parser.add_argument("--part", choices=["layers", "stages", "digits", "norm", "all"],
                        default="all")  # fmt: skip
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seeds", type=int, default=None, help="digits: seeds per thread count")
    args = parser.parse_args()
    repeats = 11 if args.quick else 31
    seeds = args.seeds or (2 if args.quick else 6)
    print(f"# bench_conv: {platform.processor() or platform.machine()}, numpy {np.__version__}, "
          f"torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M')}")  # fmt: skip
    if args.part in ("digits", "all"):
        from nn.examples import digits_data

        digits_data(0)  # loads scikit-learn's own BLAS now, so the thread limits reach it
    report: list = []
    stages: list = []
    for threads in args.threads:
        with threadpool_limits(threads):
            torch.set_num_threads(threads)
            if args.part in ("layers", "all"):
                bench_layers(threads, repeats, report)
            if args.part == "stages":
                bench_stages(threads, repeats, stages)
            if args.part in ("norm", "all"):
                bench_norm(threads, repeats, report)
            if args.part in ("digits", "all"):
                # 2 threads on tiny products is slow for both engines on a busy machine: fewer
                bench_digits(threads, seeds if threads == 1 else max(2, seeds // 2), 20, report)
    layers = [row for row in report if not row.startswith("| digits")]
    digits = [row for row in report if row.startswith("| digits")]
    if layers:
        print("\n| problem | threads | ratio (median, IQR) | ours (ms) | other (ms) |")
        print("|---|---|---|---|---|")
        print("\n".join(layers))
    if stages:
        print("\n| problem | threads | stage (each alone, least of the repeats) | ms |")
        print("|---|---|---|---|")
        print("\n".join(stages))
    if digits:
        print("\n| training | threads | ours / PyTorch (median, IQR) | ours | PyTorch "
              "| ours: test accuracy | PyTorch: test accuracy |")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        print("\n".join(digits))


if __name__ == "__main__":
    main()
