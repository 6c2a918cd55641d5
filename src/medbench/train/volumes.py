"""3-D segmentation fine-tuning (swinfuse's downstream tasks): the `dice` loss and the
`volume_segmentation` Trainer, whose validation segments each whole volume by sliding windows.

Two output conventions, as the released fine-tuning scripts (devalab/SwinFUSE):
- `sigmoid` (BraTS): one channel per overlapping region (TC, WT, ET), DiceLoss(sigmoid),
  prediction = sigmoid > 0.5, Dice with the background channels included (they are regions);
- `softmax` (MSD): classes, DiceLoss(softmax, one-hot target), prediction = argmax, Dice
  without the background class.
Cases whose ground truth of a channel is empty give NaN there (MONAI's ignore_empty) and are left
out of the means.
MONAI is imported where it is used: every training job imports this module (its Trainer variant
registers itself), and MONAI's import alone takes seconds.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from medbench.train.losses import register_loss
from medbench.train.trainer import Trainer, register_trainer

SW_OVERLAP = 0.5  # released fine-tuning scripts: sliding windows overlapping by half


class VolumeDiceLoss(nn.Module):
    def __init__(self, activation: str = "sigmoid"):
        super().__init__()
        from monai.losses import DiceLoss

        self.activation = activation
        softmax = activation == "softmax"
        self.dice = DiceLoss(sigmoid=not softmax, softmax=softmax, to_onehot_y=softmax)

    def forward(self, outputs: dict, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        loss = self.dice(outputs["seg"].float(), batch["mask"])
        return loss, {"seg": float(loss.detach())}


@register_loss("dice")
def _dice_loss(cfg: dict, epochs: int) -> nn.Module:
    return VolumeDiceLoss(cfg.get("activation", "sigmoid"))


def segment(
    model: nn.Module, image: torch.Tensor, roi, sw_batch_size: int = 4, overlap: float = SW_OVERLAP
) -> torch.Tensor:
    """Logits of whole (B, C, X, Y, Z) volumes from `roi`-sized windows."""
    from monai.inferers import sliding_window_inference

    return sliding_window_inference(image, roi, sw_batch_size, lambda x: model(x)["seg"], overlap=overlap)


def to_prediction(logits: torch.Tensor, activation: str) -> torch.Tensor:
    """Binary channels: region masks (sigmoid > 0.5) or the argmax class one-hot."""
    if activation == "sigmoid":
        return (torch.sigmoid(logits.float()) > 0.5).float()
    classes = logits.shape[1]
    return torch.nn.functional.one_hot(logits.argmax(1), classes).movedim(-1, 1).float()


def dice_per_channel(prediction: torch.Tensor, target: torch.Tensor, activation: str) -> np.ndarray:
    """(B, channels) Dice; targets are region channels (sigmoid) or class indices (softmax)."""
    from monai.metrics import DiceMetric

    if activation == "softmax":
        target = torch.nn.functional.one_hot(target[:, 0].long(), prediction.shape[1]).movedim(-1, 1)
    metric = DiceMetric(include_background=activation == "sigmoid", reduction="none", ignore_empty=True)
    return metric(prediction, target.float()).cpu().numpy()


@register_trainer("volume_segmentation")
class VolumeSegmentationTrainer(Trainer):
    """Validation = mean Dice over whole validation volumes (`val_dice`), by sliding windows."""

    loss_name = "dice"

    def validate(self, epoch: int) -> dict:
        self.model.eval()
        roi = self.model_meta["model_args"]["img_size"]
        activation = self.loss_fn.activation
        scores, losses = [], []
        with torch.no_grad():
            for batch in self._loader(self.val_data, 1, False, 0):
                batch = self._to_device(batch)
                with torch.autocast(self.device.type, enabled=self.use_amp):
                    logits = segment(self.model, batch["image"], roi)
                losses.append(float(self.loss_fn({"seg": logits}, batch)[0]))
                scores.append(dice_per_channel(to_prediction(logits, activation), batch["mask"], activation))
        return {"val_loss": float(np.mean(losses)), "val_dice": float(np.nanmean(np.concatenate(scores)))}
