"""PyTorch CPU reference for one train step (forward + backward + Adam) of the paper's nets.

Usage: python3 train_step.py conv4|omniglot [--warmup N --reps N --steps N --threads N --seed N]
Prints one JSON line with images/s per rep (see common.measure). Batch: conv4 32, omniglot 10.
"""
import sys

import torch
from torch import nn

from common import conv4, emit, glorot_init, measure, omniglot_net, parse_protocol, setup

CASES = {
    # name: (net factory, batch, channels, size)
    "conv4": (conv4, 32, 3, 84),
    "omniglot": (omniglot_net, 10, 1, 28),
}


def main(argv: list) -> None:
    if not argv or argv[0] not in CASES:
        raise SystemExit(f"first argument must be one of {sorted(CASES)}, got {argv[:1]}")
    case = argv[0]
    opts = parse_protocol(argv[1:])
    setup(opts)
    factory, batch, channels, size = CASES[case]
    model = factory(ways=5, channels=channels)
    glorot_init(model)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(batch, channels, size, size)
    y = torch.randint(0, 5, (batch,))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    rates = measure(step, batch, opts["warmup"], opts["reps"], opts["steps"])
    params = sum(p.numel() for p in model.parameters())
    emit(case, "images/s", rates, opts, batch=batch, params=params)


if __name__ == "__main__":
    main(sys.argv[1:])
