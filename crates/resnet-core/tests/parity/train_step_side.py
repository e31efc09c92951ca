"""The PyTorch side of tests/train_step.rs and of its initialisation check.

step DIR: reads DIR/setup.json, DIR/initial.safetensors (the project's initial resnet18
  state_dict; float64, as everything here) and DIR/batches.safetensors (inputs, labels, the learning rate of each step,
  and optional class weights); trains torchvision's resnet18 from those weights on those
  batches with torch.optim.AdamW(fused=True) (batch-norm weights and biases in a group without weight
  decay), label-smoothed and optionally class-weighted cross-entropy and optional gradient
  clipping, in train mode, in the layout setup.json names; writes the final state_dict and
  each step's loss to DIR/torch.safetensors.
init DIR: for each ResNet, writes the mean, std and largest magnitude of every tensor of a
  freshly built torchvision model (7 classes) to DIR/init.json.
"""
import json, sys
import torch, torchvision
from safetensors.torch import load_file, save_file

ARCHS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


def step(root):
    setup = json.load(open(f"{root}/setup.json"))
    torch.set_num_threads(1)
    batches = load_file(f"{root}/batches.safetensors")
    model = torchvision.models.resnet18(num_classes=setup["classes"]).double()
    result = model.load_state_dict(load_file(f"{root}/initial.safetensors"), strict=False)
    assert not result.unexpected_keys and all(k.endswith("num_batches_tracked") for k in result.missing_keys), result
    if setup["channelsLast"]:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    no_decay = {id(p) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters()}
    no_decay |= {id(p) for name, p in model.named_parameters() if name.endswith(".bias")}
    decay = [p for p in model.parameters() if id(p) not in no_decay]
    rest = [p for p in model.parameters() if id(p) in no_decay]
    groups = [{"params": decay, "weight_decay": setup["weightDecay"]}, {"params": rest, "weight_decay": 0.0}]
    # fused=True: the kernel the project runs.
    optimizer = torch.optim.AdamW(groups, lr=1.0, betas=(0.9, 0.999), eps=1e-8, fused=True)
    weight = batches.get("classWeights")
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=setup["labelSmoothing"])
    losses = []
    for index, lr in enumerate(batches["lrs"].tolist()):
        x = batches[f"input.{index}"]
        if setup["channelsLast"]:
            x = x.contiguous(memory_format=torch.channels_last)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), batches[f"labels.{index}"])
        loss.backward()
        if setup["gradientClip"] is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), setup["gradientClip"])
        optimizer.step()
        losses.append(loss.item())
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items() if not name.endswith("num_batches_tracked")}
    state["losses"] = torch.tensor(losses, dtype=torch.float64)
    save_file(state, f"{root}/torch.safetensors")


def init(root):
    torch.manual_seed(0)
    report = {}
    for arch in ARCHS:
        model = getattr(torchvision.models, arch)(num_classes=7)
        report[arch] = {
            name: {"shape": list(t.shape), "mean": t.float().mean().item(), "std": t.float().std().item() if t.numel() > 1 else 0.0,
                   "maxAbs": t.float().abs().max().item()}
            for name, t in model.state_dict().items() if not name.endswith("num_batches_tracked")
        }
    json.dump(report, open(f"{root}/init.json", "w"))


if __name__ == "__main__":
    {"step": step, "init": init}[sys.argv[1]](sys.argv[2])
