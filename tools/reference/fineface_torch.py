#!/usr/bin/env python3
"""FineFACE in PyTorch, written from ../shared/docs/FINEFACE.md: the yardstick our Burn code
is measured against (`cargo xtask bench`) and checked against (`parity_goldens.py`).

It follows the specification step by step, with torchvision's ResNet as the backbone:
- experts on layer2/3/4: conv block (1x1 -> BN(momentum 0.01) -> ReLU -> 3x3 -> BN -> ReLU),
  global max pool, classifier BN1d -> Linear -> BN1d -> ELU -> Linear; a concat head;
- attention map = projection of each pixel on W_a^T W_b[c] (c = the expert's prediction);
- crops: upsample (bilinear, align_corners), min-max, threshold, padded box, resize back;
  `crops="loop"` is the reference's per-sample loop, `crops="batched"` one grid_sample;
- one iteration = the five steps, each with its own forward, backward and SGD step, one
  optimiser (two parameter groups: backbone 0.0002, the rest 0.002), momentum 0.9,
  weight decay 5e-4, `zero_grad(set_to_none=True)` so untouched parameters do not move;
- inference = argmax of the 8 logits (4 heads on x + 4 on the combined crop).

Module and parameter names match the Rust model (`backbone.*` torchvision names,
`expert{k}.conv_block.{conv1,bn1,conv2,bn2}`, `expert{k}.classifier.{bn_in,fc1,bn_hidden,fc2}`,
`concat.*`), so a file written by `fineface_model::export_torchvision_safetensors` loads
with `load_state_dict`.
"""

from __future__ import annotations

import random

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

ARCHS = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet34": (BasicBlock, [3, 4, 6, 3]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
    "resnet101": (Bottleneck, [3, 4, 23, 3]),
}


class Backbone(ResNet):
    """torchvision's ResNet (its block code, `_make_layer`, init and names) at base width
    `width` (64 = torchvision's), returning the layer2/3/4 maps."""

    def __init__(self, arch: str = "resnet50", width: int = 64):
        block, layers = ARCHS[arch]
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        e = block.expansion
        self.tap_channels = [width * 2 * e, width * 4 * e, width * 8 * e]

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        l2 = self.layer2(self.layer1(x))
        l3 = self.layer3(l2)
        return l2, l3, self.layer4(l3)


class MobileNetV2Backbone(nn.Module):
    """torchvision's MobileNetV2 `features` (its code, init and names), returning the maps of
    stride 8, 16 and 32 after `features.6`, `features.13` and `features.18`."""

    TAPS = (6, 13, 18)

    def __init__(self, width_mult: float = 1.0):
        super().__init__()
        import torchvision
        self.features = torchvision.models.mobilenet_v2(width_mult=width_mult).features
        channels = [layer.out_channels if hasattr(layer, "out_channels") else layer[0].out_channels
                    for layer in self.features]
        self.tap_channels = [channels[i] for i in self.TAPS]

    def forward(self, x):
        taps = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.TAPS:
                taps.append(x)
        return tuple(taps)


def make_backbone(arch: str = "resnet50", width: int = 64):
    """`Backbone` for the ResNets, `MobileNetV2Backbone` for `mobilenet_v2`."""
    return MobileNetV2Backbone() if arch == "mobilenet_v2" else Backbone(arch, width)


class ConvBlock(nn.Module):
    def __init__(self, cin, hidden, out):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden, eps=1e-5, momentum=0.01)
        self.conv2 = nn.Conv2d(hidden, out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out, eps=1e-5, momentum=0.01)

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class Classifier(nn.Module):
    def __init__(self, cin, hidden, n_classes):
        super().__init__()
        self.bn_in = nn.BatchNorm1d(cin)
        self.fc1 = nn.Linear(cin, hidden)
        self.bn_hidden = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, v):
        return self.fc2(F.elu(self.bn_hidden(self.fc1(self.bn_in(v)))))


class Expert(nn.Module):
    def __init__(self, cin, features, n_classes):
        super().__init__()
        self.conv_block = ConvBlock(cin, features // 2, features)
        self.classifier = Classifier(features, features // 2, n_classes)

    def forward(self, tap):
        fmap = self.conv_block(tap)
        pooled = torch.amax(fmap, dim=(2, 3))  # a true global max pool
        return fmap, pooled, self.classifier(pooled)


class FineFace(nn.Module):
    def __init__(self, n_classes=2, arch="resnet50", width=64, head_width=1024):
        super().__init__()
        self.backbone = make_backbone(arch, width)
        c1, c2, c3 = self.backbone.tap_channels
        self.expert1 = Expert(c1, head_width, n_classes)
        self.expert2 = Expert(c2, head_width, n_classes)
        self.expert3 = Expert(c3, head_width, n_classes)
        self.concat = Classifier(3 * head_width, head_width // 2, n_classes)

    def forward(self, x):
        t1, t2, t3 = self.backbone(x)
        f1, v1, l1 = self.expert1(t1)
        f2, v2, l2 = self.expert2(t2)
        f3, v3, l3 = self.expert3(t3)
        concat = self.concat(torch.cat([v1, v2, v3], 1))
        return {"expert1": l1, "expert2": l2, "expert3": l3, "concat": concat,
                "maps": [f1.detach(), f2.detach(), f3.detach()]}


class Baseline(nn.Module):
    def __init__(self, n_classes=2, arch="resnet50", width=64):
        super().__init__()
        self.backbone = make_backbone(arch, width)
        self.fc = nn.Linear(self.backbone.tap_channels[2], n_classes)

    def forward(self, x):
        return self.fc(self.backbone(x)[2].mean(dim=(2, 3)))


# --- attention maps and crops -------------------------------------------------------------

@torch.no_grad()
def attention_map(expert: Expert, fmap, logits):
    """A_i(u, v) = sum_j W_b[c_i, j] sum_m W_a[j, m] F[i, m, u, v], batched."""
    c = logits.argmax(1)
    wa = expert.classifier.fc1.weight  # [hidden, features]
    wb = expert.classifier.fc2.weight  # [n, hidden]
    direction = wb[c] @ wa  # [b, features]
    return torch.einsum("bm,bmuv->buv", direction, fmap)


def attention_maps(model: FineFace, out):
    return [attention_map(e, f, out[k]) for e, f, k in
            zip([model.expert1, model.expert2, model.expert3], out["maps"], ["expert1", "expert2", "expert3"])]


def _normalise(a, size):
    a = F.interpolate(a[:, None], size=size, mode="bilinear", align_corners=True)[:, 0]
    flat = a.flatten(1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - lo) / (hi - lo + 1e-6)).view_as(a)


def _box(mask, theta_pad_h, theta_pad_w):
    """Bounding box of one mask widened as the spec says (whole image if empty)."""
    h, w = mask.shape
    rows = torch.nonzero(mask.any(1)).flatten()
    cols = torch.nonzero(mask.any(0)).flatten()
    r0, r1 = (int(rows[0]), int(rows[-1])) if len(rows) else (0, h - 1)
    c0, c1 = (int(cols[0]), int(cols[-1])) if len(cols) else (0, w - 1)
    h0, h1 = max(int(r0 - theta_pad_h), 0), min(int(r1 + theta_pad_h), h)
    w0, w1 = max(int(c0 - theta_pad_w), 0), min(int(c1 + theta_pad_w), w)
    h1, w1 = max(h1, h0 + 1), max(w1, w0 + 1)  # at least one pixel
    return h0, h1, w0, w1


@torch.no_grad()
def boxes(norm, threshold=0.5, padding=0.1):
    _, h, w = norm.shape
    mask = norm >= threshold
    return [_box(mask[i], padding * h, padding * w) for i in range(norm.shape[0])]


@torch.no_grad()
def crop(images, box_list, mode="loop"):
    """Crop each image to its box and resize back (bilinear, align_corners)."""
    b, _, h, w = images.shape
    if mode == "loop":  # the reference's way
        return torch.stack([F.interpolate(images[i:i + 1, :, h0:h1, w0:w1], size=(h, w), mode="bilinear",
                                          align_corners=True)[0] for i, (h0, h1, w0, w1) in enumerate(box_list)])
    t = torch.tensor(box_list, dtype=images.dtype)  # [b, 4]: h0, h1, w0, w1
    i = torch.arange(h, dtype=images.dtype) / max(h - 1, 1)
    j = torch.arange(w, dtype=images.dtype) / max(w - 1, 1)
    ys = t[:, :1] + (t[:, 1:2] - 1 - t[:, :1]) * i  # [b, h] source rows
    xs = t[:, 2:3] + (t[:, 3:4] - 1 - t[:, 2:3]) * j
    gy = ys / max(h - 1, 1) * 2 - 1
    gx = xs / max(w - 1, 1) * 2 - 1
    grid = torch.stack([gx[:, None, :].expand(b, h, w), gy[:, :, None].expand(b, h, w)], -1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)


@torch.no_grad()
def crops(images, maps, threshold=0.5, padding=0.1, mode="loop"):
    """crop_1, crop_2, crop_3 (one map each) and crop_all (combined)."""
    size = images.shape[2:]
    norms = [_normalise(a, size) for a in maps]
    combined = sum(norms)
    flat = combined.flatten(1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    combined = ((flat - lo) / (hi - lo + 1e-6)).view_as(combined)
    out = [crop(images, boxes(n, threshold, padding), mode) for n in norms]
    out.append(crop(images, boxes(combined, threshold, padding), mode))
    return out


# --- training -----------------------------------------------------------------------------

def optimizer(model, lr_new=0.002, lr_backbone=0.0002, momentum=0.9, weight_decay=5e-4):
    backbone = list(model.backbone.parameters())
    ids = {id(p) for p in backbone}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return torch.optim.SGD([{"params": backbone, "lr": lr_backbone}, {"params": rest, "lr": lr_new}],
                           lr=lr_new, momentum=momentum, weight_decay=weight_decay)


def _step(model, opt, x, y, loss_of):
    opt.zero_grad(set_to_none=True)
    out = model(x)
    loss = loss_of(out, y)
    loss.backward()
    opt.step()
    return out, float(loss.detach())


def iteration(model: FineFace, opt, x, y, sources=None, rng=random, crop_mode="loop"):
    """The five steps; `sources` = (step-3 source, step-4 source) or drawn from `rng`.
    Returns the losses and the crops used."""
    model.train()
    ce = F.cross_entropy
    out, l3 = _step(model, opt, x, y, lambda o, t: ce(o["expert3"], t))
    # Crops from step 1's maps and logits, under the classifiers as updated by step 1.
    with torch.no_grad():
        maps = attention_maps(model, {k: v.detach() if torch.is_tensor(v) else v for k, v in out.items()})
        c1, c2, c3, call = crops(x, maps, mode=crop_mode)
    named = {"x": x, "crop1": c1, "crop2": c2, "crop3": c3}
    s2, s1 = sources or (rng.choice(["crop3", "crop1", "x"]), rng.choice(["crop3", "crop2", "x"]))
    _, l2 = _step(model, opt, named[s2], y, lambda o, t: ce(o["expert2"], t))
    _, l1 = _step(model, opt, named[s1], y, lambda o, t: ce(o["expert1"], t))
    _, lall = _step(model, opt, call, y, lambda o, t: ce(o["expert1"], t) + ce(o["expert2"], t)
                    + ce(o["expert3"], t) + 2 * ce(o["concat"], t))
    _, lcat = _step(model, opt, x, y, lambda o, t: 2 * ce(o["concat"], t))
    return {"expert3": l3, "expert2": l2, "expert1": l1, "crop_all": lall, "concat": lcat}, (c1, c2, c3, call)


def baseline_iteration(model: Baseline, opt, x, y):
    model.train()
    _, loss = _step(model, opt, x, y, lambda o, t: F.cross_entropy(o, t))
    return loss


@torch.no_grad()
def predict(model: FineFace, x, crop_mode="loop"):
    """Argmax of the 8 logits; also the concat-only and 4-heads-on-x logits."""
    model.eval()
    out = model(x)
    maps = attention_maps(model, out)
    call = crops(x, maps, mode=crop_mode)[3]
    on_crop = model(call)
    heads = out["expert1"] + out["expert2"] + out["expert3"] + out["concat"]
    eight = heads + on_crop["expert1"] + on_crop["expert2"] + on_crop["expert3"] + on_crop["concat"]
    return {"combined": eight, "concat": out["concat"], "heads": heads}
