"""Our PyTorch reference of HSP-SAM's encoder adaptation on SAM ViT (docs/model.md 2), on
segment-anything 1.0's `Block` / `Attention`: abstract prompts appended after `norm1` as extra keys and values
(unnormalised, zero relative-position bias on their columns, image query rows only, every window of a windowed
block), LoRA deltas on q and v in SAM's [all q | all k | all v] qkv layout. The parity target of the Swift
`ViTAttention` / `ViTBlock` with prompts and LoRA.
"""
import torch
import torch.nn as nn
from segment_anything.modeling.image_encoder import add_decomposed_rel_pos, window_partition, window_unpartition


def attach_lora(attn, rank):
    """LoRA factors under attn.qkv with hspsam's keys (qkv.lora_a_q.weight, ...)."""
    dim = attn.qkv.in_features
    for name, (i, o) in {"lora_a_q": (dim, rank), "lora_b_q": (rank, dim), "lora_a_v": (dim, rank),
                         "lora_b_v": (rank, dim)}.items():
        attn.qkv.add_module(name, nn.Linear(i, o, bias=False))


def prompted_attention(attn, x, prompts):
    """segment_anything Attention.forward with T prompt tokens (T, C) joining the keys and values."""
    b, h, w, c = x.shape
    n = h * w
    tokens = x.reshape(b, n, c)
    if prompts is not None:
        tokens = torch.cat([tokens, prompts.unsqueeze(0).expand(b, -1, -1)], 1)
    m = tokens.shape[1]
    q, k, v = attn.qkv(tokens).split(c, dim=2)
    if hasattr(attn.qkv, "lora_a_q"):
        q = q + attn.qkv.lora_b_q(attn.qkv.lora_a_q(tokens))
        v = v + attn.qkv.lora_b_v(attn.qkv.lora_a_v(tokens))
    heads = lambda t: t.reshape(b, m, attn.num_heads, -1).permute(0, 2, 1, 3).reshape(b * attn.num_heads, m, -1)
    q, k, v = heads(q)[:, :n], heads(k), heads(v)
    logits = (q * attn.scale) @ k.transpose(-2, -1)  # (B*heads, n, m)
    image = add_decomposed_rel_pos(logits[:, :, :n], q, attn.rel_pos_h, attn.rel_pos_w, (h, w), (h, w))
    a = torch.cat([image, logits[:, :, n:]], 2).softmax(-1)
    out = (a @ v).view(b, attn.num_heads, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)
    return attn.proj(out)


def block_forward(blk, x, prompts):
    """segment_anything Block.forward with its attention replaced by prompted_attention."""
    shortcut = x
    x = blk.norm1(x)
    if blk.window_size > 0:
        hw = x.shape[1], x.shape[2]
        x, pad_hw = window_partition(x, blk.window_size)
    x = prompted_attention(blk.attn, x, prompts)
    if blk.window_size > 0:
        x = window_unpartition(x, blk.window_size, pad_hw, hw)
    x = shortcut + x
    return x + blk.mlp(blk.norm2(x))
