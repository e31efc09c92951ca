"""PyTorch side of the training-step benchmark: torchvision's ResNet with the notebook's head
size (80 classes), Adam lr 0.005 and cross-entropy, on synthetic tensors; or, with --mode infer,
its forward pass under inference_mode. Prints one JSON line with images per second over the
timed steps (the same loop as the project's examples/train-step-bench.rs). On CUDA the clock
stops after the device has finished the queued work.

usage: pytorch_train_step.py --arch resnet18 --batch-size 32 --image-size 128 --steps 10
       [--warmup 3] [--threads N] [--channels-last] [--device cuda] [--bf16] [--mode infer]
"""
import argparse, contextlib, json, time

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
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast, as torch.autocast documents it")
    ap.add_argument("--mode", default="train", choices=["train", "infer"])
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    model = getattr(torchvision.models, a.arch)(num_classes=a.classes).to(device)
    x = torch.randn(a.batch_size, 3, a.image_size, a.image_size, device=device)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, a.classes, (a.batch_size,), device=device)
    opt = torch.optim.Adam(model.parameters(), lr=0.005)
    lossf = torch.nn.CrossEntropyLoss()
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16) if a.bf16 else contextlib.nullcontext()

    def train_step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = lossf(model(x), y)
        loss.backward()
        opt.step()

    def infer_step():
        with torch.inference_mode(), autocast():
            model(x)

    if a.mode == "train":
        model.train()
        step = train_step
    else:
        model.eval()
        step = infer_step
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(a.warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    sync()
    seconds = time.perf_counter() - t0
    print(json.dumps({"arch": a.arch, "batchSize": a.batch_size, "imageSize": a.image_size,
                      "layout": "channels-last" if a.channels_last else "contiguous", "device": a.device,
                      "precision": "bf16" if a.bf16 else "fp32", "mode": a.mode, "steps": a.steps,
                      "seconds": seconds, "imagesPerSecond": a.batch_size * a.steps / seconds,
                      "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
