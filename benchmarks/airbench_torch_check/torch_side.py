# PyTorch side of the cross-check (see run.sh): airbench94's network transcribed from
# KellerJordan/cifar10-airbench legacy/airbench94.py, loaded with cnnlab's weights.
# airbench94's network as its legacy file builds it (transcribed for this check only).
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
d = np.load('/tmp/xcheck/flax.npz')
torch.manual_seed(0)
class BN(nn.BatchNorm2d):
  def __init__(s, c): super().__init__(c, eps=1e-12, momentum=1 - 0.6); s.weight.requires_grad = False
class Group(nn.Module):
  def __init__(s, cin, cout):
    super().__init__()
    s.conv1 = nn.Conv2d(cin, cout, 3, padding='same', bias=False); s.pool = nn.MaxPool2d(2)
    s.norm1 = BN(cout); s.conv2 = nn.Conv2d(cout, cout, 3, padding='same', bias=False); s.norm2 = BN(cout)
  def forward(s, x):
    x = F.gelu(s.norm1(s.pool(s.conv1(x))))
    return F.gelu(s.norm2(s.conv2(x)))
widths = [16, 32, 32]
net = nn.Sequential(nn.Conv2d(3, 24, 2, padding=0, bias=True), nn.GELU(), Group(24, 16), Group(16, 32),
                    Group(32, 32), nn.MaxPool2d(3), nn.Flatten(), nn.Linear(32, 10, bias=False))
hwio = lambda k: torch.tensor(d[k]).permute(3, 2, 0, 1).contiguous()
with torch.no_grad():
  net[0].weight.copy_(hwio('params/whiten/kernel')); net[0].bias.copy_(torch.tensor(d['params/whiten/bias']))
  for g in range(3):
    grp = net[2 + g]
    grp.conv1.weight.copy_(hwio(f'params/ConvGroup_{g}/Conv_0/kernel'))
    grp.conv2.weight.copy_(hwio(f'params/ConvGroup_{g}/Conv_1/kernel'))
    grp.norm1.bias.copy_(torch.tensor(d[f'params/ConvGroup_{g}/BatchNorm_0/bias']))
    grp.norm2.bias.copy_(torch.tensor(d[f'params/ConvGroup_{g}/BatchNorm_1/bias']))
  net[7].weight.copy_(torch.tensor(d['params/Dense_0/kernel']).T)
x = torch.tensor(d['x']).permute(0, 3, 1, 2)
y = torch.tensor(d['y'])
net.train()
logits = net(x) / 9
loss = F.cross_entropy(logits, y, label_smoothing=0.2, reduction='sum')
loss.backward()
print('train logits max diff', (logits.detach().numpy() - d['logits']).__abs__().max(), 'scale', abs(d['logits']).max())
print('loss', loss.item(), float(d['loss']))
g = net[3].conv2.weight.grad.permute(2, 3, 1, 0).numpy()
print('grad Group1 conv2 max diff', abs(g - d['grads/ConvGroup_1/Conv_1/kernel']).max(), 'scale', abs(g).max())
print('grad head', abs(net[7].weight.grad.T.numpy() - d['grads/Dense_0/kernel']).max(), abs(d['grads/Dense_0/kernel']).max())
print('grad whiten bias', abs(net[0].bias.grad.numpy() - d['grads/whiten/bias']).max(), abs(d['grads/whiten/bias']).max())
print('grad bn bias', abs(net[2].norm1.bias.grad.numpy() - d['grads/ConvGroup_0/BatchNorm_0/bias']).max(), abs(d['grads/ConvGroup_0/BatchNorm_0/bias']).max())
rm = net[4].norm2.running_mean.numpy(); rv = net[4].norm2.running_var.numpy()
print('running mean diff', abs(rm - d['stats/ConvGroup_2/BatchNorm_1/mean']).max(), 'var rel diff', abs(rv / d['stats/ConvGroup_2/BatchNorm_1/var'] - 1).max())
net.eval()
with torch.no_grad():
  ev = net(x) / 9
print('eval logits max diff', abs(ev.numpy() - d['eval']).max(), abs(d['eval']).max())
# torch.optim.SGD with airbench94's groups on the same (sum-loss) gradients, 3 steps.
s = np.load('/tmp/xcheck/flax_steps.npz')
batch, momentum = 8, 0.85
k = 1024 * (1 + 1 / (1 - momentum))
lr, wd = 11.5 / k, 0.0153 * batch / k
named = dict(net.named_parameters())
norm_biases = [p for n, p in named.items() if 'norm' in n and p.requires_grad]
other = [p for n, p in named.items() if 'norm' not in n and p.requires_grad and n != '0.weight']
opt = torch.optim.SGD([dict(params=norm_biases, lr=lr * 64, weight_decay=wd / (lr * 64)),
                       dict(params=other, lr=lr, weight_decay=wd / lr)], momentum=momentum, nesterov=True)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: float(s['mult'][i]))
grads = {n: p.grad.clone() for n, p in named.items() if p.grad is not None}
for _ in range(3):
  for n, p in named.items():
    if p.grad is not None: p.grad.copy_(grads[n])
  opt.step(); sched.step()
diff = lambda a, b: float(abs(a - b).max())
print('after 3 steps: conv', diff(net[3].conv2.weight.detach().permute(2, 3, 1, 0).numpy(), s['ConvGroup_1/Conv_1/kernel']),
      'bn bias', diff(net[2].norm1.bias.detach().numpy(), s['ConvGroup_0/BatchNorm_0/bias']),
      'head', diff(net[7].weight.detach().T.numpy(), s['Dense_0/kernel']),
      'whiten bias', diff(net[0].bias.detach().numpy(), s['whiten/bias']),
      'whiten kernel unchanged', diff(net[0].weight.detach().permute(2, 3, 1, 0).numpy(), s['whiten/kernel']))
print('movement scale', diff(net[2].norm1.bias.detach().numpy(), d['params/ConvGroup_0/BatchNorm_0/bias']))
