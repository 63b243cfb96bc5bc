"""Build zoo models, a spec override and a custom spec; print what they are.

python examples/build_and_summarize.py
"""

import keras_residual as kr


def main():
    print("Registered models:")
    for name, description in kr.list_models().items():
        print(f"  {name:<18} {description}")

    resnet50 = kr.ResNet50(weights=None)
    print(
        f"\nResNet50: {resnet50.count_params():,} parameters "
        "(keras.applications: 25,636,712)"
    )

    deeper = kr.build("ResNet50", depths=(3, 4, 23, 3), name="resnet50_as_101")
    print(
        f"ResNet50 with (3, 4, 23, 3) stages: {deeper.count_params():,} "
        "parameters (= ResNet101)"
    )

    half = kr.build("ResNet50", width_multiplier=0.5, name="resnet50_half")
    print(f"Half-width ResNet50: {half.count_params():,} parameters")

    spec = kr.ModelSpec(
        stem=kr.StemSpec("cifar", 16),
        stages=(
            kr.StageSpec(2, 16, "basic", stride=1, shortcut="zero_pad"),
            kr.StageSpec(2, 32, "preact_basic", stride=2),
            kr.StageSpec(2, 64, "bottleneck", stride=2),
        ),
        default_size=32,
        drop_path_rate=0.1,
    )
    mixed = kr.build(spec, classes=10, name="mixed_blocks")
    print(f"A spec mixing three blocks: {mixed.count_params():,} parameters")
    print("Its spec as JSON:", spec.to_json()[:120], "...")

    features = kr.pyramid_model(kr.ResNet50(include_top=False))
    print(
        "ResNet50 pyramid outputs:",
        {k: tuple(v.shape) for k, v in features.output.items()},
    )
    kr.ResNet20().summary(line_length=100)


if __name__ == "__main__":
    main()
