"""Shared parts of the PyTorch CPU references: the paper's two nets and the timing protocol.

The nets mirror training/models/backbone.ts (NHWC in TF.js, NCHW here; same layers, shapes,
parameter counts and FLOPs). TF 'same' padding puts an odd extra pixel at the end; for the
3x3 convs here symmetric padding=1 gives the same output sizes (84->42->21->11->6 with
ceil-mode pooling, 28->14->7->4->2 with stride 2), which is all a speed reference needs.
"""
import json
import statistics
import sys
import time

import torch
from torch import nn

KERAS_BN_EPS = 1e-3
KERAS_BN_MOMENTUM = 0.01  # Keras momentum 0.99 == torch momentum 0.01


def conv4(ways: int = 5, channels: int = 3, filters: int = 32) -> nn.Module:
    """Mini-ImageNet Conv4: 4 x [conv3x3 'same' + bias -> BN -> maxpool 2x2 'same' -> ReLU] -> dense."""
    layers = []
    cin = channels
    for _ in range(4):
        layers += [
            nn.Conv2d(cin, filters, 3, stride=1, padding=1, bias=True),
            nn.BatchNorm2d(filters, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM),
            nn.MaxPool2d(2, 2, ceil_mode=True),
            nn.ReLU(),
        ]
        cin = filters
    layers += [nn.Flatten(), nn.Linear(filters * 6 * 6, ways)]
    return nn.Sequential(*layers)


def omniglot_net(ways: int = 5, channels: int = 1, filters: int = 64) -> nn.Module:
    """Omniglot net: 4 x [conv3x3 stride 2 'same' + bias -> BN -> ReLU] -> dense (28->2, 256 features)."""
    layers = []
    cin = channels
    for _ in range(4):
        layers += [
            nn.Conv2d(cin, filters, 3, stride=2, padding=1, bias=True),
            nn.BatchNorm2d(filters, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM),
            nn.ReLU(),
        ]
        cin = filters
    layers += [nn.Flatten(), nn.Linear(filters * 2 * 2, ways)]
    return nn.Sequential(*layers)


def glorot_init(model: nn.Module) -> None:
    """Keras defaults: Glorot-uniform kernels, zero biases (BN gamma=1, beta=0 already)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def measure(step, items_per_step: int, warmup: int, reps: int, steps: int) -> list:
    """Runs `warmup` untimed steps, then `reps` timed blocks of `steps` steps; returns items/s per block."""
    for _ in range(warmup):
        step()
    rates = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        dt = time.perf_counter() - t0
        rates.append(items_per_step * steps / dt)
    return rates


def parse_protocol(argv: list) -> dict:
    """Reads `--warmup N --reps N --steps N --threads N --seed N` (all ints) from argv."""
    opts = {"warmup": 1, "reps": 3, "steps": 1, "threads": 2, "seed": 1}
    i = 0
    while i < len(argv):
        key = argv[i].lstrip("-")
        if key not in opts or i + 1 >= len(argv):
            raise SystemExit(f"bad argument {argv[i]!r}; expected one of --{' --'.join(opts)} with a value")
        opts[key] = int(argv[i + 1])
        i += 2
    return opts


def setup(opts: dict) -> None:
    """Pins the thread count and seed so runs compare."""
    torch.set_num_threads(opts["threads"])
    torch.manual_seed(opts["seed"])


def emit(name: str, unit: str, rates: list, opts: dict, **extra) -> None:
    """Prints one JSON line: the case's per-rep rates, median, min, max and the protocol used."""
    out = {
        "name": name,
        "unit": unit,
        "values": rates,
        "median": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        **{k: opts[k] for k in ("warmup", "reps", "steps")},
        **extra,
    }
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
