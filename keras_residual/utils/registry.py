"""A small named registry, shared by blocks, stems, models and weights."""

from keras_residual.utils.validation import unknown_name_message


class Registry:
    """Maps names to entries and explains unknown names.

    Args:
        kind: str. What the entries are ("block", "model", ...), used in
            error messages.
        argument: str. The argument users pass the name through, used in
            error messages.
    """

    def __init__(self, kind, argument):
        self.kind = kind
        self.argument = argument
        self._entries = {}

    def register(self, name, entry, overwrite=False):
        """Adds `entry` under `name`.

        Args:
            name: str. The registered name.
            entry: object. What `get(name)` returns.
            overwrite: bool. Replace an existing entry instead of raising.
                Defaults to `False`.
        """
        if not isinstance(name, str) or not name:
            raise TypeError(
                f"A {self.kind} name must be a non-empty string; received {name!r}."
            )
        if name in self._entries and not overwrite:
            raise ValueError(
                f"A {self.kind} named {name!r} is already registered. "
                "Pass `overwrite=True` to replace it."
            )
        self._entries[name] = entry
        return entry

    def unregister(self, name):
        """Removes `name`; unknown names raise `ValueError`.

        Args:
            name: str. A registered name.
        """
        self.get(name)
        del self._entries[name]

    def get(self, name):
        """Returns the entry for `name` or raises a `ValueError`.

        Args:
            name: str. A registered name.
        """
        if not isinstance(name, str):
            raise TypeError(
                f"`{self.argument}` must be a string naming a registered "
                f"{self.kind}; received {name!r} of type "
                f"{type(name).__name__}."
            )
        if name not in self._entries:
            raise ValueError(
                unknown_name_message(self.argument, name, self._entries, kind=self.kind)
            )
        return self._entries[name]

    def __contains__(self, name):
        return name in self._entries

    def names(self):
        """Returns the registered names, in registration order."""
        return list(self._entries)

    def items(self):
        return list(self._entries.items())
