"""PyTorch CPU reference for one Reptile meta-iteration, omniglot preset (Nichol et al. 2018).

Usage: python3 reptile.py [--warmup N --reps N --steps N --threads N --seed N]
One meta-iteration: remember phi; for each of 5 tasks (5-way, 10 shots = 50 images) load phi and run
5 inner Adam steps (lr 1e-3, beta1 0, beta2 0.999, eps 1e-8; moments and step count kept across
tasks) on batches of 10 drawn by cycling through reshuffled copies of the pool; keep the adapted
weights; finally phi <- phi + eps * (mean(adapted) - phi). Prints meta-iterations/s per rep.
"""
import sys

import torch
from torch import nn

from common import emit, glorot_init, measure, omniglot_net, parse_protocol, setup

WAYS, SHOTS, INNER_BATCH, INNER_ITERS, META_BATCH = 5, 10, 10, 5, 5
META_STEP_SIZE = 1.0


def make_task(gen: torch.Generator):
    """A synthetic 5-way task pool (values do not matter for speed; shapes do)."""
    x = torch.rand(WAYS * SHOTS, 1, 28, 28, generator=gen)
    y = torch.arange(WAYS).repeat_interleave(SHOTS)
    return x, y


def inner_batches(n: int, gen: torch.Generator):
    """Index batches of INNER_BATCH, cycling through reshuffled copies of range(n)."""
    while True:
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n - INNER_BATCH + 1, INNER_BATCH):
            yield perm[i : i + INNER_BATCH]


def main(argv: list) -> None:
    opts = parse_protocol(argv)
    setup(opts)
    gen = torch.Generator().manual_seed(opts["seed"])
    model = omniglot_net(ways=WAYS, channels=1)
    glorot_init(model)
    model.train()
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.0, 0.999), eps=1e-8)
    loss_fn = nn.CrossEntropyLoss()

    def meta_iteration() -> None:
        with torch.no_grad():
            phi = [p.detach().clone() for p in params]
            acc = [torch.zeros_like(p) for p in params]
        for _ in range(META_BATCH):
            x, y = make_task(gen)
            batches = inner_batches(x.shape[0], gen)
            for _ in range(INNER_ITERS):
                idx = next(batches)
                opt.zero_grad(set_to_none=True)
                loss_fn(model(x[idx]), y[idx]).backward()
                opt.step()
            with torch.no_grad():
                for a, p, p0 in zip(acc, params, phi):
                    a.add_(p)
                    p.copy_(p0)
        with torch.no_grad():
            for a, p, p0 in zip(acc, params, phi):
                p.copy_(p0 + META_STEP_SIZE * (a / META_BATCH - p0))

    rates = measure(meta_iteration, 1, opts["warmup"], opts["reps"], opts["steps"])
    emit("reptile-omniglot", "meta-iter/s", rates, opts, tasks=META_BATCH, inner_iters=INNER_ITERS,
         inner_batch=INNER_BATCH, images_per_iter=META_BATCH * INNER_ITERS * INNER_BATCH)


if __name__ == "__main__":
    main(sys.argv[1:])
