"""Self-supervised pre-training of a Swin encoder (SwinFUSE; Tang et al. 2022's SSL recipe as
devalab/SwinFUSE releases it in scripts/Pretrain/): the `ssl` loss and the `ssl_pretrain` Trainer.

Per step, two views of every crop: each rotated by a random multiple of 90 degrees
(`rot_rand`), then cut out and mixed (`aug_rand`). The loss:
    rot * CE(rotation) + contrast * NT-Xent(T) + rec * L1(reconstruction, rotated uncut crop)
    + jsd * JSD(CT, MR)
JSD is the Jensen-Shannon divergence between Gaussian kernel density estimates of the pooled
DIM outputs of the batch's CT and MR crops (the paper's KDE term; absent from the released code:
jsd 0 reproduces it; the printed formula subtracts it: jsd -1). It is 0 when a batch holds one
modality. The randomness comes from torch's global generator, which the Trainer reseeds per
epoch: a resumed run repeats the same views.
MONAI is imported where it is used: every training job imports this module (its Trainer variant
registers itself), and MONAI's import alone takes seconds.
"""

from __future__ import annotations

import logging

import torch
import torch.nn as nn
import torch.nn.functional as F

from medbench.train.losses import register_loss
from medbench.train.trainer import Trainer, register_trainer

log = logging.getLogger(__name__)


def rot_rand(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate each (C, X, Y, Z) sample by k * 90 degrees in the (Y, Z) plane; labels k."""
    labels = torch.randint(0, 4, (len(x),))
    rotated = torch.stack(
        [torch.rot90(sample, int(k), dims=(2, 3)) for sample, k in zip(x, labels, strict=True)]
    )
    return rotated, labels.to(x.device)


def _randint(low: int, high: int) -> int:
    return int(torch.randint(low, max(high, low + 1), ()))


def patch_rand_drop(
    x: torch.Tensor,
    source: torch.Tensor | None = None,
    max_drop: float = 0.3,
    max_block: float = 0.25,
    tolerance: float = 0.05,
) -> torch.Tensor:
    """Overwrite random boxes (sides 5-25% of each axis) of a (C, X, Y, Z) sample until a random
    U(0, max_drop) share of its voxels is covered: with [0, 1]-rescaled Gaussian noise, or with
    the same boxes of `source` (the released `patch_rand_drop`). In place; returns x."""
    _, *sides = x.shape
    target = float(torch.rand(())) * max_drop * x[0].numel()
    low = [max(1, int(tolerance * s)) for s in sides]
    high = [max(lo, int(max_block * s)) for lo, s in zip(low, sides, strict=True)]
    covered = 0
    while covered < target:
        start = [_randint(0, s - lo) for s, lo in zip(sides, low, strict=True)]
        stop = [min(b + _randint(lo, hi), s) for b, lo, hi, s in zip(start, low, high, sides, strict=True)]
        box = (slice(None), *(slice(b, e) for b, e in zip(start, stop, strict=True)))
        if source is None:
            noise = torch.randn_like(x[box])
            x[box] = (noise - noise.min()) / (noise.max() - noise.min() + 1e-12)
        else:
            x[box] = source[box]
        covered += x[box][0].numel()
    return x


def aug_rand(x: torch.Tensor, modality: torch.Tensor | None = None) -> torch.Tensor:
    """Cut-out of every sample, then boxes pasted from a random partner of the same modality
    (when it is another sample): the released code's steps held one volume, hence one modality,
    so its pastes never mixed CT into MR."""
    out = x.detach().clone()
    modality = torch.zeros(len(x), dtype=torch.long) if modality is None else modality.cpu()
    for i in range(len(out)):
        patch_rand_drop(out[i])
        same = torch.nonzero(modality == modality[i]).flatten()
        partner = int(same[torch.randint(0, len(same), ())])
        if partner != i:
            patch_rand_drop(out[i], out[partner])
    return out


def embedding_cosines(first: torch.Tensor, second: torch.Tensor) -> dict[str, float]:
    """Collapse monitor of the contrastive embeddings of two views (N, D) each: the mean cosine
    over every pair of the 2N embeddings (near 1: collapsed, every crop embedded alike; NT-Xent
    then has no gradient) and over the N positive pairs (the two views of one crop)."""
    z = F.normalize(torch.cat([first, second]).float(), dim=1)
    similarity = z @ z.T
    pairs = ~torch.eye(len(z), dtype=torch.bool, device=z.device)
    positive = (z[: len(first)] * z[len(first):]).sum(dim=1)
    return {"cos_mean": float(similarity[pairs].mean()), "cos_pos": float(positive.mean())}


def kde_jsd(features: torch.Tensor, modality: torch.Tensor) -> torch.Tensor:
    """JSD between the Gaussian KDEs of two groups of feature vectors (modality 0 | 1), with the
    bandwidth the median pairwise distance (detached); 0 when a group is empty."""
    groups = [features[modality == m] for m in (0, 1)]
    if any(len(g) == 0 for g in groups):
        return features.sum() * 0.0
    distances = torch.cdist(features, features)
    sigma = (
        distances.detach()[distances.detach() > 0].median()
        if (distances > 0).any()
        else features.new_tensor(1.0)
    )

    def density(points, group):  # mean kernel of `points` to the samples of `group`
        return torch.exp(-0.5 * (torch.cdist(points, group) / sigma) ** 2).mean(dim=1)

    terms = []
    for own, other in (groups, groups[::-1]):
        p_own, p_other = density(own, own), density(own, other)
        terms.append(torch.log(p_own / ((p_own + p_other) / 2)).mean())
    return 0.5 * (terms[0] + terms[1])


class SSLLoss(nn.Module):
    def __init__(
        self,
        rot: float = 1.0,
        contrast: float = 1.0,
        rec: float = 1.0,
        jsd: float = 1.0,
        temperature: float = 0.5,
    ):
        from monai.losses import ContrastiveLoss

        super().__init__()
        self.weights = {"rot": rot, "contrast": contrast, "rec": rec, "jsd": jsd}
        self.contrastive = ContrastiveLoss(temperature=temperature)

    def forward(
        self,
        views: list[dict],
        rotations: list[torch.Tensor],
        targets: list[torch.Tensor],
        modality: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        parts = {
            "rot": F.cross_entropy(torch.cat([v["rot"] for v in views]).float(), torch.cat(rotations)),
            "contrast": self.contrastive(views[0]["contrast"].float(), views[1]["contrast"].float()),
            "rec": F.l1_loss(torch.cat([v["rec"] for v in views]).float(), torch.cat(targets)),
            "jsd": kde_jsd(torch.cat([v["embedding"] for v in views]).float(), modality.repeat(len(views))),
        }
        total = sum(self.weights[k] * v for k, v in parts.items() if self.weights[k])
        return total, {k: float(v.detach()) for k, v in parts.items()}


@register_loss("ssl")
def _ssl_loss(cfg: dict, epochs: int) -> nn.Module:
    return SSLLoss(**{k: v for k, v in cfg.items() if k != "name"})


COLLAPSED = 0.95  # mean pairwise cosine of the contrastive embeddings above which a warning is logged


@register_trainer("ssl_pretrain")
class SSLTrainer(Trainer):
    loss_name = "ssl"

    """Pre-training: batches of crops (B, n, 1, X, Y, Z) with their `modality`. Overrides what a
    step costs (two augmented views of every crop through the pretext losses) and what picks the
    best epoch: the validation reconstruction L1 (`val_rec`, the released code's criterion), on
    the same crops and views every epoch, beside the collapse monitor (`val_cos_mean`,
    `val_cos_pos`: see `embedding_cosines`)."""

    def _views(self, batch: dict) -> tuple[list[dict], tuple]:
        crops = batch["image"].flatten(0, 1)
        modality = batch["modality"].flatten()
        (x1, r1), (x2, r2) = rot_rand(crops), rot_rand(crops)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            views = [self.model(aug_rand(x1, modality)), self.model(aug_rand(x2, modality))]
        return views, ([r1, r2], [x1, x2], modality)

    def training_step(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        views, targets = self._views(batch)
        return self.loss_fn(views, *targets)

    def validate(self, epoch: int) -> dict:
        """The loss terms and the embeddings' cosines on the validation crops: the crop
        transforms and the views' randomness are reseeded, so every epoch sees the same views."""
        self.model.eval()
        self.val_data.transform.set_random_seed(self.cfg.seed)
        sums, n = {}, 0
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.cfg.seed)
            for batch in self._loader(self.val_data, self.cfg.val_batch_size, False, 0):
                views, targets = self._views(self._to_device(batch))
                loss, parts = self.loss_fn(views, *targets)
                cosines = embedding_cosines(views[0]["contrast"], views[1]["contrast"])
                for key, value in {"loss": float(loss), **parts, **cosines}.items():
                    sums[key] = sums.get(key, 0.0) + value * len(batch["image"])
                n += len(batch["image"])
        metrics = {f"val_{k}": v / n for k, v in sums.items()}
        if metrics["val_cos_mean"] > COLLAPSED:
            log.warning("epoch %d: the contrastive embeddings have collapsed (mean pairwise cosine "
                        "%.3f > %.2f): every crop is embedded alike", epoch, metrics["val_cos_mean"],
                        COLLAPSED)
        return metrics
