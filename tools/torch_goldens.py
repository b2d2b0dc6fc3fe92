#!/usr/bin/env python3
"""Generate the PyTorch goldens that `crates/fineface-model/tests/*.rs` compare against.

* `resnet{18,50}_w{W}.safetensors`: torchvision's ResNet code at a reduced width (same module
  tree and parameter names as torchvision.models.resnet18/50, base width W instead of 64),
  random weights, BatchNorm statistics made non-trivial by a few training-mode passes and
  perturbed affine parameters. `resnet18_w8.pth` holds the same state dict as a pickle.
* `resnet{18,50}_w{W}_io.safetensors`: an input batch and, in eval mode, the classifier logits
  and the layer2/layer3/layer4 feature maps.
* `resnet18_w4_{f16,bf16,f64}.{pth,safetensors}`: one ResNet-18 at width 4, its state dict cast
  to half, bfloat16 and double precision (`model.half()`, `.bfloat16()`, `.double()`; integer
  buffers stay int64) and saved both ways; `resnet18_w4_precision_io.safetensors` holds an
  input, the fp32 model's logits (`logits_f32`) and, for each dtype, the logits of the fp32
  model running the weights rounded to that dtype (`logits_f16`, ...).
* `wrapped/`: the f16 ResNet-18 state dict above as training scripts save it: inside a
  checkpoint dict beside optimizer state (`state_dict`; torchvision's reference scripts'
  `model` with `args` as an argparse Namespace; a Lightning `.ckpt` with `state_dict.model.`
  keys; `model_best.pth.tar`; PyTorch's ImageNet example's `state_dict.module.` keys), with a `backbone.` prefix (safetensors), with an EMA copy
  beside the model (ambiguous: refused), and two files that are no state dict: a whole
  pickled module and a TorchScript archive (of a one-layer module, to stay small).
* `resnet50_manifest.json`: every parameter and buffer name and shape of the full-width
  torchvision resnet50 (no weights are downloaded: the model is built randomly initialised).
* `expert_head.safetensors` / `expert_head_io.safetensors`: a FineFACE expert head (conv block,
  global max pool, BN1d-Linear-BN1d-ELU-Linear classifier) at a small width, its eval-mode
  outputs and attention map (computed per sample, straight from the definition), and one
  training-mode forward with the BatchNorm running statistics it leaves behind.

    pip install torch torchvision safetensors
    python3 tools/torch_goldens.py              # every golden
    python3 tools/torch_goldens.py precision    # only the resnet18_w4 precision files
    python3 tools/torch_goldens.py wrapped      # only the wrapped/ checkpoints
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from safetensors.torch import save_file
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

sys.path.insert(0, str(Path(__file__).resolve().parent / "reference"))
from fineface_torch import Classifier, ConvBlock  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "crates/fineface-model/tests/data/torch"


class NarrowResNet(ResNet):
    """torchvision's ResNet with base width `width` instead of 64; everything else (block
    code, `_make_layer`, initialisation, parameter names) is torchvision's own."""

    def __init__(self, block, layers, width: int, num_classes: int):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = width
        self.dilation = 1
        self.groups = 1
        self.base_width = 64  # Bottleneck inner width = planes, as in torchvision's resnet50
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def taps(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        l1 = self.layer1(x)
        l2 = self.layer2(l1)
        l3 = self.layer3(l2)
        l4 = self.layer4(l3)
        logits = self.fc(torch.flatten(self.avgpool(l4), 1))
        return {"layer2": l2, "layer3": l3, "layer4": l4, "logits": logits}


def make_nontrivial(model: nn.Module, gen: torch.Generator, shape):
    """Give BatchNorm real statistics (train-mode passes on random data) and non-trivial
    affine parameters, so eval mode exercises every term of the normalisation."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(*shape, generator=gen))
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
    model.eval()


def resnet_case(name, block, layers, width, gen, pth=False):
    model = NarrowResNet(block, layers, width, num_classes=10)
    make_nontrivial(model, gen, (4, 3, 64, 64))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, OUT / f"{name}.safetensors")
    if pth:
        torch.save(model.state_dict(), OUT / f"{name}.pth")
    x = torch.randn(2, 3, 64, 64, generator=gen)
    with torch.no_grad():
        taps = model.taps(x)
    save_file({"input": x, **{k: v.contiguous() for k, v in taps.items()}}, OUT / f"{name}_io.safetensors")
    print(name, {k: tuple(v.shape) for k, v in taps.items()})


def precision_case(gen):
    """Weights saved in reduced or extended precision, as training scripts write them."""
    model = NarrowResNet(BasicBlock, [2, 2, 2, 2], 4, num_classes=10)
    make_nontrivial(model, gen, (4, 3, 64, 64))
    model.eval()
    x = torch.randn(2, 3, 64, 64, generator=gen)
    io = {"input": x}
    with torch.no_grad():
        io["logits_f32"] = model(x)
    state = model.state_dict()
    for tag, dtype in [("f16", torch.float16), ("bf16", torch.bfloat16), ("f64", torch.float64)]:
        cast = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in state.items()}
        torch.save(cast, OUT / f"resnet18_w4_{tag}.pth")
        save_file(cast, OUT / f"resnet18_w4_{tag}.safetensors")
        rounded = NarrowResNet(BasicBlock, [2, 2, 2, 2], 4, num_classes=10)
        rounded.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in cast.items()})
        rounded.eval()
        with torch.no_grad():
            io[f"logits_{tag}"] = rounded(x)
    save_file({k: v.contiguous() for k, v in io.items()}, OUT / "resnet18_w4_precision_io.safetensors")
    print("precision", {k: float((v - io["logits_f32"]).abs().max()) for k, v in io.items() if k.startswith("logits")})


# ------------------------------------------------------------------------------------------
# FineFACE expert head, with the module names of the Rust implementation.


# The conv block and classifier are the reference's (tools/reference/fineface_torch.py).


class ExpertHead(nn.Module):
    def __init__(self, cin, block_hidden, features, cls_hidden, n_classes):
        super().__init__()
        self.conv_block = ConvBlock(cin, block_hidden, features)
        self.classifier = Classifier(features, cls_hidden, n_classes)

    def forward(self, x):
        fmap = self.conv_block(x)
        pooled = torch.amax(fmap, dim=(2, 3))  # a true global max pool
        return fmap, pooled, self.classifier(pooled)


def attention_per_sample(head: ExpertHead, fmap, logits):
    """FINEFACE.md's definition, one sample at a time."""
    wa = head.classifier.fc1.weight  # [hidden, features]
    wb = head.classifier.fc2.weight  # [n_classes, hidden]
    maps = []
    for i in range(fmap.shape[0]):
        c = int(torch.argmax(logits[i]))
        h, w = fmap.shape[2:]
        a = torch.zeros(h, w)
        for j in range(wb.shape[1]):
            a += wb[c, j] * torch.einsum("m,muv->uv", wa[j], fmap[i])
        maps.append(a)
    return torch.stack(maps)


def expert_case(gen):
    head = ExpertHead(cin=12, block_hidden=8, features=16, cls_hidden=8, n_classes=3)
    make_nontrivial(head, gen, (6, 12, 5, 5))
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, OUT / "expert_head.safetensors")
    x = torch.randn(4, 12, 5, 7, generator=gen)
    with torch.no_grad():
        fmap, pooled, logits = head(x)
        attention = attention_per_sample(head, fmap, logits)
    io = {"input": x, "feature_map": fmap, "pooled": pooled, "logits": logits, "attention": attention}
    # One training-mode forward: batch statistics in the output, running statistics updated
    # (PyTorch: unbiased batch variance into running_var, momentum 0.01 / 0.1).
    head.train()
    with torch.no_grad():
        t_fmap, t_pooled, t_logits = head(x)
    io.update({"train_feature_map": t_fmap, "train_logits": t_logits})
    for k, v in head.state_dict().items():
        if "running" in k:
            io[f"after_train.{k}"] = v
    save_file({k: v.contiguous() for k, v in io.items()}, OUT / "expert_head_io.safetensors")
    print("expert_head", {k: tuple(v.shape) for k, v in io.items() if not k.startswith("after")})


def wrapped_case():
    """The precision case's f16 state dict (the same file, so the same logits), wrapped."""
    import argparse

    out = OUT / "wrapped"
    out.mkdir(exist_ok=True)
    torch.manual_seed(20261205)
    state = torch.load(OUT / "resnet18_w4_f16.pth")
    model = NarrowResNet(BasicBlock, [2, 2, 2, 2], 4, num_classes=10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    optimizer.step()
    opt = optimizer.state_dict()
    torch.save({"state_dict": state, "optimizer": opt, "epoch": 3}, out / "state_dict.pth")
    # PyTorch's ImageNet example saves `DataParallel(model).state_dict()` so: `module.` keys.
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 90},
               out / "data_parallel.pth.tar")
    torch.save(
        {"model": state, "optimizer": opt, "lr_scheduler": {"last_epoch": 89}, "epoch": 89,
         "args": argparse.Namespace(lr=0.1, model="resnet18")},
        out / "model_best.pth.tar",
    )
    torch.save(
        {"epoch": 3, "global_step": 120, "pytorch-lightning_version": "2.4.0",
         "state_dict": {f"model.{k}": v for k, v in state.items()},
         "optimizer_states": [opt], "lr_schedulers": [], "hyper_parameters": {"lr": 0.1}},
        out / "lightning.ckpt",
    )
    save_file({f"backbone.{k}": v.contiguous() for k, v in state.items()}, out / "backbone_prefix.safetensors")
    ema = {k: (v * 0.5 if v.is_floating_point() else v) for k, v in state.items()}
    torch.save({"state_dict": state, "state_dict_ema": ema}, out / "with_ema.pth")
    tiny = nn.Sequential(nn.Conv2d(3, 2, 1))
    torch.save(tiny, out / "whole_module.pth")
    torch.jit.save(torch.jit.script(tiny), out / "torchscript.pt")
    print("wrapped", sorted(p.name for p in out.iterdir()))


def manifest():
    model = torchvision.models.resnet50(weights=None)
    entries = [{"name": k, "shape": list(v.shape)} for k, v in model.state_dict().items()]
    (OUT / "resnet50_manifest.json").write_text(json.dumps(
        {"source": f"torchvision {torchvision.__version__} models.resnet50()", "entries": entries}, indent=0) + "\n")
    print("manifest", len(entries), "entries")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    if sys.argv[1:] == ["wrapped"]:
        wrapped_case()
        return
    if sys.argv[1:] == ["precision"]:
        # Only the precision files (added later; leaves the other goldens untouched).
        precision_case(torch.Generator().manual_seed(20261204))
        return
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20261128)
    resnet_case("resnet18_w8", BasicBlock, [2, 2, 2, 2], 8, gen, pth=True)
    resnet_case("resnet50_w4", Bottleneck, [3, 4, 6, 3], 4, gen)
    expert_case(gen)
    manifest()
    precision_case(torch.Generator().manual_seed(20261204))
    wrapped_case()


if __name__ == "__main__":
    main()
