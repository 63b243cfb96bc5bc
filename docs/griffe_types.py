"""A griffe extension for the API reference: this package's docstrings
give each argument as `name: type. Description.` (the type in words, as
keras.applications does), which Google style reads as a description
only. It rewrites those lines as `name (type): Description.` before the
docstring is parsed, so the reference shows every type in its column."""

import re

import griffe

SECTIONS = ("Args:", "Arguments:", "Attributes:")
ENTRY = re.compile(r"^(?P<name>\*{0,2}\w+): (?P<type>.+?)\.(?:\s+(?P<rest>.*))?$")
# Longer than this, the "type" is a sentence: the line is left alone.
MAX_TYPE_WORDS = 8


def typed_docstring(text):
    """`text` with each `name: type. Description.` line of its argument
    sections rewritten as `name (type): Description.`.

    Args:
        text: str. A docstring.
    """
    lines, section = text.splitlines(), None
    for i, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if line.strip() in SECTIONS:
            section = indent
            continue
        if section is None or not line.strip():
            continue
        if indent <= section:
            section = None
            continue
        match = ENTRY.match(line.strip()) if indent == section + 4 else None
        if (  # `**kwargs: what they are.` has no type
            match
            and not match["name"].startswith("*")
            and len(match["type"].split()) <= MAX_TYPE_WORDS
        ):
            rest, kind = match["rest"] or "", match["type"].replace("`", "")
            lines[i] = f"{line[:indent]}{match['name']} ({kind}): {rest}"
    return "\n".join(lines)


class TypesFromDocstrings(griffe.Extension):
    """Rewrites every object's docstring with `typed_docstring`."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = typed_docstring(obj.docstring.value)


class FactoryFunctions(griffe.Extension):
    """The model constructors (`kr.ResNet20`, ...) are functions a factory
    makes at import (`ResNet20 = register_model(...)`), which static
    analysis sees as module attributes without docstrings: each such
    attribute whose live value is a function becomes a function with the
    live signature and docstring."""

    def on_module_members(self, *, mod, **kwargs):
        if not mod.path.startswith("keras_residual.models."):
            return
        import importlib
        import inspect

        live = importlib.import_module(mod.path)
        for name, member in list(mod.members.items()):
            value = getattr(live, name, None)
            if member.is_alias or not member.is_attribute or not callable(value):
                continue
            if not inspect.isfunction(value):
                continue
            function = griffe.Function(
                name,
                lineno=member.lineno,
                endlineno=member.endlineno,
                parameters=griffe.Parameters(*_parameters(value)),
            )
            function.docstring = griffe.Docstring(
                typed_docstring(inspect.cleandoc(value.__doc__ or "")),
                parent=function,
            )
            mod.set_member(name, function)


class OptionGroupDocs(griffe.Extension):
    """An option group's docstring is written at import from its fields
    (`keras_residual.utils.options.option_group`), which static analysis
    does not see: each class whose live fields carry their own docs gets
    its live docstring."""

    def on_class_members(self, *, cls, **kwargs):
        import importlib

        try:
            live = getattr(importlib.import_module(cls.module.path), cls.name)
        except (ImportError, AttributeError):
            return
        fields = getattr(live, "__dataclass_fields__", {})
        if fields and all("doc" in f.metadata for f in fields.values()):
            cls.docstring = griffe.Docstring(typed_docstring(live.__doc__), parent=cls)


def _parameters(function):
    import inspect

    kinds = {
        inspect.Parameter.POSITIONAL_ONLY: griffe.ParameterKind.positional_only,
        inspect.Parameter.POSITIONAL_OR_KEYWORD: (
            griffe.ParameterKind.positional_or_keyword
        ),
        inspect.Parameter.VAR_POSITIONAL: griffe.ParameterKind.var_positional,
        inspect.Parameter.KEYWORD_ONLY: griffe.ParameterKind.keyword_only,
        inspect.Parameter.VAR_KEYWORD: griffe.ParameterKind.var_keyword,
    }
    for parameter in inspect.signature(function).parameters.values():
        default = (
            None
            if parameter.default is inspect.Parameter.empty
            else repr(parameter.default)
        )
        yield griffe.Parameter(
            parameter.name, kind=kinds[parameter.kind], default=default
        )
