"""The package layout stays as designed: no import cycles, subpackages
import only from the layers below them, small modules, the 0.1 public names
and `.keras` files still load, and no private Keras attributes."""

import ast
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_residual as kr
from tests.conftest import subprocess_env

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "keras_residual"
DATA = pathlib.Path(__file__).resolve().parent / "data"

# Lowest first: a module may import its own subpackage and those before it.
# `keras_residual` itself (the public API) re-exports everything below the
# command line, which is the only module above it.
LAYERS = (
    "version",
    "utils",
    "layers",
    "blocks",
    "core",
    "weights",
    "hub",
    "models",
    "data",
    "analysis",
    "serving",
    "training",
    "search",
    "",  # keras_residual/__init__.py, the public API
    "cli",
)


def package_modules():
    """`{dotted module name: path}` of every module of the package."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_modules(source, package, modules):
    """The package modules `source` imports, anywhere in it (inside
    functions too). `from a import b` counts as importing `a.b` where that
    is a module, else `a`.

    Args:
        source: str. Python source.
        package: str. The dotted package the source lives in (for relative
            imports).
        modules: dict. `package_modules()`.
    """
    targets = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in modules else base)
    return {t for t in targets if t in modules}


def import_graph():
    """`{module: modules it imports}` over the whole package."""
    modules = package_modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        graph[name] = imported_modules(path.read_text(), package, modules)
    return graph


def cycles(graph):
    """The strongly connected components with more than one module, or with
    a module importing itself (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_of(module):
    parts = module.split(".")
    return LAYERS.index(parts[1] if len(parts) > 1 else "")


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert sorted(cycles(graph)) == [["a", "b", "c"], ["d"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_parser_reads_imports_inside_functions():
    graph = import_graph()
    assert "keras_residual.serving.signatures" in graph["keras_residual.serving.export"]
    assert "keras_residual" in graph["keras_residual.cli.train"]
    assert "keras_residual.data.digits" in graph["keras_residual.data.sources"]
    source = (
        "def f():\n"
        "    from keras_residual.core import spec\n"
        "    import keras_residual.utils.atomic\n"
        "    from . import registry\n"
        "    from ..blocks import BlockCall\n"
    )
    found = imported_modules(source, "keras_residual.utils", package_modules())
    assert found == {
        "keras_residual.core.spec",
        "keras_residual.utils.atomic",
        "keras_residual.utils.registry",
        "keras_residual.blocks",
    }


def test_the_package_has_no_import_cycle():
    found = cycles(import_graph())
    assert found == [], f"import cycles: {found}"


def test_subpackages_import_only_from_the_layers_below_them():
    upward = [
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


def test_every_module_is_small_and_the_top_level_is_the_public_api():
    top_level = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top_level) <= 6, top_level
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {path: n for path, n in sizes.items() if n > 400} == {}
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert subpackages == set(LAYERS) - {"version", ""}


def test_no_private_keras_attributes_outside_two_hooks():
    """Package code touches no `_private` attribute of an object other than
    `self`/`cls`, by name or through `getattr`, except two Keras hooks:
    `model._initial_epoch`, the resume hook of
    keras.callbacks.BackupAndRestore, which `ResumableBackup` subclasses
    (it sets the hook on resume and clears it when training ends), and
    Keras' symbolic build before a step is traced (`_maybe_symbolic_build`,
    `_symbolic_build`, `_distribute_strategy`, the epoch iterator's
    `_distributed_dataset`), which `core/single_trace.py` reads through
    `getattr` and leaves to Keras when missing."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and ast.unparse(node.value) not in ("self", "cls")
            ):
                found.append(f"{where}: {ast.unparse(node)}")
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func) in ("getattr", "hasattr", "setattr")
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and str(node.args[1].value).startswith("_")
                and not str(node.args[1].value).startswith("__")
            ):
                found.append(
                    f"{where}: {ast.unparse(node.args[0])}.{node.args[1].value}"
                )
    assert set(found) == {
        "keras_residual/training/callbacks.py: self.model._initial_epoch",
        "keras_residual/core/builder.py: super()._maybe_symbolic_build",
        "keras_residual/core/single_trace.py: model._distribute_strategy",
        "keras_residual/core/single_trace.py: model._symbolic_build",
        "keras_residual/core/single_trace.py: iterator._distributed_dataset",
    }


def test_every_public_name_of_version_0_1_still_imports():
    names = (DATA / "public_api_v0_1.txt").read_text().split()
    assert len(names) == 68
    missing = [name for name in names if not hasattr(kr, name)]
    assert missing == []
    assert callable(kr.export) and kr.export.__module__.endswith("serving.export")
    assert kr.__version__ == "0.1.0"
    for name in ("ResNet50", "DenseNet121", "HighwayNet20", "ResNet152V2"):
        assert getattr(kr, name).__name__ == name


def test_a_keras_file_saved_by_version_0_1_reloads_and_predicts_the_same():
    """`hybrid_v0_1.keras` was written by keras_residual 0.1 before the
    layout moved (tests/data/make_v0_1_fixtures.py): one model with every
    custom object (DropPath, ZeroPadShortcut, HighwayGate,
    MemoryEfficientBottleneck, ResidualModel, ClassificationCrossentropy).
    It must reload in safe mode, predict what 0.1 predicted, and match a
    model the current builder makes from its spec, layer for layer."""
    saved = np.load(DATA / "hybrid_v0_1_outputs.npz")
    model = keras.saving.load_model(DATA / "hybrid_v0_1.keras", safe_mode=True)
    assert isinstance(model, kr.ResidualModel)
    assert isinstance(model.loss, kr.ClassificationCrossentropy)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {
        "DropPath",
        "ZeroPadShortcut",
        "HighwayGate",
        "MemoryEfficientBottleneck",
    } <= kinds
    outputs = model.predict(saved["inputs"], verbose=0)
    np.testing.assert_allclose(outputs, saved["outputs"], atol=1e-5)

    rebuilt = kr.build(model.spec, input_shape=model.image_shape, classes=model.classes)
    assert [layer.name for layer in rebuilt.layers] == [
        layer.name for layer in model.layers
    ]
    assert [v.path for v in rebuilt.weights] == [v.path for v in model.weights]
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(
        rebuilt.predict(saved["inputs"], verbose=0), saved["outputs"], atol=1e-5
    )


@pytest.mark.slow  # a real process
def test_importing_the_package_on_jax_does_not_load_tensorflow():
    """The function-level TensorFlow imports exist for this."""
    code = (
        "import sys, keras_residual, keras_residual.cli\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
        "print(keras_residual.ResNet20().count_params())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=subprocess_env(KERAS_BACKEND="jax"),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # He et al. 2015, Table 6: ResNet-20 has 0.27M parameters.
    assert abs(int(result.stdout.split()[-1]) - 0.27e6) < 0.005e6


# Methods that implement a Keras or Keras Tuner protocol; their parent
# documents the arguments.
PROTOCOL_METHODS = {
    "call",
    "build",
    "get_config",
    "from_config",
    "compute_output_shape",
    "fit",
    "on_epoch_begin",
    "on_epoch_end",
    "on_batch_end",
    "on_train_begin",
    "on_train_end",
    "on_train_batch_end",
    "on_test_begin",
    "on_trial_begin",
    "on_trial_end",
}


def undocumented_arguments(source):
    """Public functions and methods of `source` that take arguments but
    whose docstring has no `Args:` section."""
    found = []

    def visit(node, owner=""):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef) and not child.name.startswith("_"):
                visit(child, f"{child.name}.")
            elif isinstance(child, ast.FunctionDef):
                if child.name.startswith("_") or (
                    owner and child.name in PROTOCOL_METHODS
                ):
                    continue
                if any("property" in ast.unparse(d) for d in child.decorator_list):
                    continue
                arguments = [
                    a.arg
                    for a in child.args.args + child.args.kwonlyargs
                    if a.arg not in ("self", "cls")
                ] + [a.arg for a in (child.args.vararg, child.args.kwarg) if a]
                if arguments and "Args:" not in (ast.get_docstring(child) or ""):
                    found.append(f"{owner}{child.name}")

    visit(ast.parse(source))
    return found


def test_every_public_function_documents_its_arguments():
    probe = (
        'def f(x):\n    """No args."""\n\n\n'
        'def g(y):\n    """G.\n\n    Args:\n        y: int.\n    """\n'
    )
    assert undocumented_arguments(probe) == ["f"]
    found = {
        str(path.relative_to(ROOT)): names
        for path in PACKAGE.rglob("*.py")
        if (names := undocumented_arguments(path.read_text()))
    }
    assert found == {}


MAX_ENTRY_LINES = 60


def long_entry_points(source, path=""):
    """`[(name, lines)]` of the public functions and methods (and the
    command line's `_handlers`) in `source` longer than `MAX_ENTRY_LINES`,
    counted from `def` to the end with the docstring left out."""
    long = []

    def visit(node, public_class=True):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, public_class and not child.name.startswith("_"))
            elif isinstance(child, ast.FunctionDef):
                handler = path.startswith("keras_residual/cli/") and not (
                    child.name.startswith("__")
                )
                if not public_class or (child.name.startswith("_") and not handler):
                    continue
                lines = child.end_lineno - child.lineno + 1
                if ast.get_docstring(child) is not None:
                    doc = child.body[0]
                    lines -= doc.end_lineno - doc.lineno + 1
                if lines > MAX_ENTRY_LINES:
                    long.append((child.name, lines))

    visit(ast.parse(source))
    return long


def test_every_entry_point_reads_as_a_composition():
    body = "\n".join(f"    x = {i}" for i in range(MAX_ENTRY_LINES))
    probe = f'def f():\n    """Doc."""\n{body}\n\n\ndef _g():\n{body}\n'
    assert long_entry_points(probe) == [("f", MAX_ENTRY_LINES + 1)]
    found = {
        str(path.relative_to(ROOT)): long
        for path in PACKAGE.rglob("*.py")
        if (long := long_entry_points(path.read_text(), str(path.relative_to(ROOT))))
    }
    assert found == {}
