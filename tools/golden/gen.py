#!/usr/bin/env python3
"""PyTorch golden fixtures for fqt (DESIGN.md "Testing ladder", step 3).

Run with the Debian interpreter (python3-torch 1.13, CPU):

    /usr/bin/python3 tools/golden/gen.py

It writes small JSON files into test/golden/ that are committed; test/golden/*.test.ts compare fqt
against them. Never regenerate a golden to make a test pass: a difference is a bug in fqt (or in this
generator, which then needs a reviewed fix).

Conventions
- Every section seeds its own generator (torch.manual_seed), so the output is deterministic and adding
  a section does not change the others.
- Inputs and initial weights are drawn in float32; torch then computes in float64 from those exact
  values, so a fixture holds the mathematically exact answer rounded once to float32. fqt's float32
  error is then the only difference the tests have to tolerate.
- A tensor is {"shape": [...], "data": [... row-major ...]} with 9 significant digits, which
  round-trips float32 exactly (Math.fround(parsed) is the stored float32).
- Gradients of an op with a non-scalar output are those of L = sum(out * gy) for a stored random gy.
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'golden')


def T(t):
    """Encode a tensor with its shape."""
    flat = t.detach().to(torch.float32).contiguous()
    return {'shape': list(flat.shape), 'data': [float('%.9g' % v) for v in flat.reshape(-1).tolist()]}


def randn(*shape, std=1.0, mean=0.0):
    """float32 normal values, returned as float64 (exactly the same numbers)."""
    return (torch.randn(*shape, dtype=torch.float32) * std + mean).to(torch.float32).double()


def leaf(t):
    return t.clone().requires_grad_(True)


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
        f.write('\n')
    print(f'{name}: {os.path.getsize(path)} bytes')


# --------------------------------------------------------------------------------------------- conv2d
def gen_conv2d():
    torch.manual_seed(1)
    cases = []
    # (name, x shape, w shape, bias, stride, padding)
    for name, xs, ws, bias, stride, pad in [
        ('k3_s2_p1_bias', (2, 3, 7, 7), (4, 3, 3, 3), True, 2, 1),
        ('k2x3_s1_p0_nobias', (1, 2, 6, 5), (3, 2, 2, 3), False, 1, 0),
        ('k5_s3_p2_bias', (2, 1, 9, 8), (2, 1, 5, 5), True, 3, 2),
        ('k1_s2_p0_nobias', (2, 4, 5, 5), (3, 4, 1, 1), False, 2, 0),
    ]:
        x, w = leaf(randn(*xs)), leaf(randn(*ws, std=0.5))
        b = leaf(randn(ws[0], std=0.5)) if bias else None
        y = F.conv2d(x, w, b, stride=stride, padding=pad)
        gy = randn(*y.shape)
        (y * gy).sum().backward()
        case = {'name': name, 'stride': stride, 'padding': pad, 'x': T(x), 'w': T(w), 'y': T(y), 'gy': T(gy),
                'dx': T(x.grad), 'dw': T(w.grad)}
        if bias:
            case['b'] = T(b)
            case['db'] = T(b.grad)
        cases.append(case)
    write('conv2d.json', {'cases': cases})


# ----------------------------------------------------------------------------------------- batch norm
def gen_batchnorm():
    torch.manual_seed(2)
    cases = []
    for name, xs, training in [
        ('train_nchw', (4, 3, 4, 4), True),
        ('train_nc', (6, 5), True),
        ('eval_nchw', (3, 3, 3, 3), False),
        ('eval_nc', (4, 5), False),
    ]:
        c = xs[1]
        x = leaf(randn(*xs, std=2.0, mean=0.5))
        gamma = leaf((torch.rand(c, dtype=torch.float32) + 0.5).double())
        beta = leaf(randn(c, std=0.5))
        rm0 = randn(c, std=0.3)
        rv0 = (torch.rand(c, dtype=torch.float32) + 0.5).double()
        rm, rv = rm0.clone(), rv0.clone()
        y = F.batch_norm(x, rm, rv, gamma, beta, training=training, momentum=0.1, eps=1e-5)
        gy = randn(*y.shape)
        (y * gy).sum().backward()
        cases.append({'name': name, 'training': training, 'momentum': 0.1, 'eps': 1e-5,
                      'x': T(x), 'gamma': T(gamma), 'beta': T(beta),
                      'running_mean_before': T(rm0), 'running_var_before': T(rv0),
                      'running_mean_after': T(rm), 'running_var_after': T(rv),
                      'y': T(y), 'gy': T(gy), 'dx': T(x.grad), 'dgamma': T(gamma.grad), 'dbeta': T(beta.grad)})
    write('batchnorm.json', {'cases': cases})


# ---------------------------------------------------------------------------------------------- pools
def gen_pool():
    torch.manual_seed(3)
    cases = []
    for name, kind, xs, k, stride, pad in [
        ('max_k3_s2_p1', 'max', (2, 2, 7, 7), 3, 2, 1),
        ('max_k2_s2_p0', 'max', (1, 3, 6, 6), 2, 2, 0),
        ('max_k3_s1_p1', 'max', (1, 2, 5, 4), 3, 1, 1),
        ('avg_k3_s2_p1', 'avg', (2, 2, 7, 7), 3, 2, 1),
        ('avg_k2_s2_p0', 'avg', (1, 3, 6, 6), 2, 2, 0),
        ('avg_k3_s1_p1', 'avg', (1, 2, 5, 4), 3, 1, 1),
        ('global_avg', 'global', (2, 3, 4, 5), 0, 0, 0),
    ]:
        x = leaf(randn(*xs))
        if kind == 'max':
            y = F.max_pool2d(x, k, stride, pad)
        elif kind == 'avg':
            y = F.avg_pool2d(x, k, stride, pad, count_include_pad=True)
        else:
            y = F.adaptive_avg_pool2d(x, 1).reshape(xs[0], xs[1])
        gy = randn(*y.shape)
        (y * gy).sum().backward()
        cases.append({'name': name, 'kind': kind, 'k': k, 'stride': stride, 'padding': pad,
                      'x': T(x), 'y': T(y), 'gy': T(gy), 'dx': T(x.grad)})
    write('pool.json', {'cases': cases})


# -------------------------------------------------------------------------------------- cross-entropy
def gen_cross_entropy():
    torch.manual_seed(4)
    cases = []
    for name, n, classes, smoothing, scale in [
        ('plain', 5, 4, 0.0, 1.0),
        ('smooth_0.1', 5, 4, 0.1, 1.0),
        ('smooth_0.25_large_logits', 3, 7, 0.25, 20.0),
    ]:
        logits = leaf(randn(n, classes, std=scale))
        labels = torch.randint(0, classes, (n,))
        loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
        loss.backward()
        cases.append({'name': name, 'smoothing': smoothing, 'logits': T(logits), 'labels': labels.tolist(),
                      'loss': float(loss), 'dlogits': T(logits.grad)})
    write('cross_entropy.json', {'cases': cases})


# ------------------------------------------------------------------------------- ResNet and SGD step
class BasicBlock(nn.Module):
    """Mirror of fqt's BasicBlock (src/nn/models/resnet.ts): post-activation, 1×1 conv + BN shortcut."""

    def __init__(self, in_c, out_c, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_c, out_c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_c)
        self.conv2 = nn.Conv2d(out_c, out_c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_c)
        if stride != 1 or in_c != out_c:
            self.shortcut = nn.Sequential(nn.Conv2d(in_c, out_c, 1, stride, 0, bias=False), nn.BatchNorm2d(out_c))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(h))
        return F.relu(y + self.shortcut(x))


class ResNet(nn.Module):
    """Mirror of fqt's ResNet with preActivation false: conv1 3×3 stem + bn1, stages, global avg pool, fc."""

    def __init__(self, in_channels, classes, widths, blocks):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        in_c = widths[0]
        for s, (w, nb) in enumerate(zip(widths, blocks)):
            layers = []
            for b in range(nb):
                layers.append(BasicBlock(in_c, w, 2 if (b == 0 and s > 0) else 1))
                in_c = w
            setattr(self, f'layer{s + 1}', nn.Sequential(*layers))
        self.n_stages = len(widths)
        self.fc = nn.Linear(in_c, classes)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        for s in range(self.n_stages):
            h = getattr(self, f'layer{s + 1}')(h)
        return self.fc(h.mean(dim=(2, 3)))


def fqt_state(model):
    """State dict by fqt name (PyTorch's names minus num_batches_tracked)."""
    return {k: v for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')}


def gen_resnet_sgd():
    torch.manual_seed(5)
    widths, blocks, in_c, classes = [4, 8], [1, 1], 1, 3
    model = ResNet(in_c, classes, widths, blocks)
    # Non-trivial BN parameters and running statistics, so their gradients and updates are exercised.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features) + 0.5)
                m.bias.copy_(torch.randn(m.num_features) * 0.2)
                m.running_mean.copy_(torch.randn(m.num_features) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features) + 0.5)
    init = {k: T(v) for k, v in fqt_state(model).items()}
    model = model.double().train()
    x = randn(2, in_c, 8, 8)
    labels = torch.tensor([0, 2])
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)

    def step():
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        grads = {k: T(p.grad) for k, p in model.named_parameters()}
        opt.step()
        return logits, loss, grads

    logits1, loss1, grads1 = step()
    after1 = {k: T(v) for k, v in fqt_state(model).items()}
    # A second step on the same batch exercises the momentum buffer (buf = 0.9·buf + g').
    logits2, loss2, _ = step()
    after2 = {k: T(v) for k, v in fqt_state(model).items()}
    write('resnet_sgd.json', {
        'config': {'widths': widths, 'blocks': blocks, 'inChannels': in_c, 'inputSize': 8, 'classes': classes},
        'sgd': {'lr': 0.1, 'momentum': 0.9, 'weightDecay': 5e-4},
        'x': T(x), 'labels': labels.tolist(), 'init': init,
        'step1': {'loss': float(loss1), 'logits': T(logits1), 'grads': grads1, 'state': after1},
        'step2': {'loss': float(loss2), 'logits': T(logits2), 'state': after2},
    })


def gen_param_counts():
    """Parameter counts of the torch mirrors of fqt's post-activation ResNets."""
    counts = {}
    for name, widths, blocks in [
        ('resnet20', [16, 32, 64], [3, 3, 3]),
        ('resnet32', [16, 32, 64], [5, 5, 5]),
        ('resnet56', [16, 32, 64], [9, 9, 9]),
        ('resnet18', [64, 128, 256, 512], [2, 2, 2, 2]),
    ]:
        for in_c, classes in [(1, 10), (3, 10), (3, 100)]:
            m = ResNet(in_c, classes, widths, blocks)
            counts[f'{name}/{in_c}/{classes}'] = sum(p.numel() for p in m.parameters())
    write('param_counts.json', counts)


if __name__ == '__main__':
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    gen_conv2d()
    gen_batchnorm()
    gen_pool()
    gen_cross_entropy()
    gen_resnet_sgd()
    gen_param_counts()
