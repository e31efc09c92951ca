"""The torchvision side of the parity test (tests/parity.rs).

export DIR: for each ResNet, a torchvision model with its own init and randomised batch-norm
  parameters and statistics, saved as DIR/<arch>/model.safetensors (its full state_dict,
  num_batches_tracked included) beside a model.json, with its eval-mode logits on
  DIR/input.safetensors in DIR/<arch>/torchvision_logits.safetensors, and those of the same
  model and input laid out channels_last in DIR/<arch>/torchvision_logits_channels_last.safetensors.
check DIR: loads each DIR/<arch>/model.safetensors written by resnet-napi into
  torchvision.models.<arch> with load_state_dict (only num_batches_tracked may be missing) and
  prints the largest difference from DIR/<arch>/project_logits.safetensors as JSON.
"""
import json, sys
import torch, torchvision
from safetensors.torch import load_file, save_file

ARCHS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
CLASSES = 7


def randomise_batch_norm(model, generator):
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            with torch.no_grad():
                module.weight.copy_(1 + 0.1 * torch.randn(module.weight.shape, generator=generator))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
                module.running_mean.copy_(0.1 * torch.randn(module.running_mean.shape, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(module.running_var.shape, generator=generator))


def export(root):
    generator = torch.Generator().manual_seed(0)
    save_file({"input": torch.randn(2, 3, 64, 64, generator=generator)}, f"{root}/input.safetensors")
    x = load_file(f"{root}/input.safetensors")["input"]
    for arch in ARCHS:
        model = getattr(torchvision.models, arch)(num_classes=CLASSES).eval()
        randomise_batch_norm(model, generator)
        state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
        import os
        os.makedirs(f"{root}/{arch}", exist_ok=True)
        save_file(state, f"{root}/{arch}/model.safetensors")
        meta = {"format": "resnet-napi/1", "arch": arch, "classes": [f"c{i}" for i in range(CLASSES)],
                "imageSize": 64, "preprocess": {"resize": "stretch", "mean": [0.5] * 3, "std": [0.5] * 3}}
        json.dump(meta, open(f"{root}/{arch}/model.json", "w"))
        with torch.no_grad():
            save_file({"logits": model(x)}, f"{root}/{arch}/torchvision_logits.safetensors")
            model = model.to(memory_format=torch.channels_last)
            logits = model(x.contiguous(memory_format=torch.channels_last))
            save_file({"logits": logits.contiguous()}, f"{root}/{arch}/torchvision_logits_channels_last.safetensors")


def check(root):
    x = load_file(f"{root}/input.safetensors")["input"]
    report = {}
    for arch in ARCHS:
        model = getattr(torchvision.models, arch)(num_classes=CLASSES).eval()
        result = model.load_state_dict(load_file(f"{root}/{arch}/model.safetensors"), strict=False)
        bad_missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
        with torch.no_grad():
            difference = (model(x) - load_file(f"{root}/{arch}/project_logits.safetensors")["logits"]).abs().max().item()
        report[arch] = {"maxDifference": difference, "missing": bad_missing, "unexpected": result.unexpected_keys}
    print(json.dumps(report))


if __name__ == "__main__":
    {"export": export, "check": check}[sys.argv[1]](sys.argv[2])
