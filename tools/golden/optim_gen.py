#!/usr/bin/python3
"""Golden optimizer steps from PyTorch (Debian python3-torch 1.13) for test/optim/golden.test.ts.

Run: /usr/bin/python3 tools/golden/optim_gen.py > test/optim/fixtures/optim.json
Each case lists parameter groups (lrScale, weightDecay), a sequence of steps (base lr, gradient per
parameter or null = no gradient) and the parameters after every step. Never regenerate to make a
failing test pass.
"""
import json
import torch

torch.manual_seed(0)

CASES = [
    ('sgd-plain', 'sgd', {'lr': 0.1}, {}),
    ('sgd-momentum-wd', 'sgd', {'lr': 0.1, 'momentum': 0.9, 'weightDecay': 0.01}, {'momentum': 0.9, 'weight_decay': 0.01}),
    ('sgd-nesterov-wd', 'sgd', {'lr': 0.1, 'momentum': 0.9, 'nesterov': True, 'weightDecay': 0.05},
     {'momentum': 0.9, 'nesterov': True, 'weight_decay': 0.05}),
    ('adam', 'adam', {'lr': 0.01}, {}),
    ('adam-l2-betas', 'adam', {'lr': 0.01, 'betas': [0.8, 0.99], 'eps': 1e-6, 'weightDecay': 0.1},
     {'betas': (0.8, 0.99), 'eps': 1e-6, 'weight_decay': 0.1}),
    ('adamw', 'adamw', {'lr': 0.01, 'weightDecay': 0.1}, {'weight_decay': 0.1}),
    ('adamw-default-wd', 'adamw', {'lr': 0.02}, {}),
]
TORCH = {'sgd': torch.optim.SGD, 'adam': torch.optim.Adam, 'adamw': torch.optim.AdamW}
LR_FACTORS = [1.0, 1.0, 0.5, 0.5, 0.2]
# Groups: 'body' at lrScale 0.1 (and weight decay 0 for its bias), 'head' at the default settings.
GROUPS = [
    {'name': 'body', 'lrScale': 0.1, 'params': [('body.weight', [2, 3])]},
    {'name': 'body-bias', 'lrScale': 0.1, 'weightDecay': 0.0, 'params': [('body.bias', [3])]},
    {'name': 'head', 'lrScale': 1.0, 'params': [('head.weight', [4])]},
]


def flat(t):
    return [float(x) for x in t.detach().reshape(-1)]


def run_case(name, kind, fqt_opts, torch_opts):
    base_lr = fqt_opts['lr']
    tensors, groups = {}, []
    for g in GROUPS:
        ps = []
        for pname, shape in g['params']:
            tensors[pname] = torch.randn(shape, dtype=torch.float32).requires_grad_(True)
            ps.append(tensors[pname])
        tg = {'params': ps, 'lr': base_lr * g['lrScale']}
        if 'weightDecay' in g:
            tg['weight_decay'] = g['weightDecay']
        groups.append(tg)
    init = {k: flat(v) for k, v in tensors.items()}
    opt = TORCH[kind](groups, lr=base_lr, **torch_opts)
    steps = []
    for s, lr_factor in enumerate(LR_FACTORS):
        lr = base_lr * lr_factor
        for tg, g in zip(opt.param_groups, GROUPS):
            tg['lr'] = lr * g['lrScale']
        grads = {}
        for pname, t in tensors.items():
            # head.weight has no gradient on step 2 (skipped: no update, no step count)
            if pname == 'head.weight' and s == 1:
                t.grad = None
                grads[pname] = None
            else:
                t.grad = torch.randn(t.shape, dtype=torch.float32)
                grads[pname] = flat(t.grad)
        opt.step()
        steps.append({'lr': lr, 'grads': grads, 'after': {k: flat(v) for k, v in tensors.items()}})
    return {
        'name': name, 'kind': kind, 'opts': fqt_opts,
        'groups': [{k: v for k, v in g.items() if k != 'params'} | {'params': [[p, shp] for p, shp in g['params']]} for g in GROUPS],
        'init': init, 'steps': steps,
    }


print(json.dumps({'torch': torch.__version__, 'cases': [run_case(*c) for c in CASES]}))
