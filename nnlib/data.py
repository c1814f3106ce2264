"""Data loading that works offline.

``load_cifar10`` is torchvision's CIFAR-10 loader (the real code path: the pickled batches
under ``cifar-10-batches-py``). Where the official files are on disk it checks their MD5
sums as torchvision does; ``download=True`` fetches them where a network is available.
``write_cifar10`` writes arrays in exactly that file format, so the loader can be exercised
and demonstrated on small local data (the tests, and the book, which has no network). Files
written this way are not the official release, so they are loaded with
``verify_checksums=False``, which checks that every file exists instead of its MD5 sum.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torchvision.datasets import CIFAR10

__all__ = ["CIFAR10_CLASSES", "load_cifar10", "write_cifar10"]

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


class _LocalCIFAR10(CIFAR10):
    """torchvision's CIFAR10 with the MD5 checks replaced by existence checks."""

    def _files(self):
        names = [name for name, _ in self.train_list + self.test_list] + [self.meta["filename"]]
        return [os.path.join(self.root, self.base_folder, name) for name in names]

    def _check_integrity(self) -> bool:
        return all(os.path.isfile(path) for path in self._files())

    def _load_meta(self) -> None:
        path = os.path.join(self.root, self.base_folder, self.meta["filename"])
        with open(path, "rb") as infile:
            self.classes = pickle.load(infile, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}


def load_cifar10(
    root: str | os.PathLike,
    train: bool = True,
    transform: Callable[[Any], Any] | None = None,
    *,
    download: bool = False,
    verify_checksums: bool = True,
) -> CIFAR10:
    """CIFAR-10 from ``root/cifar-10-batches-py`` through torchvision's loader.

    Args:
        root: the folder that holds ``cifar-10-batches-py``.
        train: the 50,000 training images (True) or the 10,000 test images (False).
        transform: applied to each PIL image (e.g. ``torchvision.transforms.ToTensor()``).
        download: fetch the official archive if it is missing (needs a network).
        verify_checksums: check the official MD5 sums (True) or only that each file exists
            (False, for files in CIFAR-10's format such as those :func:`write_cifar10` makes).

    Raises:
        RuntimeError: the files are missing (or, when verifying, not the official ones).
    """
    cls = CIFAR10 if verify_checksums else _LocalCIFAR10
    return cls(os.fspath(root), train=train, transform=transform, download=download)


def _check_split(name: str, split) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(split, (tuple, list)) or len(split) != 2:
        raise TypeError(f"{name} must be a pair (images, labels); got {type(split).__name__}")
    images, labels = split
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise ValueError(
            f"{name} images must be a uint8 array of shape (N, 32, 32, 3); "
            f"got {images.dtype} {images.shape}"
        )
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{name} labels must be {len(images)} integers (one per image); "
            f"got {labels.dtype} {labels.shape}"
        )
    return images, labels


def write_cifar10(
    root: str | os.PathLike,
    train: tuple[np.ndarray, Sequence[int]],
    test: tuple[np.ndarray, Sequence[int]],
    label_names: Sequence[str] = CIFAR10_CLASSES,
) -> Path:
    """Write images in CIFAR-10's python format under ``root/cifar-10-batches-py``.

    The training images are split over ``data_batch_1`` ... ``data_batch_5`` as in the
    official release; each batch is a pickled dict with ``data`` (N x 3072 uint8, channel
    planes R, G, B of 32 x 32 row-major) and ``labels``.

    Args:
        train, test: pairs (images, labels); images uint8 of shape (N, 32, 32, 3) (height,
            width, RGB), labels integers in [0, len(label_names)).
        label_names: the class names stored in ``batches.meta``.

    Returns:
        The folder written, ``root/cifar-10-batches-py``.
    """
    train_images, train_labels = _check_split("train", train)
    test_images, test_labels = _check_split("test", test)
    names = [str(n) for n in label_names]
    for split, labels in (("train", train_labels), ("test", test_labels)):
        if labels.size and (labels.min() < 0 or labels.max() >= len(names)):
            raise ValueError(
                f"{split} labels must be in [0, {len(names) - 1}] (one per label name); "
                f"got values from {labels.min()} to {labels.max()}"
            )
    folder = Path(root) / CIFAR10.base_folder
    folder.mkdir(parents=True, exist_ok=True)

    def dump(name: str, images: np.ndarray, labels: np.ndarray) -> None:
        data = images.transpose(0, 3, 1, 2).reshape(len(images), 3 * 32 * 32)  # HWC -> planes
        entry = {
            "batch_label": name,
            "data": data,
            "labels": [int(v) for v in labels],
            "filenames": [f"{name}_{i}.png" for i in range(len(images))],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)

    parts = np.array_split(np.arange(len(train_images)), 5)
    for i, idx in enumerate(parts, start=1):
        dump(f"data_batch_{i}", train_images[idx], train_labels[idx])
    dump("test_batch", test_images, test_labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names, "num_cases_per_batch": len(parts[0])}, f)
    return folder
