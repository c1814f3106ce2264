"""Time nnlib's ops against the PyTorch built-ins, forward + backward, in the same run.

    python -m benchmarks.bench_ops            # on nnlib.get_device() (NNLIB_DEVICE overrides)
    python -m benchmarks.bench_ops --quick    # fewer repetitions
    python -m benchmarks.bench_ops --mode eager

Prints, per op, the median time of nnlib and of torch and their ratio (nnlib / torch),
next to the target ratio: activations <= 1.2x on 1M float32 elements, losses <= 1.5x
(cross_entropy on (4096, 1000)), pooling <= 2x on (32, 64, 56, 56) with kernel 2.

Two modes for nnlib, each against the same eager torch built-in:
* eager: nnlib's ops as written. Each is a few element-wise tensor operations, each a
  pass over memory, where the built-in is one fused kernel, so element-wise ops cannot
  reach 1.2x this way.
* compiled: the same nnlib functions (forward and explicit backward) passed through
  ``torch.compile``, which fuses those passes into one kernel. Compilation time (seconds
  per op, once) is excluded from the timings and printed separately. The built-in passed
  through ``torch.compile`` is timed too, as a reference: its ratio to eager torch is the
  compiler's own cost on that op, and compiled nnlib against compiled torch is what is
  left for nnlib's formula. A compiled forward + backward also pays a fixed cost for the
  compiler's wrappers around its kernels. The run measures it on the smallest compiled op,
  a copy of 1000 elements, against the eager copy: a lower estimate for ops whose graphs
  have more inputs, outputs or saved tensors. The report's "overhead ratio" is the compiled
  ratio that this cost alone would give if the compiled kernels took as long as eager
  torch's, (torch ms + fixed cost) / torch ms.

In compiled mode the report also gives what the compiler generated for each forward +
backward, nnlib's and the built-in's: the number of kernels inductor generated (kernels
that fall back to ATen are not counted), and the bytes they read and write as inductor
itself counts them from its buffers (``inductor_metrics``), in multiples of the input's
bytes. The count does not depend on the machine's speed or on run-to-run timing noise: it
shows whether nnlib's explicit backward makes the compiled code read and write more than
the built-in's does; for a bandwidth-bound op the bytes moved set the time. The counts are
for the run's device: CPU kernels come from inductor's C++ generator and GPU kernels from
Triton, which fuse differently, so a count on one does not carry over to the other.

An op's timings (torch's, nnlib's in each mode, compiled torch's) alternate over
``timing.ROUNDS`` rounds, and each ratio is the median of the rounds' ratios, so that a
change in the machine's speed during the run does not land between the two timings of a
ratio (``benchmarks/timing.py``).

Every timing runs on the torch threads the report names (``benchmark.Timer`` would use one
thread by default, and a compiled function compiled under another thread count compiles
again). Compilation runs without inductor's pool of worker processes (``compile_threads =
1``), so that no compile worker shares the CPU with the timings.

A measurement, not a test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import time

import torch
import torch._dynamo
import torch._inductor.config as inductor_config
import torch._inductor.metrics as inductor_metrics
import torch.nn.functional as F

import nnlib
from benchmarks import timing
from nnlib import activations as A
from nnlib import losses as L
from nnlib import pooling as P
from tools import report


def cases(device: torch.device, size_factor: int = 1):
    """(group, name, nnlib fn, torch fn, input factory) for every benchmarked op; every size
    (the elements of an activation's input, the batch of the loss and of the pooling) is
    multiplied by ``size_factor``."""
    g = torch.Generator(device="cpu").manual_seed(0)

    def act_input():
        return torch.randn(1_000_000 * size_factor, generator=g).to(device)

    w = torch.tensor([0.25], device=device)
    acts = {
        "sigmoid": (A.sigmoid, torch.sigmoid),
        "tanh": (A.tanh, torch.tanh),
        "relu": (A.relu, F.relu),
        "leaky_relu": (A.leaky_relu, F.leaky_relu),
        "prelu": (lambda x: A.prelu(x, w), lambda x: F.prelu(x, w)),
        "rrelu (eval)": (A.rrelu, F.rrelu),
        "elu": (A.elu, F.elu),
        "selu": (A.selu, F.selu),
        "gelu": (A.gelu, F.gelu),
        "gelu (tanh)": (lambda x: A.gelu(x, "tanh"), lambda x: F.gelu(x, approximate="tanh")),
        "silu": (A.silu, F.silu),
        "softplus": (A.softplus, F.softplus),
        "mish": (A.mish, F.mish),
        "softmax": (
            lambda x: A.softmax(x.view(-1, 1000), 1),
            lambda x: F.softmax(x.view(-1, 1000), 1),
        ),  # fmt: skip
        "log_softmax": (
            lambda x: A.log_softmax(x.view(-1, 1000), 1),
            lambda x: F.log_softmax(x.view(-1, 1000), 1),
        ),  # fmt: skip
        "identity": (A.identity, lambda x: x.clone()),
    }
    for name, (ours, theirs) in acts.items():
        yield "activation", name, ours, theirs, act_input

    logits = torch.randn(4096 * size_factor, 1000, generator=g).to(device)
    target = torch.randint(0, 1000, (4096 * size_factor,), generator=g).to(device)
    yield ("loss", "cross_entropy", lambda x: L.cross_entropy(x, target),
           lambda x: F.cross_entropy(x, target), lambda: logits.clone())  # fmt: skip
    yield ("loss", "cross_entropy (smoothing 0.1)",
           lambda x: L.cross_entropy(x, target, label_smoothing=0.1),
           lambda x: F.cross_entropy(x, target, label_smoothing=0.1),
           lambda: logits.clone())  # fmt: skip

    images = torch.randn(32 * size_factor, 64, 56, 56, generator=g).to(device)
    yield ("pooling", "max_pool2d k=2", lambda x: P.max_pool2d(x, 2),
           lambda x: F.max_pool2d(x, 2), lambda: images.clone())  # fmt: skip
    yield ("pooling", "avg_pool2d k=2", lambda x: P.avg_pool2d(x, 2),
           lambda x: F.avg_pool2d(x, 2), lambda: images.clone())  # fmt: skip


TARGETS = {"activation": 1.2, "loss": 1.5, "pooling": 2.0}

#: The fewest bytes a fused forward + backward must move, in units of the input's size: an
#: element-wise op reads x and writes y, then reads x, reads dL/dy and writes dL/dx (5); a loss
#: reads the logits, then reads them again and writes their gradient (3); a 2x2 pooling reads
#: x and writes y (x / 4), then reads dL/dy (x / 4) and x and writes dL/dx (3 + 2 / 4).
TRAFFIC = {"activation": 5.0, "loss": 3.0, "pooling": 3.5}
#: ...except the identity, a copy forward (2) whose backward passes dL/dy on untouched (0).
TRAFFIC_OF_OP = {"identity": 2.0}
BANDWIDTH_NOTE = (
    "bandwidth = the bytes a fused forward + backward must move at least (5 times the input "
    "for an element-wise op, 2 for the identity, 3 for a loss, 3.5 for a 2x2 pooling) / time, "
    "as a share of the copy bandwidth on the same input in the same run (read + write, a "
    "`copy_` into a tensor allocated beforehand)"
)

GENERATED_NOTE = (
    "kernels, bytes moved: for the compiled forward + backward, nnlib's / the built-in's, the "
    "number of kernels inductor generated and the bytes they read and write as inductor "
    "counts them from its buffers, in multiples of the input's bytes (independent of the "
    "machine's speed); overhead ratio: (torch ms + the compiler's fixed cost per forward + "
    "backward) / torch ms, the compiled ratio that cost alone would give"
)


def copy_bandwidth(x: torch.Tensor, min_run_time: float) -> float:
    """Bytes per second that a copy of x reads and writes, into a tensor allocated (and its
    pages touched) beforehand. ``torch.clone`` allocates its result on every call; when the
    allocator takes fresh pages for it, each costs a page fault, which is the allocator's
    cost, not the memory's."""
    x = x.detach()
    out = torch.zeros_like(x)
    return 2 * x.nbytes / timing.seconds(lambda: out.copy_(x), min_run_time)


def time_fwd_bwd(fn, x, min_run_time: float) -> float:
    """Median seconds of one forward + backward of fn at x."""
    return timing.seconds(timing.fwd_bwd_step(fn, (x,)), min_run_time)


def compiler_fixed_cost(device: torch.device, min_run_time: float) -> float:
    """Seconds that torch.compile adds to one forward + backward of its smallest op, a copy
    of 1000 elements, against the eager copy: a lower estimate for other ops."""
    x = torch.randn(1000, device=device)
    torch._dynamo.reset()
    copy = torch.compile(torch.clone)
    time_fwd_bwd(copy, x, 0.0)  # compiles forward and backward
    steps = [timing.fwd_bwd_step(f, (x,)) for f in (copy, torch.clone)]
    compiled, eager = timing.alternating(steps, min_run_time)
    return timing.median([c - e for c, e in zip(compiled, eager, strict=True)])


def count_generated_code() -> None:
    """Make inductor count, for every graph it compiles, the bytes its kernels read and write
    (``inductor_metrics.num_bytes_accessed``) without printing them, and compile every graph
    afresh: a graph loaded from inductor's cache is not counted."""
    torch._logging.set_logs(inductor_metrics=True)
    logging.getLogger("torch._inductor.compile_fx.__inductor_metrics").addFilter(lambda _: False)
    inductor_config.fx_graph_cache = False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--mode", choices=("eager", "compiled", "both"), default="both")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--size-factor", type=int, default=1,
                        help="multiply every size by this (GPUs need larger sizes)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.size_factor < 1:
        parser.error(f"--size-factor must be >= 1; got {args.size_factor}")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = nnlib.get_device()
    min_run = 0.2 if args.quick else 1.0
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(f"torch {torch.__version__} on {device} ({name or platform.machine()}), "
          f"{torch.get_num_threads()} CPU threads, size factor {args.size_factor}")  # fmt: skip
    modes = ("eager", "compiled") if args.mode == "both" else (args.mode,)
    if "compiled" in modes:
        inductor_config.compile_threads = 1
        count_generated_code()
        fixed = compiler_fixed_cost(device, min_run)
        print(f"the compiler's fixed cost per forward + backward: {fixed * 1e6:.0f} us")
    header = f"{'group':10s} {'op':30s} {'copy GB/s':>9s} {'torch ms':>9s} {'share':>6s}"
    for mode in modes:
        header += f" {mode + ' ms':>12s} {'ratio':>6s} {'share':>6s}"
    if "compiled" in modes:
        header += f" {'torch cmp ms':>12s} {'ratio':>6s} {'vs cmp':>6s} kernels bytes overhead"
    print(header + "  target")
    compiled_torch = (" torch compiled ms | its ratio to torch | compiled nnlib / compiled torch |"
                      " kernels, nnlib / torch | bytes moved, nnlib / torch | overhead ratio |"
                      if "compiled" in modes else "")  # fmt: skip
    md = ["| group | op | copy GB/s | torch ms | torch share of copy |"
          + "".join(f" {m} ms | ratio | {m} share of copy |" for m in modes)
          + compiled_torch + " target |",
          "|---|---|---:|---:|---:|" + "---:|---:|---:|" * len(modes)
          + ("---:|---:|---:|---:|---:|---:|" if compiled_torch else "") + "---:|"]  # fmt: skip
    worst = {mode: {} for mode in modes}
    worst_vs = {}  # group -> worst compiled nnlib / compiled torch
    compile_s = 0.0
    generated = {}  # fn -> (kernels, bytes moved / input bytes) of its compiled fwd + bwd
    for group, op, ours, theirs, make in cases(device, args.size_factor):
        # dynamo caches compiled code per code object, and torch.compile wraps C built-ins in
        # one shared wrapper: reset, so that each op compiles afresh
        torch._dynamo.reset()
        x = make()
        copy = copy_bandwidth(x, min_run)

        def share(seconds: float) -> float:
            traffic = TRAFFIC_OF_OP.get(op, TRAFFIC[group])  # noqa: B023
            return traffic * x.nbytes / seconds / copy  # noqa: B023

        def compiled(fn):
            nonlocal compile_s
            compiled_fn = torch.compile(fn)
            inductor_metrics.reset()
            start = time.perf_counter()
            # the first call compiles forward and backward
            time_fwd_bwd(compiled_fn, x, 0.0)  # noqa: B023 (called in this iteration)
            compile_s += time.perf_counter() - start
            moved = inductor_metrics.num_bytes_accessed / x.nbytes  # noqa: B023
            generated[fn] = (inductor_metrics.generated_kernel_count, moved)
            return compiled_fn

        fns = {"torch": theirs, **{m: compiled(ours) if m == "compiled" else ours for m in modes}}
        if "compiled" in modes:
            fns["torch compiled"] = compiled(theirs)
        rounds = timing.alternating([timing.fwd_bwd_step(f, (x,)) for f in fns.values()],
                                    min_run)  # fmt: skip
        times = dict(zip(fns, rounds, strict=True))
        t = {name: timing.median(seconds) for name, seconds in times.items()}

        def ratio(ours_name: str, theirs_name: str) -> float:
            """The median over the rounds of each round's ratio."""
            return timing.median(timing.ratios(times[theirs_name], times[ours_name]))  # noqa: B023

        t_torch = t["torch"]
        line = f"{group:10s} {op:30s} {copy / 1e9:9.2f} {t_torch * 1e3:9.3f} {share(t_torch):6.2f}"
        row = f"| {group} | `{op}` | {copy / 1e9:.2f} | {t_torch * 1e3:.3f} | "
        row += f"{share(t_torch):.2f} |"
        for mode in modes:
            r = ratio(mode, "torch")
            worst[mode][group] = max(worst[mode].get(group, 0.0), r)
            line += f" {t[mode] * 1e3:12.3f} {r:6.2f} {share(t[mode]):6.2f}"
            row += f" {t[mode] * 1e3:.3f} | {r:.2f} | {share(t[mode]):.2f} |"
        if "compiled" in modes:
            t_compiled = t["torch compiled"]
            own, vs = ratio("torch compiled", "torch"), ratio("compiled", "torch compiled")
            (k_ours, b_ours), (k_theirs, b_theirs) = generated[ours], generated[theirs]
            overhead = (t_torch + fixed) / t_torch
            worst_vs[group] = max(worst_vs.get(group, 0.0), vs)
            line += f" {t_compiled * 1e3:12.3f} {own:6.2f} {vs:6.2f}"
            line += f" {k_ours:3d}/{k_theirs:<3d} {b_ours:5.2f}/{b_theirs:<5.2f} {overhead:5.2f}"
            row += f" {t_compiled * 1e3:.3f} | {own:.2f} | {vs:.2f} |"
            row += f" {k_ours} / {k_theirs} | {b_ours:.2f} / {b_theirs:.2f} | {overhead:.2f} |"
        print(line + f"  <= {TARGETS[group]:.1f}", flush=True)
        md.append(row + f" <= {TARGETS[group]:.1f} |")
    md.append("")
    for mode in modes:
        verdict = ", ".join(
            f"{g} {r:.2f} ({'meets' if r <= TARGETS[g] else 'misses'} {TARGETS[g]:.1f})"
            for g, r in worst[mode].items()
        )
        print(f"worst ratio, {mode}: {verdict}")
        md.append(f"- worst ratio, {mode}: {verdict}")
    if "compiled" in modes:
        summary = [
            "worst compiled nnlib / compiled torch: "
            + ", ".join(f"{g} {r:.2f}" for g, r in worst_vs.items()),
            f"the compiler's fixed cost per forward + backward: {fixed * 1e6:.0f} us",
            f"compilation took {compile_s:.0f} s in all (excluded from the timings)",
        ]
        print(*summary, sep="\n")
        md += [f"- {line}" for line in summary]
    command = report.invocation("benchmarks.bench_ops", argv)
    lines = report.header(f"nnlib's ops against PyTorch's, forward + backward, on {device.type}",
                          command, f"{torch.get_num_threads()} torch threads")  # fmt: skip
    lines += [
        f"- torch {torch.__version__} on {device} ({name or platform.machine()}), size "
        f"factor {args.size_factor}; median times over {timing.ROUNDS} rounds in which the "
        "timings alternate; ratio = the median of the rounds' ratios, nnlib / torch",
        f"- {BANDWIDTH_NOTE}",
        *([f"- {GENERATED_NOTE}"] if "compiled" in modes else []),
        "",
        *md,
    ]
    print(f"report: {report.write(f'ops-{device.type}', lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
