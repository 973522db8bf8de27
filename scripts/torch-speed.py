#!/usr/bin/env python3
"""Side by side with PyTorch, in one run, on one thread.

Runs the `speed` tool (`tools/src/bin/speed.rs`; the cases of BENCHMARKS.md's speed table)
and, where PyTorch is importable, times the same cases in PyTorch eager mode:
the official VICReg loss forward and backward at each (n, d), and the digits
(MLP and CNN), motions (Conv1d) and small training steps (same networks, optimisers and batch
sizes, on fixed views). Prints both and the ratio PyTorch time / our time.

    python3 scripts/torch-speed.py            # default build
    python3 scripts/torch-speed.py --native   # RUSTFLAGS="-C target-cpu=native"

Not part of the test suite. Without PyTorch it prints our figures and says so.
"""

import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ours(native):
    env = dict(os.environ)
    command = ["cargo", "run", "--quiet", "--release", "-p", "vicreg-tools", "--bin", "speed"]
    if native:
        env["RUSTFLAGS"] = "-C target-cpu=native"
        env["CARGO_TARGET_DIR"] = os.path.join(ROOT, "target", "native")
    out = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    print(out)
    rows = {}
    for line in out.splitlines():
        m = re.match(r"\| (.+?) \| ([0-9.]+) \|", line)
        if m:
            rows[m.group(1)] = float(m.group(2))
    return rows


def median_us(f, budget=2.0):
    f()
    start = time.perf_counter()
    f()
    once = max(time.perf_counter() - start, 1e-9)
    per_batch = max(1, int(1e-3 / once + 1))
    batches = min(15, max(3, int(budget / (once * per_batch))))
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(per_batch):
            f()
        times.append((time.perf_counter() - start) / per_batch)
    return statistics.median(times) * 1e6


def torch_cases():
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(0)

    def off_diagonal(m):
        d = m.shape[0]
        return m.flatten()[:-1].view(d - 1, d + 1)[:, 1:].flatten()

    def vicreg(x, y):
        # The official implementation's loss (facebookresearch/vicreg), with
        # its defaults 25, 25, 1.
        n, d = x.shape
        repr_loss = F.mse_loss(x, y)
        x = x - x.mean(dim=0)
        y = y - y.mean(dim=0)
        std_x = torch.sqrt(x.var(dim=0) + 0.0001)
        std_y = torch.sqrt(y.var(dim=0) + 0.0001)
        std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2
        cov_x = (x.T @ x) / (n - 1)
        cov_y = (y.T @ y) / (n - 1)
        cov_loss = off_diagonal(cov_x).pow_(2).sum().div(d) + off_diagonal(cov_y).pow_(2).sum().div(d)
        return 25.0 * repr_loss + 25.0 * std_loss + 1.0 * cov_loss

    times = {}
    for n, d in [(32, 32), (128, 128), (256, 256), (256, 1024), (1024, 2048)]:
        a = 1.5 * (2 * torch.rand(n, d) - 1)
        b = (a + 0.3 * (2 * torch.rand(n, d) - 1)).requires_grad_()
        a.requires_grad_()

        def step():
            a.grad = None
            b.grad = None
            vicreg(a, b).backward()

        times[f"loss+grad ({n}, {d})"] = median_us(step, 8.0 if n * d * d > 1 << 28 else 2.0)

    def training(encoder, expander, optimiser, n, inputs):
        x_a, x_b = torch.randn(n, inputs), torch.randn(n, inputs)

        def step():
            optimiser.zero_grad()
            loss = vicreg(expander(encoder(x_a)), expander(encoder(x_b)))
            loss.backward()
            optimiser.step()

        return median_us(step)

    enc = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 32))
    exp = nn.Sequential(nn.Linear(32, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 64, bias=False))
    opt = torch.optim.AdamW(list(enc.parameters()) + list(exp.parameters()), lr=1e-3, weight_decay=0.0)
    times["digits training step (batch 128, AdamW)"] = training(enc, exp, opt, 128, 64)
    class MeanSpace(nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3))

    class Images(nn.Module):
        """The flat 64-pixel rows as 1×8×8 images, as the crate stores them."""
        def forward(self, x):
            return x.view(-1, 1, 8, 8)

    enc = nn.Sequential(
        Images(),
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), MeanSpace(), nn.Linear(64, 64))
    exp = nn.Sequential(nn.Linear(64, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 256, bias=False))
    opt = torch.optim.AdamW(list(enc.parameters()) + list(exp.parameters()), lr=2e-3, weight_decay=1e-4)
    times["digits CNN training step (batch 128, AdamW)"] = training(enc, exp, opt, 128, 64)
    class Recordings(nn.Module):
        """The flat rows as 6×96 channel-major windows, as the crate stores them."""
        def forward(self, x):
            return x.view(-1, 6, 96)

    class MeanTime(nn.Module):
        def forward(self, x):
            return x.mean(dim=2)

    enc = nn.Sequential(
        Recordings(),
        nn.Conv1d(6, 16, 5), nn.BatchNorm1d(16), nn.ReLU(),
        nn.Conv1d(16, 32, 5, stride=2), nn.BatchNorm1d(32), nn.ReLU(),
        nn.Conv1d(32, 32, 3, stride=2), nn.ReLU(), MeanTime(), nn.Linear(32, 32))
    exp = nn.Sequential(nn.Linear(32, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 64, bias=False))
    opt = torch.optim.AdamW(list(enc.parameters()) + list(exp.parameters()), lr=1e-3, weight_decay=0.0)
    times["motions training step (batch 20, AdamW)"] = training(enc, exp, opt, 20, 576)
    enc = nn.Sequential(nn.Linear(32, 24), nn.ReLU(), nn.Linear(24, 8))
    exp = nn.Sequential(nn.Linear(8, 24), nn.BatchNorm1d(24), nn.ReLU(), nn.Linear(24, 24, bias=False))
    opt = torch.optim.SGD(list(enc.parameters()) + list(exp.parameters()), lr=1e-2, momentum=0.9, weight_decay=1e-4)
    times["small training step (batch 16, SGD)"] = training(enc, exp, opt, 16, 32)
    return times, torch.__version__


def main():
    native = "--native" in sys.argv[1:]
    rows = ours(native)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("PyTorch is not importable here: only our figures are printed.")
        return
    theirs, version = torch_cases()
    build = "native" if native else "default"
    print(f"PyTorch {version}, eager, one thread; ours: {build} build")
    print("| case | PyTorch µs | ours µs | × PyTorch |")
    print("|---|---|---|---|")
    for case, t in theirs.items():
        mine = rows.get(case)
        ratio = f"{t / mine:.2f}" if mine else "-"
        print(f"| {case} | {t:.1f} | {mine if mine else '-'} | {ratio} |")


if __name__ == "__main__":
    main()
