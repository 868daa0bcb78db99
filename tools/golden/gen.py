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
import hashlib
import json
import math
import os
import struct
import sys

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
    """Mirror of fqt's BasicBlock (src/nn/models/resnet.ts): post-activation, 1×1 conv + BN shortcut.
    shortcut_name 'downsample' gives torchvision's names for the same block."""

    def __init__(self, in_c, out_c, stride, shortcut_name='shortcut'):
        super().__init__()
        self.shortcut_name = shortcut_name
        self.conv1 = nn.Conv2d(in_c, out_c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_c)
        self.conv2 = nn.Conv2d(out_c, out_c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_c)
        if stride != 1 or in_c != out_c:
            setattr(self, shortcut_name, nn.Sequential(nn.Conv2d(in_c, out_c, 1, stride, 0, bias=False), nn.BatchNorm2d(out_c)))
        else:
            setattr(self, shortcut_name, nn.Sequential())

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(h))
        return F.relu(y + getattr(self, self.shortcut_name)(x))


class ResNet(nn.Module):
    """Mirror of fqt's ResNet with preActivation false: conv1 3×3 stem + bn1, stages, global avg pool, fc."""

    def __init__(self, in_channels, classes, widths, blocks, shortcut_name='shortcut'):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        in_c = widths[0]
        for s, (w, nb) in enumerate(zip(widths, blocks)):
            layers = []
            for b in range(nb):
                layers.append(BasicBlock(in_c, w, 2 if (b == 0 and s > 0) else 1, shortcut_name))
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


# ------------------------------------------------------------------- safetensors and PyTorch interop
# fqt's counter-based uniform (src/tensor/random.ts), so TS can regenerate the same weights without a large fixture.
M32 = 0xFFFFFFFF


def fmix(h):
    h = (h + 0x9E3779B9) & M32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h


def stream_key(seed, stream):
    return fmix(fmix(seed ^ 0x243F6A88) ^ stream)


def uniforms(seed, stream, n):
    """uniform(seed, stream, i) for i < n, as float64 (exact 24-bit values)."""
    key = stream_key(seed, stream)
    return torch.tensor([(fmix(key ^ i) >> 8) * 2.0 ** -24 for i in range(n)], dtype=torch.float64)


ST_DTYPES = {torch.float64: 'F64', torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64',
             torch.int32: 'I32', torch.int16: 'I16', torch.int8: 'I8', torch.uint8: 'U8', torch.bool: 'BOOL'}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def safetensors_bytes(tensors, metadata=None):
    """A safetensors file laid out as fqt's writer lays it out (src/train/safetensors.ts): tensors ordered by element
    size (largest first, stable), compact JSON header starting with '{', padded with spaces to a multiple of 8.
    Python's `safetensors` module is not installed here (Debian has no package), so this follows the format spec."""
    items = sorted(tensors.items(), key=lambda kv: -kv[1].element_size())
    header, chunks, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = metadata
    for name, t in items:
        data = tensor_bytes(t)
        header[name] = {'dtype': ST_DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        chunks.append(data)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    return struct.pack('<Q', len(text)) + text + b''.join(chunks)


def gen_safetensors_dtypes():
    """A small file with every dtype fqt reads, written from torch tensors; values as torch converts them to float."""
    torch.manual_seed(9)
    base = torch.tensor([0.0, -0.0, 1.0, -2.5, 3.140625, 65504.0, 6.1e-05, 1e-7, -1e30], dtype=torch.float64)
    tensors = {
        'f16': base[:8].to(torch.float16).reshape(2, 4),
        'bf16': base.to(torch.bfloat16),
        'f64': torch.tensor([1 / 3, -1e-40, 1e300, 2.0 ** -149], dtype=torch.float64),
        'f32': torch.randn(3, dtype=torch.float32),
        'bn.num_batches_tracked': torch.tensor(1234567890123, dtype=torch.int64),
        'i64': torch.tensor([-(2 ** 62), 7, 2 ** 40], dtype=torch.int64),
        'i32': torch.tensor([-5, 2 ** 31 - 1], dtype=torch.int32),
        'i16': torch.tensor([-32768, 12], dtype=torch.int16),
        'u8': torch.tensor([0, 255], dtype=torch.uint8),
        'flags': torch.tensor([True, False, True]),
    }
    data = safetensors_bytes(tensors, {'format': 'pt'})
    with open(os.path.join(OUT, 'dtypes.safetensors'), 'wb') as f:
        f.write(data)
    expect = {}
    for name, t in tensors.items():
        if t.is_floating_point():
            # float32 as fqt holds it: F16 / BF16 widen exactly, F64 rounds to nearest float32 (inf beyond the range).
            expect[name] = {'dtype': ST_DTYPES[t.dtype], 'shape': list(t.shape), 'f32': [repr_f32(v) for v in t.to(torch.float32).reshape(-1).tolist()]}
        else:
            expect[name] = {'dtype': ST_DTYPES[t.dtype], 'shape': list(t.shape), 'int': [str(int(v)) for v in t.reshape(-1).tolist()]}
    write('dtypes.json', {'file': 'dtypes.safetensors', 'bytes': len(data), 'tensors': expect})


def repr_f32(v):
    """A float32 value in JSON: exact (9 significant digits) or 'inf' / '-inf' / 'nan'."""
    if v != v:
        return 'nan'
    if v in (float('inf'), float('-inf')):
        return 'inf' if v > 0 else '-inf'
    return float('%.9g' % v)


def fill_kind(name, t):
    """How test/golden/torch-resnet20.test.ts regenerates tensor `name` from uniform(SEED, index, i)."""
    if name.endswith('num_batches_tracked'):
        return 'count'
    if t.dim() >= 2:
        return 'he'
    leaf = name.rsplit('.', 1)[1]
    if name.startswith('fc.'):
        return 'bias'
    return {'weight': 'gamma', 'bias': 'beta', 'running_mean': 'mean', 'running_var': 'var'}[leaf]


def fill(kind, u, t, index, fan_in):
    if kind == 'count':
        return torch.tensor(1000 + index, dtype=torch.int64)
    v = {'he': lambda: (u - 0.5) * math.sqrt(24.0 / fan_in), 'bias': lambda: (u - 0.5) * 0.2, 'gamma': lambda: 0.5 + u,
         'beta': lambda: (u - 0.5) * 0.4, 'mean': lambda: (u - 0.5) * 0.4, 'var': lambda: 0.5 + u}[kind]()
    return v.to(torch.float32).reshape(t.shape)


def gen_torch_resnet20():
    """A PyTorch ResNet-20 state dict (torchvision names, int64 num_batches_tracked) whose weights the TS test regenerates
    from fqt's counter RNG; the fixture keeps only the names, fill rules, the file's sha256 and torch's eval logits."""
    seed = 20240
    # A PyTorch CIFAR ResNet-20 in torchvision's names: conv1, bn1, layer1..3 of 3 blocks (16/32/64, downsample), fc.
    model = ResNet(3, 10, [16, 32, 64], [3, 3, 3], shortcut_name='downsample')
    state = model.state_dict()
    entries, new_state = [], {}
    for index, (name, t) in enumerate(state.items()):
        kind = fill_kind(name, t)
        fan_in = int(t[0].numel()) if t.dim() >= 2 else 0
        new_state[name] = fill(kind, uniforms(seed, index, t.numel()), t, index, fan_in)
        entries.append({'name': name, 'shape': list(t.shape), 'fill': kind, 'fanIn': fan_in})
    model.load_state_dict(new_state)
    data = safetensors_bytes(new_state, {'format': 'pt'})
    x = ((uniforms(seed, 999, 2 * 3 * 32 * 32) - 0.5) * 4).reshape(2, 3, 32, 32)
    model = model.double().eval()
    with torch.no_grad():
        logits = model(x)
    write('torch_resnet20.json', {
        'seed': seed, 'inChannels': 3, 'inputSize': 32, 'classes': 10, 'metadata': {'format': 'pt'},
        'sha256': hashlib.sha256(data).hexdigest(), 'bytes': len(data), 'tensors': entries,
        'x': {'stream': 999, 'shape': [2, 3, 32, 32], 'scale': 4}, 'logits': T(logits),
    })


# --------------------------------------------------------------------------------------------- transformer block
def gen_transformer_block():
    """A pre-norm block as nn/transformer.ts builds it: x + attn(LN(x)), then + MLP(LN(.)) with GELU (tanh); qkv
    columns ordered (3, heads, head dim); causal and non-causal attention; forward and every gradient."""
    torch.manual_seed(16)
    cases = []
    for causal in (False, True):
        b, t, d, h, hidden = 2, 5, 8, 2, 16
        dh = d // h
        p = {
            'norm1.weight': randn(d, std=0.2, mean=1.0), 'norm1.bias': randn(d, std=0.1),
            'attn.qkv.weight': randn(3 * d, d, std=0.4), 'attn.qkv.bias': randn(3 * d, std=0.1),
            'attn.proj.weight': randn(d, d, std=0.4), 'attn.proj.bias': randn(d, std=0.1),
            'norm2.weight': randn(d, std=0.2, mean=1.0), 'norm2.bias': randn(d, std=0.1),
            'ffn.fc1.weight': randn(hidden, d, std=0.4), 'ffn.fc1.bias': randn(hidden, std=0.1),
            'ffn.fc2.weight': randn(d, hidden, std=0.3), 'ffn.fc2.bias': randn(d, std=0.1),
        }
        p = {k: leaf(v) for k, v in p.items()}
        x = leaf(randn(b, t, d))
        a = F.layer_norm(x, (d,), p['norm1.weight'], p['norm1.bias'], 1e-5)
        qkv = (a @ p['attn.qkv.weight'].T + p['attn.qkv.bias']).reshape(b, t, 3, h, dh).permute(2, 0, 3, 1, 4)
        s = qkv[0] @ qkv[1].transpose(-1, -2) / math.sqrt(dh)
        if causal:
            s = s.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float('-inf'))
        o = (torch.softmax(s, -1) @ qkv[2]).permute(0, 2, 1, 3).reshape(b, t, d)
        y = x + o @ p['attn.proj.weight'].T + p['attn.proj.bias']
        m = F.layer_norm(y, (d,), p['norm2.weight'], p['norm2.bias'], 1e-5)
        f = F.gelu(m @ p['ffn.fc1.weight'].T + p['ffn.fc1.bias'], approximate='tanh')
        out = y + f @ p['ffn.fc2.weight'].T + p['ffn.fc2.bias']
        gy = randn(b, t, d)
        out.backward(gy)
        cases.append({
            'causal': causal, 'heads': h, 'hidden': hidden, 'x': T(x), 'params': {k: T(v) for k, v in p.items()},
            'y': T(out), 'gy': T(gy), 'dx': T(x.grad), 'grads': {k: T(v.grad) for k, v in p.items()},
        })
    write('transformer_block.json', {'cases': cases})


if __name__ == '__main__':
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    # `gen.py NAME ...` regenerates only the named fixtures (e.g. transformer_block); no argument: all of them.
    only = sys.argv[1:]
    if only:
        for name in only:
            globals()['gen_' + name]()
        sys.exit(0)
    gen_conv2d()
    gen_batchnorm()
    gen_pool()
    gen_cross_entropy()
    gen_resnet_sgd()
    gen_param_counts()
    gen_safetensors_dtypes()
    gen_torch_resnet20()
    gen_transformer_block()
