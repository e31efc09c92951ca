"""PyTorch side of the training-step benchmark: torchvision's ResNet with the notebook's head
size (80 classes), Adam lr 0.005 and cross-entropy, on synthetic tensors. Prints one JSON line
with images per second over the timed steps (the same loop as the project's
examples/train-step-bench.rs).

usage: pytorch_train_step.py --arch resnet18 --batch-size 32 --image-size 128 --steps 10
       [--warmup 3] [--threads N] [--channels-last]
"""
import argparse, json, time

import torch, torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--classes", type=int, default=80)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--channels-last", action="store_true")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = getattr(torchvision.models, a.arch)(num_classes=a.classes)
    x = torch.randn(a.batch_size, 3, a.image_size, a.image_size)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, a.classes, (a.batch_size,))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=0.005)
    lossf = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        lossf(model(x), y).backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    seconds = time.perf_counter() - t0
    print(json.dumps({"arch": a.arch, "batchSize": a.batch_size, "imageSize": a.image_size,
                      "layout": "channels-last" if a.channels_last else "contiguous", "steps": a.steps,
                      "seconds": seconds, "imagesPerSecond": a.batch_size * a.steps / seconds,
                      "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
