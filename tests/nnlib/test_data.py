"""nnlib.data: torchvision's CIFAR-10 loader on tiny files written in its format."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.transforms import ToTensor

from nnlib import data


def _images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


@pytest.fixture
def tiny_cifar(tmp_path):
    train = (_images(7, 0), np.array([0, 1, 2, 3, 4, 5, 9]))
    test = (_images(3, 1), np.array([9, 0, 1]))
    folder = data.write_cifar10(tmp_path, train, test)
    return tmp_path, folder, train, test


def test_files_have_the_official_layout(tiny_cifar):
    _, folder, _, _ = tiny_cifar
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["batches.meta", "data_batch_1", "data_batch_2", "data_batch_3",
                     "data_batch_4", "data_batch_5", "test_batch"]  # fmt: skip


@pytest.mark.parametrize("train", [True, False])
def test_torchvision_loader_reads_back_what_was_written(tiny_cifar, train):
    root, _, train_split, test_split = tiny_cifar
    images, labels = train_split if train else test_split
    dataset = data.load_cifar10(root, train=train, transform=ToTensor(), verify_checksums=False)
    assert len(dataset) == len(images)
    assert dataset.classes == list(data.CIFAR10_CLASSES)
    for i in range(len(images)):
        tensor, label = dataset[i]
        assert tensor.shape == (3, 32, 32) and label == labels[i]
        expected = torch.from_numpy(images[i]).permute(2, 0, 1).float() / 255
        torch.testing.assert_close(tensor, expected)


def test_official_checksums_reject_other_files(tiny_cifar):
    root, _, _, _ = tiny_cifar
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        data.load_cifar10(root)


def test_missing_files_are_reported(tmp_path, tiny_cifar):
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        data.load_cifar10(tmp_path / "nowhere", verify_checksums=False)
    root, folder, _, _ = tiny_cifar
    (folder / "data_batch_3").unlink()
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        data.load_cifar10(root, verify_checksums=False)


def test_custom_label_names(tmp_path):
    data.write_cifar10(tmp_path, (_images(2, 0), [0, 1]), (_images(1, 1), [1]), ["a", "b"])
    dataset = data.load_cifar10(tmp_path, train=False, verify_checksums=False)
    assert dataset.classes == ["a", "b"] and dataset.class_to_idx == {"a": 0, "b": 1}


@pytest.mark.parametrize(
    ("train", "error", "message"),
    [
        ((np.zeros((2, 32, 32, 3)), [0, 1]), ValueError,
         r"^train images must be a uint8 array of shape \(N, 32, 32, 3\); got float64 \(2, 32, 32, 3\)$"),
        ((np.zeros((2, 3, 32, 32), np.uint8), [0, 1]), ValueError, r"got uint8 \(2, 3, 32, 32\)$"),
        ((np.zeros((2, 32, 32, 3), np.uint8), [0]), ValueError,
         r"^train labels must be 2 integers \(one per image\); got int64 \(1,\)$"),
        ((np.zeros((2, 32, 32, 3), np.uint8), [0, 10]), ValueError,
         r"^train labels must be in \[0, 9\] \(one per label name\); got values from 0 to 10$"),
        (np.zeros((2, 32, 32, 3), np.uint8), TypeError, r"^train must be a pair \(images, labels\)"),
    ],
)  # fmt: skip
def test_bad_input_is_named(tmp_path, train, error, message):
    with pytest.raises(error, match=message):
        data.write_cifar10(tmp_path, train, (_images(1, 0), [0]))
