"""Training throughput (images/s) of each brain_ct model: forward + backward + SGD step.

    python benchmarks/train_throughput.py [--size 224] [--batch 16] [--steps 5] [--device auto]

Prints one line per model; on CUDA also with AMP. Speed targets live here, not in tests.
"""

from __future__ import annotations

import argparse
import time

import torch

from medbench.config import load_study_config, model_config
from medbench.models import create_model
from medbench.train.losses import MultiTaskLoss
from medbench.train.trainer import resolve_device


def throughput(model, loss_fn, batch, steps, amp, device) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    for step in range(steps + 1):
        if step == 1:  # the first step warms up kernels and allocators
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast(device.type, enabled=amp):
            out = model(batch["image"])
        loss, _ = loss_fn(out, batch)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * len(batch["image"]) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="config/studies/brain_ct.yaml")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    cfg = load_study_config(args.config)
    n, s = args.batch, args.size
    batch = {"image": torch.rand(n, 1, s, s, device=device),
             "label": torch.randint(0, 2, (n,), device=device),
             "mask": torch.randint(0, 2, (n, s, s), device=device),
             "has_mask": torch.ones(n, dtype=torch.bool, device=device)}
    print(f"device={device} size={s} batch={n} threads={torch.get_num_threads()}")
    for name in cfg["models"]:
        recipe = model_config(cfg, name)
        model = create_model(recipe["arch"], img_size=s, **recipe.get("model_args", {})).to(device)
        loss_fn = MultiTaskLoss(recipe["loss"]["weights"], recipe["loss"].get("seg"))
        for amp in ([False, True] if device.type == "cuda" else [False]):
            ips = throughput(model, loss_fn, batch, args.steps, amp, device)
            print(f"{name:32s} amp={str(amp):5s} {ips:8.1f} images/s")


if __name__ == "__main__":
    main()
