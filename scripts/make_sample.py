"""Writes samples/images/synthetic_polyp.png and samples/masks/synthetic_polyp.png: a procedurally drawn
colonoscopy-like frame (octagonal field of view, mucosa with folds and a dark lumen, one raised reddish polyp
with specular highlights) and its mask. Ours entirely, so the repository may carry it; the real datasets' terms
forbid redistributing their frames. Needs numpy and pillow. Run: python scripts/make_sample.py
"""
import numpy as np
from PIL import Image, ImageFilter

rng = np.random.default_rng(2026)
H, W = 288, 384
y, x = np.mgrid[0:H, 0:W].astype(np.float64)

def smooth_noise(scale, sigma):
    field = Image.fromarray((rng.random((H // scale + 2, W // scale + 2)) * 255).astype(np.uint8))
    field = field.resize((W, H), Image.BICUBIC).filter(ImageFilter.GaussianBlur(sigma))
    return np.asarray(field, dtype=np.float64) / 255.0

# Mucosa: warm pink-orange, low-frequency shading, folds as darker arcs around the lumen.
base = np.array([205.0, 118.0, 96.0])
shade = 0.75 + 0.35 * smooth_noise(24, 6)
lumen = (250.0, 95.0)
r = np.hypot(x - lumen[0], (y - lumen[1]) * 1.2)
folds = 1 - 0.18 * np.clip(np.sin(r / 11.0) ** 8, 0, 1) * (r > 40)
light = np.clip(0.35 + r / 260.0, 0.35, 1.1)
img = base[None, None, :] * (shade * folds * light)[..., None]
dark = np.clip((60 - r) / 60, 0, 1)[..., None]
img = img * (1 - 0.85 * dark)

# The polyp: a raised ellipse, redder, brighter at the top, a darker rim, a few highlights.
cx, cy, ax, ay = 135.0, 185.0, 52.0, 40.0
d = ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2
d = d * (1 + 0.08 * (smooth_noise(8, 2) - 0.5))
mask = d <= 1
polyp = np.array([196.0, 86.0, 82.0]) * (0.85 + 0.3 * smooth_noise(6, 2))[..., None]
dome = np.clip(1.15 - 0.45 * d - 0.25 * (y - cy) / ay, 0.6, 1.2)[..., None]
rim = np.clip(1 - 0.35 * np.exp(-((d - 1.0) ** 2) / 0.02), 0.6, 1)[..., None]
img = np.where(mask[..., None], polyp * dome, img * rim)
for sx, sy, s in [(120, 165, 4), (150, 175, 3), (128, 200, 2), (300, 60, 3), (60, 120, 2), (330, 210, 3)]:
    spot = np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * s * s))[..., None]
    img = img * (1 - spot) + 255 * spot

# Octagonal field of view, as endoscope frames have.
cut = 60
fov = (x + y >= cut) & ((W - 1 - x) + y >= cut) & (x + (H - 1 - y) >= cut) & ((W - 1 - x) + (H - 1 - y) >= cut)
fov &= (x >= 12) & (x <= W - 13)
img = np.where(fov[..., None], img, 8)
img = np.clip(img + rng.normal(0, 2.0, img.shape), 0, 255).astype(np.uint8)

Image.fromarray(img).save("samples/images/synthetic_polyp.png", optimize=True)
Image.fromarray((mask & fov).astype(np.uint8) * 255).save("samples/masks/synthetic_polyp.png", optimize=True)
print("samples/images/synthetic_polyp.png, samples/masks/synthetic_polyp.png:", int((mask & fov).sum()), "polyp pixels")
