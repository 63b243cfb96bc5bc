"""The networks the peer benchmarks race: ours and keras.applications'.

A smoke run (`--smoke`) asks whether a script runs, not how fast. It builds
each network with one block per stage: the same layer kinds, names and code
paths as the full network, at a fraction of its building and tracing time
(ResNet50's 16 bottleneck blocks were most of a smoke run's minute). The
keras.applications peer is shortened the same way through the builder
that its own `ResNet50` and `DenseNet121` call.
"""

SMOKE_BLOCKS = 1


def ours(name, smoke=False, **kwargs):
    """Our `name` without weights, one block per stage when `smoke`.

    Args:
        name: str. A registered model name, e.g. `"ResNet50"`.
        smoke: bool. One block per stage. Defaults to `False`.
        **kwargs: passed to `keras_residual.build` (`input_shape`,
            `classes`, ...).
    """
    import keras_residual as kr

    if smoke:
        stages = len(kr.get_spec(name).depths)
        kwargs["depths"] = (SMOKE_BLOCKS,) * stages
    return kr.build(name, **kwargs)


def keras_applications(name, smoke=False, **kwargs):
    """keras.applications' `name` without weights, one block per stage
    when `smoke` (ResNet50 and DenseNet121 only).

    Args:
        name: str. `"ResNet50"` or `"DenseNet121"`.
        smoke: bool. One block per stage. Defaults to `False`.
        **kwargs: passed to the keras.applications constructor.
    """
    import keras

    if not smoke:
        return getattr(keras.applications, name)(weights=None, **kwargs)
    if name == "ResNet50":
        from keras.src.applications import resnet

        def stack_fn(x):
            x = resnet.stack_residual_blocks_v1(
                x, 64, SMOKE_BLOCKS, stride1=1, name="conv2"
            )
            for filters, stage in ((128, "conv3"), (256, "conv4"), (512, "conv5")):
                x = resnet.stack_residual_blocks_v1(
                    x, filters, SMOKE_BLOCKS, name=stage
                )
            return x

        return resnet.ResNet(
            stack_fn, False, True, weights=None, name="resnet50", **kwargs
        )
    if name == "DenseNet121":
        from keras.src.applications import densenet

        return densenet.DenseNet(
            [SMOKE_BLOCKS] * 4, weights=None, name="densenet121", **kwargs
        )
    raise ValueError(
        f"name: a smoke-sized keras.applications peer exists for ResNet50 and "
        f"DenseNet121, got {name!r}"
    )
