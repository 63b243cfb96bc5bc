"""YAML and JSON read strictly, for files a user or another machine wrote:
no YAML aliases (a few hundred bytes of them expand to gigabytes), no
duplicate keys (the later one would silently win), and nesting too deep
for the parser is an error like any other."""

import json

import yaml

from keras_residual.utils.files import check_regular_file


class StrictYamlLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` without aliases and without duplicate keys."""

    def compose_node(self, parent, index):
        """Refuses an alias, then composes as `yaml.SafeLoader` does.

        Args:
            parent: yaml.Node or None. The enclosing node.
            index: object. The position in the parent.
        """
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"the alias *{event.anchor} (aliases are not allowed here)",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        """Refuses a duplicate key, then constructs as `yaml.SafeLoader` does.

        Args:
            node: yaml.MappingNode. The mapping.
            deep: bool. Construct nested objects at once. Defaults to `False`.
        """
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue  # unhashable keys fail in the base method
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def unique_keys(pairs):
    """A `json.loads` `object_pairs_hook` refusing duplicate keys.

    Args:
        pairs: list of tuple. The `(key, value)` pairs of one JSON object.
    """
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the duplicate key {key!r}")
        result[key] = value
    return result


def load_yaml(text):
    """Parses YAML `text` with `StrictYamlLoader`.

    Args:
        text: str. The YAML document.

    Raises:
        yaml.YAMLError: invalid YAML, an alias or a duplicate key.
        RecursionError: nesting deeper than the parser can follow.
    """
    return yaml.load(text, Loader=StrictYamlLoader)


def load_json(text):
    """Parses JSON `text`, refusing duplicate keys.

    Args:
        text: str or bytes. The JSON document.

    Raises:
        json.JSONDecodeError: invalid JSON.
        ValueError: a duplicate key.
        RecursionError: nesting deeper than the parser can follow.
    """
    return json.loads(text, object_pairs_hook=unique_keys)


def read_json_file(path, what, max_bytes):
    """Reads a JSON file another program may have written: a regular file
    of at most `max_bytes`, parsed with `load_json`.

    Args:
        path: str. The file.
        what: str. What it is, for the messages (e.g. "The model card").
        max_bytes: int. The largest size allowed.

    Raises:
        ValueError: a special or oversized file, invalid JSON, a duplicate
            key or nesting too deep, naming `what` and `path`.
    """
    check_regular_file(path, what, max_bytes)
    try:
        with open(path, encoding="utf-8") as handle:
            return load_json(handle.read())
    except RecursionError:
        raise ValueError(f"{what} {path!r} is nested too deeply.") from None
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{what} {path!r} is not readable JSON ({error}).") from None
