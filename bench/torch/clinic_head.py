"""PyTorch CPU reference for one training step of the default model's trained part (training/clinic/head.ts).

The head is softmax regression on standardised pooled MobileNetV2 features, trained full-batch:
logits = Z @ W + b; loss = class-weighted mean cross-entropy (weights n / (K * n_g) ** balance,
normalised by their sum over the batch, as torch's weighted 'mean' reduction does) + l2 / 2 * |W|^2;
Adam (0.9, 0.999, 1e-8) on W and b. Same shapes, weights and arithmetic precision (float64) as ours.

Usage: python3 clinic_head.py '<json case>' [--warmup N --reps N --steps N --threads N --seed N]
  case: {"dim": 96, "counts": [rows per grade], "l2": 0.001, "balance": 0.5, "lr": 0.05, "dtype": "float64"}
Prints one JSON line with full-batch steps/s per rep (see common.measure).

With "data" (a JSON file {"x": [[features]], "y": [grades]}) and "iters" in the case it instead trains
for that many steps on those rows and prints {"W": [[dim][K]], "b": [K]} folded back to raw features
(W / sd, b - sum(mu * W / sd)), as trainHead returns them: the check that this is the same computation.
"""
import json
import sys

import torch
import torch.nn.functional as F

from common import emit, measure, parse_protocol, setup


def main(argv: list) -> None:
    if not argv:
        raise SystemExit("first argument must be the case as JSON, e.g. '{\"dim\": 96, \"counts\": [870, 264, 468, 102, 90]}'")
    case = json.loads(argv[0])
    opts = parse_protocol(argv[1:])
    setup(opts)
    dtype = {"float64": torch.float64, "float32": torch.float32}[case.get("dtype", "float64")]
    dim, counts = int(case["dim"]), [int(c) for c in case["counts"]]
    if "data" in case:
        with open(case["data"], encoding="utf-8") as f:
            data = json.load(f)
        x = torch.tensor(data["x"], dtype=torch.float32).to(dtype)
        y = torch.tensor(data["y"], dtype=torch.long)
        counts = torch.bincount(y, minlength=len(counts)).tolist()
    k, n = len(counts), sum(counts)
    if "data" not in case:
        y = torch.cat([torch.full((c,), g, dtype=torch.long) for g, c in enumerate(counts)])
        x = torch.randn(n, dim, dtype=dtype) * 2 + 1
    mu, sd = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-6)
    z = (x - mu) / sd
    cw = torch.tensor([(n / (k * c)) ** case.get("balance", 0.5) if c else 0.0 for c in counts], dtype=dtype)
    l2 = float(case.get("l2", 1e-3))
    w = torch.zeros(dim, k, dtype=dtype, requires_grad=True)
    b = torch.zeros(k, dtype=dtype, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=float(case.get("lr", 0.05)), betas=(0.9, 0.999), eps=1e-8)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(z @ w + b, y, weight=cw) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        opt.step()

    if "iters" in case:
        for _ in range(int(case["iters"])):
            step()
        with torch.no_grad():
            wr = w / sd[:, None]
            br = b - (mu[:, None] * wr).sum(0)
        sys.stdout.write(json.dumps({"W": wr.tolist(), "b": br.tolist()}) + "\n")
        return

    rates = measure(step, 1, opts["warmup"], opts["reps"], opts["steps"])
    emit("clinic-head", "steps/s", rates, opts, rows=n, dim=dim, grades=k, dtype=str(dtype).replace("torch.", ""))


if __name__ == "__main__":
    main(sys.argv[1:])
