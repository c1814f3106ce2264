"""Time nnlib's recurrent networks against torch.nn.RNN, LSTM and GRU, per training step.

    python -m benchmarks.bench_rnn [--quick] [--threads N]

One training step at page 15's sizes (the adding problem: 2 inputs, 32 hidden units, batch
64, sequences of 10, 20 and 40 steps): forward over the sequence, a readout of the last state,
a mean-squared loss, backward through time, in float32. nnlib's modules have the same
parameters as torch's (copied), so both do the same arithmetic; torch's run whatever its
build chooses on the device, nnlib's a Python loop over the steps with its backward written
out. The report also counts the ATen ops each runs per training step and per time step
(``benchmarks/traffic.py``), and names those of torch's ops that run a whole layer over the
sequence at once. Writes benchmarks/results/rnn-<device>.md. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import sys

import torch

import nnlib
from benchmarks import timing, traffic
from nnlib.rnn import GRU, LSTM, RNN
from tools import report

INPUT, HIDDEN, BATCH, LENGTHS = 2, 32, 64, (10, 20, 40)
#: torch's ops that run a whole recurrent layer over the sequence (oneDNN on the CPU, cuDNN or
#: MIOpen on a GPU), as the dispatcher names them.
WHOLE_LAYER_OPS = ("mkldnn_rnn_layer", "mkldnn_rnn_layer_backward", "_cudnn_rnn",
                   "_cudnn_rnn_backward", "miopen_rnn", "miopen_rnn_backward")  # fmt: skip


def training_step(module, x, y):
    """One forward, readout, loss and backward through ``module``, as a function."""
    readout = torch.nn.Linear(HIDDEN, 1).to(x.device)

    def step():
        module.zero_grad(set_to_none=True)
        out, _ = module(x)
        loss = torch.nn.functional.mse_loss(readout(out[-1]).squeeze(-1), y)
        loss.backward()

    step()  # warm-up
    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = nnlib.get_device()
    min_run = 0.2 if args.quick else 1.0
    torch.manual_seed(0)
    rows = ["| network | steps | torch ms | nnlib ms | ratio | lowest and highest round "
            "| ATen ops per training step, torch / nnlib |",
            "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    whole_layer, per_step = {}, []  # notes: torch's whole-layer ops (in order); ops per step
    span = LENGTHS[-1] - LENGTHS[-2]  # ops per time step: their difference over this many steps
    print(rows[0])
    for name, ours_cls in (("RNN", RNN), ("LSTM", LSTM), ("GRU", GRU)):
        theirs = getattr(torch.nn, name)(INPUT, HIDDEN).to(device)
        ours = ours_cls(INPUT, HIDDEN).to(device)
        ours.load_state_dict(theirs.state_dict())
        ops = {}  # steps -> (torch's ATen ops, nnlib's)
        for steps in LENGTHS:
            x = torch.randn(steps, BATCH, INPUT, device=device)
            y = torch.randn(BATCH, device=device)
            pair = (training_step(theirs, x, y), training_step(ours, x, y))
            times = timing.alternating(pair, min_run)
            t_torch, t_ours = (timing.median(t) for t in times)
            ratios = timing.ratios(*times)
            spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
            counts = [traffic.count(step) for step in pair]
            ops[steps] = tuple(c.ops for c in counts)
            whole_layer.update((f"`{op}` ({name})", None) for op in WHOLE_LAYER_OPS
                               if op in counts[0].names)  # fmt: skip
            rows.append(f"| {name} | {steps} | {t_torch * 1e3:.3f} | {t_ours * 1e3:.3f} | "
                        f"{timing.median(ratios):.2f} | {spread} | "
                        f"{ops[steps][0]} / {ops[steps][1]} |")  # fmt: skip
            print(rows[-1], flush=True)
        per_step.append(
            f"{name} "
            + " / ".join(f"{(ops[LENGTHS[-1]][i] - ops[LENGTHS[-2]][i]) / span:g}" for i in (0, 1))
        )
    lines = report.header(
        f"Recurrent networks against PyTorch's, one training step, on {device.type}",
        report.invocation("benchmarks.bench_rnn", argv),
        f"{torch.get_num_threads()} torch threads",
    )
    lines += [f"- torch {torch.__version__}; input {INPUT}, hidden {HIDDEN}, batch {BATCH}, "
              "float32; median time of forward, readout, loss and backward over "
              f"{timing.ROUNDS} rounds in which torch's and nnlib's timings alternate; ratio = the "
              "median of the rounds' nnlib / torch, beside the lowest and highest round's",
              "- ATen ops: those one training step runs (`benchmarks/traffic.py`; a fused op "
              "counts once whatever it runs inside; the same in every run with this torch "
              "build, device and sizes). Per time step (the difference from "
              f"{LENGTHS[-2]} to {LENGTHS[-1]} steps over {span}), "
              "torch / nnlib: " + ", ".join(per_step) + ". torch's ops that run a whole layer "
              "over the sequence in one op here: " + (", ".join(whole_layer) or "none"),
              "", *rows]  # fmt: skip
    print(f"report: {report.write(f'rnn-{device.type}', lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
