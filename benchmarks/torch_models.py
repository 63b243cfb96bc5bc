"""The PyTorch contenders of `benchmarks.cpu_training`: torchvision's
ResNet50 and ResNeXt50_32x4d, and a CIFAR ResNet20 (He et al. 2015,
section 4.2: 3x3 basic blocks of 16/32/64 filters, zero-padding identity
shortcuts) matching
`keras_residual`'s `ResNet20`. Imports only torch and torchvision."""


def build_torch_model(name, classes):
    """A torch model: `"ResNet50"`, `"ResNeXt50_32x4d"` (torchvision) or
    `"ResNet20"`.

    Args:
        name: str. The model.
        classes: int. Classifier outputs.
    """
    import torchvision

    if name == "ResNet50":
        return torchvision.models.resnet50(num_classes=classes)
    if name == "ResNeXt50_32x4d":
        return torchvision.models.resnext50_32x4d(num_classes=classes)
    if name == "ResNet20":
        return _cifar_resnet(depth=3, classes=classes)
    raise ValueError(f"no torch contender for {name!r}")


def _cifar_resnet(depth, classes):
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, inputs, filters, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(inputs, filters, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(filters)
            self.conv2 = nn.Conv2d(filters, filters, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(filters)
            self.stride, self.extra = stride, filters - inputs

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            shortcut = x[:, :, :: self.stride, :: self.stride]
            if self.extra:
                shortcut = nn.functional.pad(shortcut, (0, 0, 0, 0, 0, self.extra))
            return torch.relu(out + shortcut)

    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    inputs = 16
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        for index in range(depth):
            layers.append(Block(inputs, filters, stride if index == 0 else 1))
            inputs = filters
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(inputs, classes)]
    return nn.Sequential(*layers)
