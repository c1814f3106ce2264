"""IPython start-up file of `make robustness`: every seed a page sets moves by 1000 × shift.

tools/robustness.py copies this file into the kernels' start-up folder and sets
``NNLIB_SEED_SHIFT``; a page then runs unchanged, with other random draws. Without the
variable the file does nothing.
"""

import os

_shift = int(os.environ.get("NNLIB_SEED_SHIFT", "0") or 0) * 1000

if _shift:
    import random

    import numpy as np
    import torch

    def _moved(seed):
        return seed + _shift if isinstance(seed, int) and not isinstance(seed, bool) else seed

    _torch_manual_seed = torch.manual_seed

    def _manual_seed(seed):
        return _torch_manual_seed(_moved(int(seed)))

    torch.manual_seed = torch.random.manual_seed = _manual_seed

    class _Generator(torch.Generator):
        def manual_seed(self, seed):
            return super().manual_seed(_moved(int(seed)))

    torch.Generator = _Generator

    _np_seed, _np_default_rng = np.random.seed, np.random.default_rng
    np.random.seed = lambda seed=None: _np_seed(_moved(seed))
    np.random.default_rng = lambda seed=None: _np_default_rng(_moved(seed))
    _random_seed = random.seed
    random.seed = lambda a=None, version=2: _random_seed(_moved(a), version)
