"""Which MKL code branch a process takes, and the setting that gives the strict pass another.

MKL picks a code branch by CPU (its "conditional numerical reproducibility" branches), and
float32 training runs round differently on each. The two nbval passes of `make test` take
two different branches, so that a claim that holds on one branch only fails here too, not
only on a reader's machine: the portable pass sets ``MKL_CBWR=COMPATIBLE``, and the strict
pass keeps the CPU's own branch unless that is the compatible one, in which case it takes
AVX2 (or SSE4.2 on a CPU without AVX2).

    python -m tools.mkl_branch            # this process's branch, e.g. "AVX512_E1 (native)"
    python -m tools.mkl_branch --strict   # the environment for the strict pass: "" or
                                          # "MKL_CBWR=AVX2"
"""

from __future__ import annotations

import argparse
import ctypes
import os
from pathlib import Path

from tools.report import cpuinfo

# MKL's branch codes (mkl_cbwr.h)
BRANCHES = {
    1: "OFF",
    2: "AUTO",
    3: "COMPATIBLE",
    4: "SSE2",
    6: "SSSE3",
    7: "SSE4_1",
    8: "SSE4_2",
    9: "AVX",
    10: "AVX2",
    11: "AVX512_MIC",
    12: "AVX512",
    13: "AVX512_MIC_E1",
    14: "AVX512_E1",
}
_BRANCH_SETTING = 1  # MKL_CBWR_BRANCH: ask for the branch


def _mkl():
    """PyTorch's MKL (linked into libtorch_cpu), or None where this build has none."""
    import torch

    if not torch.backends.mkl.is_available():
        return None
    library = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    try:
        mkl = ctypes.CDLL(str(library))
    except OSError:
        return None
    return mkl if hasattr(mkl, "mkl_serv_cbwr_get_auto_branch") else None


def branches() -> tuple[str, str] | None:
    """(the branch MKL would pick for this CPU, the branch it takes in this process)."""
    mkl = _mkl()
    if mkl is None:
        return None
    native = BRANCHES.get(mkl.mkl_serv_cbwr_get_auto_branch(), "unknown")
    chosen = BRANCHES.get(mkl.mkl_serv_cbwr_get(_BRANCH_SETTING), "unknown")
    return native, native if chosen in ("OFF", "AUTO") else chosen


def strict_setting(native: str | None, cpu_flags: set[str]) -> str:
    """The environment setting for the strict pass: none while the CPU's own branch differs
    from the portable pass's COMPATIBLE, otherwise another branch the CPU can run."""
    if native is None or native != "COMPATIBLE":
        return ""
    return "MKL_CBWR=AVX2" if "avx2" in cpu_flags else "MKL_CBWR=SSE4_2"


def _cpu_flags() -> set[str]:
    return set((cpuinfo("flags") or "").split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="print the strict pass's setting")
    args = parser.parse_args(argv)
    found = branches()
    if args.strict:
        print(strict_setting(found[0] if found else None, _cpu_flags()))
        return 0
    if found is None:
        print("no MKL in this PyTorch build")
        return 0
    native, taken = found
    setting = os.environ.get("MKL_CBWR", "")
    print(f"{taken}" + (" (native)" if taken == native and not setting else f" (native {native})"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
