"""Training throughput of DiorNet against torchvision's Mask R-CNN, same backbone, same images.

A DIOR step reads three-frame clips (t-1, t, t+1: three backbone passes, temporal attention,
the SA embedding head and ``loss_emb``); the reference step is torchvision's
``MaskRCNN`` on frame t alone, built with the same backbone, image size and heads. Both
run the same optimizer (SGD, momentum 0.9), the same number of steps on the same random
clips with ``boxes_per_frame`` box-shaped objects, in separate processes so that each peak
memory is its own (CUDA: ``max_memory_allocated``; CPU: peak resident set size).

    python benchmarks/train_throughput.py                       # CPU: resnet18, 320x544, batch 1
    python benchmarks/train_throughput.py --device cuda --backbone resnet50 \\
        --height 608 --width 1088 --batch 4 --amp              # the issue's GPU setting

Prints ``RESULT train_throughput it_s=... reference_it_s=... ratio=... peak_mb=... memory_ratio=...``
where ``ratio`` is DIOR's seconds per step over the reference's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--backbone", default="resnet18", choices=("resnet18", "resnet50"))
    parser.add_argument("--height", type=int, default=320, help="frame height, pixels (default 320)")
    parser.add_argument("--width", type=int, default=544, help="frame width, pixels (default 544)")
    parser.add_argument("--batch", type=int, default=1, help="clips per step (default 1)")
    parser.add_argument("--steps", type=int, default=6, help="timed steps (default 6)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    parser.add_argument("--boxes-per-frame", type=int, default=8, help="objects per frame (default 8)")
    parser.add_argument("--amp", action="store_true", help="float16 autocast with loss scaling (CUDA only)")
    parser.add_argument("--worker", choices=("dior", "reference"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def make_batch(args: argparse.Namespace, step: int, device):
    """``batch`` random clips ``(3, 3, H, W)`` and frame-t targets with box-shaped masks."""
    import torch

    generator = torch.Generator().manual_seed(step)
    clips, targets = [], []
    for _ in range(args.batch):
        clips.append(torch.rand(3, 3, args.height, args.width, generator=generator).to(device))
        n = args.boxes_per_frame
        xy = torch.rand(n, 2, generator=generator) * torch.tensor([args.width * 0.8, args.height * 0.8])  # (n, 2) top-left
        wh = 16 + torch.rand(n, 2, generator=generator) * torch.tensor([args.width * 0.15, args.height * 0.3])  # (n, 2)
        boxes = torch.cat([xy, (xy + wh).minimum(torch.tensor([args.width, args.height]) - 1)], dim=1).floor()  # (n, 4) xyxy
        masks = torch.zeros(n, args.height, args.width, dtype=torch.uint8)
        for k, (x1, y1, x2, y2) in enumerate(boxes.long().tolist()):
            masks[k, y1:y2, x1:x2] = 1
        targets.append({"boxes": boxes.to(device), "labels": torch.randint(1, 3, (n,), generator=generator).to(device), "masks": masks.to(device),
                        "identities": torch.arange(n).to(device)})
    return clips, targets


def build(args: argparse.Namespace, which: str):
    from dior_cli.model.config import ModelConfig

    config = ModelConfig(backbone=args.backbone, min_size=args.height, max_size=max(args.height, args.width),
                         num_identities=args.boxes_per_frame, trainable_backbone_layers=3)
    if which == "dior":
        from dior_cli.model.network import DiorNet

        return DiorNet(config)
    from torchvision.models.detection import MaskRCNN

    from dior_cli.model.parts import build_backbone

    return MaskRCNN(build_backbone(config), num_classes=config.num_classes, min_size=config.min_size, max_size=config.max_size,
                    rpn_pre_nms_top_n_train=config.rpn_pre_nms_top_n_train, rpn_post_nms_top_n_train=config.rpn_post_nms_top_n_train,
                    box_batch_size_per_image=config.box_batch_size_per_image)


def worker(args: argparse.Namespace) -> dict:
    """Time ``args.steps`` training steps of one model; print its figures as JSON."""
    import torch

    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build(args, args.worker).to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    use_amp = args.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    batches = [make_batch(args, step, device) for step in range(args.warmup + args.steps)]
    seconds = 0.0
    for step, (clips, targets) in enumerate(batches):
        if args.worker == "reference":
            clips = [clip[1] for clip in clips]  # frame t alone, (3, H, W)
            targets = [{k: v for k, v in t.items() if k != "identities"} for t in targets]
        if device.type == "cuda":
            torch.cuda.synchronize()
        tick = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            losses = model(clips, targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(sum(losses.values())).backward()
        scaler.step(optimizer)
        scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= args.warmup:
            seconds += time.perf_counter() - tick
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {"it_s": args.steps / seconds, "peak_mb": peak_mb}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return
    results = {}
    for which in ("reference", "dior"):
        command = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]), "--worker", which]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[which] = json.loads(output.strip().splitlines()[-1])
        print(f"{which:9s}: {results[which]['it_s']:.3f} steps/s, peak {results[which]['peak_mb']:.0f} MB")
    dior, ref = results["dior"], results["reference"]
    print(f"setting: {args.backbone}, {args.height}x{args.width}, batch {args.batch} clips, {args.device}{', amp' if args.amp else ''}")
    print(f"RESULT train_throughput it_s={dior['it_s']:.3f} reference_it_s={ref['it_s']:.3f} ratio={ref['it_s'] / dior['it_s']:.2f} "
          f"peak_mb={dior['peak_mb']:.0f} memory_ratio={dior['peak_mb'] / ref['peak_mb']:.2f}")


if __name__ == "__main__":
    main()
