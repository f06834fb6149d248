"""airbench94's network and training loop, kept as close to the package as a CPU test allows: the
independent reference for nnclaims.train.airbench (tests/test_airbench.py).

From airbench 0.1.8 (github.com/KellerJordan/cifar10-airbench, MIT License, Copyright (c) 2024
Keller Jordan): lib_airbench94.py (make_net94, ConvGroup, BatchNorm, Conv) and utils.py (train,
CifarLoader, batch_crop, batch_flip_lr, init_whitening_conv, LookaheadState, infer). Changes, and
only these: no torchvision (the images come normalised), no CUDA (no .cuda(), .half(), events or
channels_last), the random draws from two given generators (`aug`: flips and crops, `order`: the
batch order) instead of the global stream, the widths and data passed in, no printing, and
`train` returns the model.
"""

from math import ceil

import torch
import torch.nn.functional as F
from torch import nn

hyp = {
    "opt": {
        "train_epochs": 9.9,
        "batch_size": 1024,
        "lr": 11.5,
        "momentum": 0.85,
        "weight_decay": 0.0153,
        "bias_scaler": 64.0,
        "label_smoothing": 0.2,
        "whiten_bias_epochs": 3,
    },
    "aug": {"flip": True, "translate": 2},
    "net": {
        "widths": {"block1": 64, "block2": 256, "block3": 256},
        "batchnorm_momentum": 0.6,
        "scaling_factor": 1 / 9,
        "tta_level": 2,
    },
}


class Flatten(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


class Mul(nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return x * self.scale


class BatchNorm(nn.BatchNorm2d):
    def __init__(self, num_features, momentum, eps=1e-12, weight=False, bias=True):
        super().__init__(num_features, eps=eps, momentum=1 - momentum)
        self.weight.requires_grad = weight
        self.bias.requires_grad = bias


class Conv(nn.Conv2d):
    def __init__(self, in_channels, out_channels, kernel_size=3, padding="same", bias=False):
        super().__init__(
            in_channels, out_channels, kernel_size=kernel_size, padding=padding, bias=bias
        )

    def reset_parameters(self):
        super().reset_parameters()
        if self.bias is not None:
            self.bias.data.zero_()
        w = self.weight.data
        torch.nn.init.dirac_(w[: w.size(1)])


class ConvGroup(nn.Module):
    def __init__(self, channels_in, channels_out, batchnorm_momentum):
        super().__init__()
        self.conv1 = Conv(channels_in, channels_out)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = BatchNorm(channels_out, batchnorm_momentum)
        self.conv2 = Conv(channels_out, channels_out)
        self.norm2 = BatchNorm(channels_out, batchnorm_momentum)
        self.activ = nn.GELU()

    def forward(self, x):
        x = self.conv1(x)
        x = self.pool(x)
        x = self.norm1(x)
        x = self.activ(x)
        x = self.conv2(x)
        x = self.norm2(x)
        x = self.activ(x)
        return x


def make_net94(widths=hyp["net"]["widths"], batchnorm_momentum=hyp["net"]["batchnorm_momentum"]):
    whiten_kernel_size = 2
    whiten_width = 2 * 3 * whiten_kernel_size**2
    net = nn.Sequential(
        Conv(3, whiten_width, whiten_kernel_size, padding=0, bias=True),
        nn.GELU(),
        ConvGroup(whiten_width, widths["block1"], batchnorm_momentum),
        ConvGroup(widths["block1"], widths["block2"], batchnorm_momentum),
        ConvGroup(widths["block2"], widths["block3"], batchnorm_momentum),
        nn.MaxPool2d(3),
        Flatten(),
        nn.Linear(widths["block3"], 10, bias=False),
        Mul(hyp["net"]["scaling_factor"]),
    )
    net[0].weight.requires_grad = False
    return net


def batch_flip_lr(inputs, gen):
    flip_mask = (torch.rand(len(inputs), generator=gen) < 0.5).view(-1, 1, 1, 1)
    return torch.where(flip_mask, inputs.flip(-1), inputs)


def batch_crop(images, crop_size, gen):
    r = (images.size(-1) - crop_size) // 2
    shifts = torch.randint(-r, r + 1, size=(len(images), 2), generator=gen)
    images_out = torch.empty((len(images), 3, crop_size, crop_size), dtype=images.dtype)
    for sy in range(-r, r + 1):
        for sx in range(-r, r + 1):
            mask = (shifts[:, 0] == sy) & (shifts[:, 1] == sx)
            rows, cols = slice(r + sy, r + sy + crop_size), slice(r + sx, r + sx + crop_size)
            images_out[mask] = images[mask, :, rows, cols]
    return images_out


class CifarLoader:
    """The package's training loader on normalised images, altflip=True, aug flip + translate."""

    def __init__(self, images, labels, batch_size, aug_gen, order_gen):
        self.images, self.labels = images, labels
        self.batch_size, self.epoch = batch_size, 0
        self.aug, self.gen, self.order = hyp["aug"], aug_gen, order_gen
        self.proc_images = {}

    def __len__(self):
        return len(self.images) // self.batch_size

    def __iter__(self):
        if self.epoch == 0:
            images = self.proc_images["norm"] = self.images
            images = self.proc_images["flip"] = batch_flip_lr(images, self.gen)
            pad = self.aug["translate"]
            self.proc_images["pad"] = F.pad(images, (pad,) * 4, "reflect")
        images = batch_crop(self.proc_images["pad"], self.images.shape[-2], self.gen)
        if self.epoch % 2 == 1:
            images = images.flip(-1)
        self.epoch += 1
        indices = torch.randperm(len(images), generator=self.order)
        for i in range(len(self)):
            idxs = indices[i * self.batch_size : (i + 1) * self.batch_size]
            yield (images[idxs], self.labels[idxs])


def get_patches(x, patch_shape):
    c, (h, w) = x.shape[1], patch_shape
    return x.unfold(2, h, 1).unfold(3, w, 1).transpose(1, 3).reshape(-1, c, h, w).float()


def get_whitening_parameters(patches):
    n, c, h, w = patches.shape
    patches_flat = patches.view(n, -1)
    est_patch_covariance = (patches_flat.T @ patches_flat) / n
    eigenvalues, eigenvectors = torch.linalg.eigh(est_patch_covariance, UPLO="U")
    return eigenvalues.flip(0).view(-1, 1, 1, 1), eigenvectors.T.reshape(c * h * w, c, h, w).flip(0)


def init_whitening_conv(layer, train_set, eps=5e-4):
    patches = get_patches(train_set, patch_shape=layer.weight.data.shape[2:])
    eigenvalues, eigenvectors = get_whitening_parameters(patches)
    eigenvectors_scaled = eigenvectors / torch.sqrt(eigenvalues + eps)
    layer.weight.data[:] = torch.cat((eigenvectors_scaled, -eigenvectors_scaled))


class LookaheadState:
    def __init__(self, net):
        self.net_ema = {k: v.clone() for k, v in net.state_dict().items()}

    def update(self, net, decay):
        for ema_param, net_param in zip(self.net_ema.values(), net.state_dict().values()):
            if net_param.dtype in (torch.half, torch.float):
                ema_param.lerp_(net_param, 1 - decay)
                net_param.copy_(ema_param)


def infer(model, images, tta_level=2):
    def infer_basic(inputs, net):
        return net(inputs).clone()

    def infer_mirror(inputs, net):
        return 0.5 * net(inputs) + 0.5 * net(inputs.flip(-1))

    def infer_mirror_translate(inputs, net):
        logits = infer_mirror(inputs, net)
        pad = 1
        padded_inputs = F.pad(inputs, (pad,) * 4, "reflect")
        inputs_translate_list = [padded_inputs[:, :, 0:32, 0:32], padded_inputs[:, :, 2:34, 2:34]]
        logits_translate_list = [infer_mirror(t, net) for t in inputs_translate_list]
        logits_translate = torch.stack(logits_translate_list).mean(0)
        return 0.5 * logits + 0.5 * logits_translate

    model.eval()
    infer_fn = [infer_basic, infer_mirror, infer_mirror_translate][tta_level]
    with torch.no_grad():
        return torch.cat([infer_fn(inputs, model) for inputs in images.split(2000)])


def train(train_loader, epochs, make_net, whiten_images=5000):
    o = hyp["opt"]
    label_smoothing, learning_rate, bias_scaler = o["label_smoothing"], o["lr"], o["bias_scaler"]
    momentum, weight_decay, whiten_bias_epochs = o["momentum"], o["weight_decay"], 3
    batch_size = train_loader.batch_size
    kilostep_scale = 1024 * (1 + 1 / (1 - momentum))
    lr = learning_rate / kilostep_scale
    wd = weight_decay * batch_size / kilostep_scale
    lr_biases = lr * bias_scaler

    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing, reduction="none")
    total_train_steps = ceil(len(train_loader) * epochs)

    model = make_net()
    current_steps = 0

    norm_biases = [p for k, p in model.named_parameters() if "norm" in k and p.requires_grad]
    other_params = [p for k, p in model.named_parameters() if "norm" not in k and p.requires_grad]
    param_configs = [
        dict(params=norm_biases, lr=lr_biases, weight_decay=wd / lr_biases),
        dict(params=other_params, lr=lr, weight_decay=wd / lr),
    ]
    optimizer = torch.optim.SGD(param_configs, momentum=momentum, nesterov=True)

    def triangle(steps, start=0, end=0, peak=0.5):
        xp = torch.tensor([0, int(peak * steps), steps])
        fp = torch.tensor([start, 1, end])
        x = torch.arange(1 + steps)
        m = (fp[1:] - fp[:-1]) / (xp[1:] - xp[:-1])
        b = fp[:-1] - (m * xp[:-1])
        indices = torch.sum(torch.ge(x[:, None], xp[None, :]), 1) - 1
        indices = torch.clamp(indices, 0, len(m) - 1)
        return m[indices] * x + b[indices]

    lr_schedule = triangle(total_train_steps, start=0.2, end=0.07, peak=0.23)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: lr_schedule[i])

    alpha_schedule = 0.95**5 * (torch.arange(total_train_steps + 1) / total_train_steps) ** 3
    lookahead_state = LookaheadState(model)

    init_whitening_conv(model[0], train_loader.images[:whiten_images])

    for epoch in range(ceil(epochs)):
        model[0].bias.requires_grad = epoch < whiten_bias_epochs
        model.train()
        for inputs, labels in train_loader:
            outputs = model(inputs)
            loss = loss_fn(outputs, labels).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            current_steps += 1
            if current_steps % 5 == 0:
                lookahead_state.update(model, decay=alpha_schedule[current_steps].item())
            if current_steps >= total_train_steps:
                if lookahead_state is not None:
                    lookahead_state.update(model, decay=1.0)
                break
    return model
