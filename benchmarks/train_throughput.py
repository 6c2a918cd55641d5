"""Training throughput (images/s) of each model of a study: forward + backward + SGD step.

    python benchmarks/train_throughput.py [--config config/studies/brain_ct.yaml] [--size 224]
        [--batch 16] [--steps 5] [--device auto] [--override JSON] [--models a b ...]
    python benchmarks/train_throughput.py --config config/studies/hubmap.yaml --size 768 --batch 4

Prints one line per model; on CUDA also with AMP. Speed targets live here, not in tests.
"""

from __future__ import annotations

import argparse
import time

import torch

from medbench.config import load_study_config, model_config
from medbench.device import resolve_device
from medbench.models import create_model
from medbench.train.losses import build_loss
from medbench.train.run import model_arguments


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
    parser.add_argument("--override", default=None, help="JSON deep-merged into the study YAML")
    parser.add_argument("--models", nargs="+", help="default: every model of the study")
    args = parser.parse_args()
    device = resolve_device(args.device)
    cfg = load_study_config(args.config, args.override)
    cfg["data"]["image_size"] = n_pixels = args.size
    n, channels = args.batch, 3 if cfg["study"] == "hubmap" else 1
    batch = {"image": torch.rand(n, channels, n_pixels, n_pixels, device=device),
             "label": torch.randint(0, 2, (n,), device=device),
             "mask": torch.randint(0, 2, (n, n_pixels, n_pixels), device=device),
             "has_mask": torch.ones(n, dtype=torch.bool, device=device)}
    print(f"device={device} size={n_pixels} batch={n} threads={torch.get_num_threads()}")
    for name in args.models or cfg["models"]:
        recipe = model_config(cfg, name)
        arguments = model_arguments(cfg, recipe) | {"pretrained": False, "pretrained_path": None}
        model = create_model(recipe["arch"], **arguments).to(device)
        loss_fn = build_loss(recipe["loss"], recipe["epochs"])
        for amp in ([False, True] if device.type == "cuda" else [False]):
            ips = throughput(model, loss_fn, batch, args.steps, amp, device)
            print(f"{name:32s} amp={str(amp):5s} {ips:8.1f} images/s")


if __name__ == "__main__":
    main()
