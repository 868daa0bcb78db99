#!/usr/bin/python3
"""PyTorch twin of bench/step.ts: ResNet-20 (CIFAR-style, 1x1 conv + BN projection shortcuts, as in
src/nn/models/resnet.ts) on 1x28x28 inputs, batch 128, SGD with momentum; fp32 channels_last and
bf16 autocast. Prints one JSON line per variant: median ms/step and peak RSS (MiB)."""
import argparse, json, os, resource, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self, cin=1, classes=10, n=3):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, c = [], 16
        for i, w in enumerate([16, 32, 64]):
            for j in range(n):
                layers.append(Block(c, w, 2 if (i > 0 and j == 0) else 1))
                c = w
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def bench(variant, steps, batch):
    torch.manual_seed(0)
    model = ResNet20()
    x = torch.randn(batch, 1, 28, 28)
    y = torch.arange(batch) % 10
    if variant.startswith('fp32-channels_last') or variant.startswith('bf16'):
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        if variant.startswith('bf16'):
            with torch.autocast('cpu', dtype=torch.bfloat16):
                loss = F.cross_entropy(model(x), y)
        else:
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return float(loss)

    step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = step()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {'bench': 'step', 'impl': 'torch-' + variant, 'torch': torch.__version__, 'threads': torch.get_num_threads(),
            'batch': batch, 'msPerStep': round(times[len(times) // 2], 2),
            'peakRssMiB': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), 'loss': round(loss, 4)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--batch', type=int, default=128)
    a = p.parse_args()
    threads = int(os.environ.get('FQT_THREADS', '0')) or os.cpu_count()
    torch.set_num_threads(threads)
    for variant in ['fp32-channels_last', 'bf16-autocast']:
        print(json.dumps(bench(variant, a.steps, a.batch)), flush=True)


if __name__ == '__main__':
    main()
