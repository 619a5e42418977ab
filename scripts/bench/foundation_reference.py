"""PyTorch reference for `hspsam bench foundation`: the same workloads, timed the same way (median of runs
after warm-up), printed as JSON lines. Run by scripts/bench.sh with a Python that has torch installed."""
import argparse
import json
import time

import torch
import torch.nn as nn


class Block(nn.Module):
    """The same block as hspsam's VisionTransformerBlock (SAM ViT Block layout, global attention, no rel-pos)."""

    def __init__(self, dim=768, heads=12, mlp_dim=3072):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.lin1 = nn.Linear(dim, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, dim)

    def forward(self, x):
        b, h, w, c = x.shape
        n, d = h * w, c // self.heads
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d).permute(2, 0, 3, 1, 4).reshape(3, b * self.heads, n, d)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q * (1.0 / d ** 0.5)) @ k.transpose(-2, -1)).softmax(dim=-1)
        out = (attn @ v).view(b, self.heads, h, w, d).permute(0, 2, 3, 1, 4).reshape(b, h, w, c)
        y = x + self.proj(out)
        return y + self.lin2(torch.nn.functional.gelu(self.lin1(self.norm2(y))))


def measure(name, flop, runs, warmup, body):
    for _ in range(warmup):
        body()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    times.sort()
    t = times[len(times) // 2]
    print(json.dumps({"name": name, "seconds": round(t, 6), "gflops": round(flop / t / 1e9, 3)}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for n in (512, 1024, 2048):
        x, y = torch.randn(n, n), torch.randn(n, n)
        measure(f"sgemm {n}^3", 2.0 * n ** 3, max(3, a.runs // 4) if n > 1024 else a.runs, a.warmup, lambda: x @ y)
    x = torch.randn(1, 256, 64, 64)
    conv = nn.Conv2d(256, 256, 3, padding=1)
    with torch.no_grad():
        measure("conv2d 3x3 256->256 64x64", 2.0 * 256 * 256 * 9 * 64 * 64, a.runs, a.warmup, lambda: conv(x))
    block = Block()
    tokens = torch.randn(1, 22, 22, 768)
    n, c, hidden = 484, 768, 3072
    flop = 2 * n * c * (3 * c + c + 2 * hidden) + 4 * n * n * c
    with torch.no_grad():
        measure("ViT-B block forward", flop, a.runs, a.warmup, lambda: block(tokens))

    def train_step():
        block.zero_grad(set_to_none=True)
        block(tokens).sum().backward()

    measure("ViT-B block forward+backward", 3 * flop, a.runs, a.warmup, train_step)


if __name__ == "__main__":
    main()
