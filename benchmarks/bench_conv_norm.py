"""Time nnlib's convolution and normalisation against the PyTorch built-ins, forward +
backward, and draw the ratio as a figure.

    python -m benchmarks.bench_conv_norm                  # writes _build/bench/conv_norm.png
    python -m benchmarks.bench_conv_norm --quick --out FILE

Convolution: ``nnlib.conv.conv2d`` (im2col from one strided view, one matrix product per chunk of
the batch, and the explicit backward) against ``F.conv2d`` (oneDNN on the CPU, cuDNN on a GPU), for
3x3 and 5x5 kernels over image sizes, batch 32, 32 -> 32 channels, float32. Normalisation:
``nnlib.batch_norm`` (training mode) and ``nnlib.layer_norm`` (without and with gamma and
beta, as ``nn.LayerNorm`` has by default) against ``F.batch_norm`` and ``F.layer_norm`` on the
same activations.

For the convolution the report also times its matrix products alone: the three products of
forward + backward (y = C W^T with C the im2col matrix, one row per output position;
dL/dW = (C^T G)^T with G the upstream gradient, one row per position; and dL/dx as the
upstream gradient's im2col matrix times the flipped kernel, stride 1), through
``torch.matmul``, chunk by chunk as nnlib runs them, on one chunk's matrices built
beforehand and used for every chunk (so they are in the cache, as nnlib's are when it
multiplies them). That time is a reference floor for this design: nnlib's time above it is
the copies (im2col, the layout changes) and the rest. GFLOP/s: the nominal arithmetic of a
direct convolution's forward + backward over the time, for the products and for torch; and,
for comparison, what ``torch.matmul`` reaches on two 2048 x 2048 float32 matrices in the same
run.

For each op the report also counts the process's minor page faults per forward + backward
(getrusage; host memory only), mostly pages of newly allocated tensors touched for the first
time. Each costs operating-system time that no arithmetic accounts for; an op whose large
temporaries the allocator returns to the operating system when they are freed pays it on
every call. The report also counts, for torch and for nnlib, the ATen ops one forward +
backward runs and the bytes of their inputs and outputs (``benchmarks/traffic.py``): the
traffic between ops if nothing stayed in the cache. For the normalisation it divides nnlib's
counted bytes by nnlib's time, as a share of the copy bandwidth at that size.

A measurement, not a test: nothing here fails on a slow machine. Prints a table (median
milliseconds, ratio nnlib / torch) and saves the figure.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import nnlib
from benchmarks import timing, traffic
from benchmarks.bench_ops import copy_bandwidth
from nnlib._windows import Geometry
from nnlib.conv import (
    _as_rows,
    _chunks,
    _flipped,
    _full_geometry,
    _im2col,
    _padded_last,
    _weight_rows,
    conv2d,
)
from nnlib.norm import batch_norm, layer_norm
from tools import report


def faults_per_call(fn, tensors, calls: int = 20) -> float:
    """Minor page faults of one forward + backward of fn(*tensors), on average."""
    step = timing.fwd_bwd_step(fn, tensors)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def _ops(counts) -> str:
    return " / ".join(str(t.ops) for t in counts)


def _moved(counts, input_bytes: int) -> str:
    return " / ".join(f"{t.moved / input_bytes:.1f}" for t in counts)


def conv_products(x: torch.Tensor, w: torch.Tensor):
    """The matrix products of one forward + backward of nnlib's conv2d with padding k // 2
    (stride 1, groups 1), chunk by chunk, on matrices built beforehand for the first chunk
    and the last, as a function; and their FLOPs."""
    n, c, h, width = x.shape
    c_out, k = w.shape[0], w.shape[-1]
    pad = (k // 2, k // 2)
    g = Geometry((k, k), (1, 1), (1, 1), pad, pad, (h, width))
    full = _full_geometry(g, h, width)
    grad = torch.randn(n, c_out, h, width, device=x.device)
    w_rows, flipped = _weight_rows(w, 1), _weight_rows(_flipped(w, 1), 1)
    chunks = _chunks(g, n, c)  # all of one size but the last, which may be smaller

    def matrices(part):
        return (
            _im2col(_padded_last(x[part], g), g, 1),
            _im2col(_padded_last(grad[part], full), full, 1),
            _as_rows(grad[part].flatten(2), 1),
        )

    parts = [matrices(chunks[0])] * (len(chunks) - 1) + [matrices(chunks[-1])]

    def products():
        for cols, grad_cols, go in parts:
            torch.matmul(cols, w_rows.mT)  # y
            torch.matmul(cols.mT, go)  # dL/dW
            torch.matmul(grad_cols, flipped.mT)  # dL/dx

    return products, 3 * 2 * c_out * c * k * k * n * h * width


def matmul_peak(device, min_run: float, n: int = 2048) -> float:
    """FLOP/s of ``torch.matmul`` on two n x n float32 matrices: what the BLAS library behind
    nnlib's products (MKL on this project's CPU, cuBLAS on a GPU) reaches at a shape that
    suits it (the convolution's own products are tall and thin)."""
    a, b = (torch.randn(n, n, device=device) for _ in range(2))
    return 2 * n**3 / timing.seconds(lambda: torch.matmul(a, b), min_run)


#: A normalisation's forward + backward moves at least 5 times its input: it reads x and writes
#: y, then reads x and dL/dy and writes dL/dx (the statistics are per channel or per example).
NORM_TRAFFIC = 5


def cases(device, batch: int):
    g = torch.Generator().manual_seed(0)
    for kernel in (3, 5):
        for size in (8, 16, 32, 64):
            x = torch.randn(batch, 32, size, size, generator=g).to(device)
            w = torch.randn(32, 32, kernel, kernel, generator=g).to(device) * 0.05
            yield ("conv2d", f"k={kernel}", size,
                   lambda x, w, p=kernel // 2: conv2d(x, w, padding=p),
                   lambda x, w, p=kernel // 2: F.conv2d(x, w, padding=p), (x, w))  # fmt: skip
    for size in (8, 16, 32, 64):
        x = torch.randn(batch, 32, size, size, generator=g).to(device)
        yield ("batch_norm", "training", size,
               lambda x: batch_norm(x, None, None, training=True),
               lambda x: F.batch_norm(x, None, None, training=True), (x,))  # fmt: skip
        yield ("layer_norm", "(C, H, W)", size,
               lambda x: layer_norm(x, x.shape[1:]),
               lambda x: F.layer_norm(x, x.shape[1:]), (x,))  # fmt: skip
        w = 1 + 0.1 * torch.randn(x.shape[1:], generator=g).to(device)
        b = 0.1 * torch.randn(x.shape[1:], generator=g).to(device)
        yield ("layer_norm", "(C, H, W), affine", size,
               lambda x, w, b: layer_norm(x, x.shape[1:], w, b),
               lambda x, w, b: F.layer_norm(x, x.shape[1:], w, b), (x, w, b))  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, batch 8")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", default="_build/bench/conv_norm.png", help="the figure")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = nnlib.get_device()
    batch, min_run = (8, 0.1) if args.quick else (32, 0.5)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(
        f"torch {torch.__version__} on {device} ({name or platform.machine()}), "
        f"{torch.get_num_threads()} CPU threads, batch {batch}, 32 channels, float32"
    )
    print(f"{'op':11s} {'case':10s} {'size':>5s} {'torch ms':>9s} {'nnlib ms':>9s} {'ratio':>6s}"
          f" {'faults':>11s}  then: products ms (conv), or copy GB/s and the shares of it "
          "torch and nnlib reach")  # fmt: skip
    rows, shares, floors = [], {}, {}
    peak = matmul_peak(device, min_run)
    print(f"torch.matmul, 2048 x 2048 float32: {peak / 1e9:.0f} GFLOP/s")
    for op, case, size, ours, theirs, tensors in cases(device, batch):
        steps = [timing.fwd_bwd_step(theirs, tensors), timing.fwd_bwd_step(ours, tensors)]
        if op == "conv2d":  # bound by arithmetic: the products' floor and GFLOP/s
            products, flops = conv_products(*tensors)
            steps.append(products)
        times = timing.alternating(steps, min_run)
        t_torch, t_ours = (timing.median(t) for t in times[:2])
        ratio = timing.median(timing.ratios(*times[:2]))
        faults = (faults_per_call(theirs, tensors), faults_per_call(ours, tensors))
        counts = tuple(traffic.count(step) for step in steps[:2])
        rows.append((op, case, size, t_torch, t_ours, ratio, faults, counts, tensors[0].nbytes))
        line = (f"{op:11s} {case:10s} {size:5d} {t_torch * 1e3:9.3f} {t_ours * 1e3:9.3f} "
                f"{ratio:6.2f} {faults[0]:5.0f} {faults[1]:5.0f}")  # fmt: skip
        if op == "conv2d":
            floor = timing.median(times[2])
            floors[op, case, size] = (
                floor,
                timing.median(timing.ratios(times[0], times[2])),
                flops,
            )
            line += f" products {floor * 1e3:9.3f} ms"
        else:  # memory-bound: the share of the copy bandwidth each reaches
            copy = copy_bandwidth(tensors[0], min_run)
            moved = NORM_TRAFFIC * tensors[0].nbytes
            shares[op, case, size] = (copy, moved / t_torch / copy, moved / t_ours / copy)
            line += " {:9.2f} {:6.2f} {:6.2f}".format(copy / 1e9, *shares[op, case, size][1:])
        print(line, flush=True)

    import matplotlib

    matplotlib.use("Agg")
    fig, ax = nnlib.plot.subplots(width=6.4, height=3.8)
    series = sorted({(op, case) for op, case, *_ in rows})
    for op, case in series:
        points = [(size, ratio) for o, c, size, _, _, ratio, *_ in rows
                  if (o, c) == (op, case)]  # fmt: skip
        ax.plot(*zip(*points, strict=True), "-o", label=f"{op} {case}")
    ax.axhline(1.0, color="0.5", linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("image size (H = W)")
    ax.set_ylabel("time nnlib / time torch")
    ax.set_title(f"forward + backward, batch {batch}, 32 channels, {device.type}")
    ax.legend(fontsize=8)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    print(f"figure: {out}")
    command = report.invocation("benchmarks.bench_conv_norm", argv)
    lines = report.header(f"Convolution and normalisation against PyTorch's, on {device.type}",
                          command, f"{torch.get_num_threads()} torch threads")  # fmt: skip
    lines += [
        f"- torch {torch.__version__} on {device} ({name or platform.machine()}), batch "
        f"{batch}, 32 channels, float32; forward + backward, median time over "
        f"{timing.ROUNDS} rounds in which the timings alternate (torch's, nnlib's and, for "
        "the convolution, its products'); ratio = the median of the rounds' ratios",
        "- faults: minor page faults per forward + backward (mean of 20 calls after the "
        "timing), torch / nnlib: pages of freshly allocated tensors touched for the first time",
        "- ATen ops, bytes moved (eager): torch / nnlib, the ATen ops one forward + backward "
        "runs (a fused op, such as torch's, counts once whatever it runs inside) and the "
        "bytes of their inputs and outputs, in multiples of the input's bytes: the traffic "
        "between ops if nothing stayed in the cache (`benchmarks/traffic.py`; the same in "
        "every run with this torch build, device and batch)",
        "",
        "## Convolution",
        "",
        "Bound by its arithmetic. products: nnlib's three matrix products of forward + "
        "backward alone (`torch.matmul`, chunk by chunk as nnlib runs them, on one chunk's "
        "matrices built beforehand and in the cache), a reference floor for this im2col "
        "design; GFLOP/s: the nominal arithmetic of a direct convolution's forward + "
        "backward (3 x 2 C_out C k^2 N H W) / time. For comparison, `torch.matmul` of two "
        f"2048 x 2048 float32 matrices in the same run: {peak / 1e9:.0f} GFLOP/s. torch's "
        "convolution runs its own kernels (on the CPU usually oneDNN; on a GPU cuDNN, which "
        "by default may use TF32 where float32 `torch.matmul` does not), and its GFLOP/s "
        "count the direct convolution's arithmetic even where its algorithm does less. Where "
        "torch's GFLOP/s exceed that `torch.matmul` rate, a design that does this arithmetic "
        "in `torch.matmul` at that rate cannot match torch's time.",
        "",
        "| case | size | torch ms | nnlib ms | ratio | products ms | products / torch "
        "| torch GFLOP/s | products GFLOP/s | faults | ATen ops, torch / nnlib "
        "| bytes moved, torch / nnlib |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for op, case, size, t_torch, t_ours, ratio, faults, counts, nbytes in rows:
        if op == "conv2d":
            floor, floor_ratio, flops = floors[op, case, size]
            lines.append(f"| {case} | {size} | {t_torch * 1e3:.3f} | {t_ours * 1e3:.3f} | "
                         f"{ratio:.2f} | {floor * 1e3:.3f} | {floor_ratio:.2f} | "
                         f"{flops / t_torch / 1e9:.0f} | {flops / floor / 1e9:.0f} | "
                         f"{faults[0]:.0f} / {faults[1]:.0f} | {_ops(counts)} | "
                         f"{_moved(counts, nbytes)} |")  # fmt: skip
    lines += [
        "",
        "## Normalisation",
        "",
        f"Bound by memory: {NORM_TRAFFIC} times the input's bytes (the least a fused forward + "
        "backward moves) / time, as a share of the copy bandwidth on the same input in the "
        "same run (a `copy_` into a tensor allocated beforehand; up to some MB, the cache's "
        "bandwidth more than the memory's). nnlib's counted bytes / time: the bytes-moved "
        "column's nnlib bytes over nnlib's time (which includes its ops' dispatch), as a "
        "share of the same copy bandwidth.",
        "",
        "| op | case | size | torch ms | nnlib ms | ratio | copy GB/s | torch share of copy "
        "| nnlib share of copy | faults | ATen ops, torch / nnlib | bytes moved, torch / "
        "nnlib | nnlib's counted bytes / time, share of copy |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for op, case, size, t_torch, t_ours, ratio, faults, counts, nbytes in rows:
        if op != "conv2d":
            copy, torch_share, ours_share = shares[op, case, size]
            own = counts[1].moved / t_ours / copy
            lines.append(f"| {op} | {case} | {size} | {t_torch * 1e3:.3f} | "
                         f"{t_ours * 1e3:.3f} | {ratio:.2f} | {copy / 1e9:.2f} | "
                         f"{torch_share:.2f} | {ours_share:.2f} | "
                         f"{faults[0]:.0f} / {faults[1]:.0f} | {_ops(counts)} | "
                         f"{_moved(counts, nbytes)} | {own:.2f} |")  # fmt: skip
    print(f"report: {report.write(f'conv-norm-{device.type}', lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
