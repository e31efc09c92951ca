"""What the PyTorch sides of the accuracy benchmarks (bench/photos_pytorch.py,
bench/fashion_mnist_pytorch.py) share: the project's optimiser groups, the training epoch and
the evaluation pass."""
import torch, torch.nn as nn


def adamw_groups(net, weight_decay):
    """Two parameter groups as the project's: weight decay on every weight but batch-norm
    weights and biases, none on those."""
    no_decay = {id(p) for m in net.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters()}
    no_decay |= {id(p) for name, p in net.named_parameters() if name.endswith(".bias")}
    return [{"params": [p for p in net.parameters() if id(p) not in no_decay], "weight_decay": weight_decay},
            {"params": [p for p in net.parameters() if id(p) in no_decay], "weight_decay": 0.0}]


def evaluate(net, loader, loss_fn):
    """Mean loss, accuracy and count of `net` in eval mode over `loader`."""
    net.eval()
    loss = correct = n = 0
    with torch.no_grad():
        for x, y in loader:
            out = net(x)
            loss += loss_fn(out, y).item() * len(y)
            correct += (out.argmax(1) == y).sum().item()
            n += len(y)
    return loss / n, correct / n, n


def train_epoch(net, loader, opt, schedule, train_loss_fn, report_loss_fn):
    """One epoch of updates (the schedule stepped per batch); returns the mean of
    `report_loss_fn` over the batches' outputs and the training accuracy."""
    net.train()
    loss_sum = correct = n = 0
    for x, y in loader:
        out = net(x)
        loss = train_loss_fn(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
        with torch.no_grad():
            reported = loss if report_loss_fn is train_loss_fn else report_loss_fn(out, y)
        loss_sum += reported.item() * len(y)
        correct += (out.argmax(1) == y).sum().item()
        n += len(y)
    return loss_sum / n, correct / n
