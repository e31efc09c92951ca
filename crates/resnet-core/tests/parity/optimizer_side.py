"""The PyTorch side of tests/optimizer.rs: replays the same updates with torch.optim.

Reads DIR/start.safetensors (initial parameters, their targets, the learning rate of each
step) and DIR/setup.json (optimiser settings), minimises sum((p - target)^2 * weight) for
that many steps with torch.optim, and writes the final parameters to DIR/torch.safetensors.
Batch-norm weights and biases form a group without weight decay, as in the project.
"""
import json, sys
import torch
from safetensors.torch import load_file, save_file

root = sys.argv[1]
start = load_file(f"{root}/start.safetensors")
setup = json.load(open(f"{root}/setup.json"))
names = setup["names"]
params = {n: torch.nn.Parameter(start[f"param.{n}"].clone()) for n in names}
decay = [params[n] for n in names if n in setup["decayed"]]
no_decay = [params[n] for n in names if n not in setup["decayed"]]
groups = [{"params": decay, "weight_decay": setup["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}]
kind = setup["kind"]
if kind == "adam":
    optimizer = torch.optim.Adam(groups, lr=1.0, betas=(0.9, 0.999), eps=1e-8, foreach=False)
elif kind == "adamw":
    optimizer = torch.optim.AdamW(groups, lr=1.0, betas=(0.9, 0.999), eps=1e-8, foreach=False)
else:
    optimizer = torch.optim.SGD(groups, lr=1.0, momentum=0.9, nesterov=setup["nesterov"], foreach=False)
for lr in start["lrs"].tolist():
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad()
    loss = sum(((params[n] - start[f"target.{n}"]) ** 2 * start[f"weight.{n}"]).sum() for n in names)
    loss.backward()
    optimizer.step()
save_file({f"param.{n}": params[n].detach().contiguous() for n in names}, f"{root}/torch.safetensors")
