"""The keras.applications signature, written once: `ApplicationArgs` lists
the arguments every model constructor shares (`keras.applications`' own,
plus `preprocessing`), and `application_function` gives a function that
signature, checked when it is called."""

import dataclasses
import functools
import inspect

from keras_residual.utils.validation import close_matches


@dataclasses.dataclass(frozen=True)
class ApplicationArgs:
    """The arguments of a keras.applications constructor, in its order,
    with keras_residual's defaults.

    Args:
        include_top: bool. Add the pooling and `predictions` classifier.
            Defaults to `True`.
        weights: None, str or path. Pretrained weights (see
            `keras_residual.models.weights_request`). Defaults to `None`.
        input_tensor: tensor or None. Optional input tensor.
        input_shape: tuple or None. `(height, width, channels)`.
        pooling: None, `"avg"` or `"max"`. Pooling for `include_top=False`.
        classes: int or None. Classifier size. Defaults to the weights' or
            the model's.
        classifier_activation: str or None. Defaults to `"softmax"`; None
            returns logits.
        name: str or None. The model's name.
        preprocessing: str, dict, `Preprocessing` or None. The input
            preprocessing the model records. Defaults to the weights' own.
    """

    include_top: bool = True
    weights: object = None
    input_tensor: object = None
    input_shape: tuple = None
    pooling: str = None
    classes: int = None
    classifier_activation: str = "softmax"
    name: str = None
    preprocessing: object = None


APPLICATION_ARGS = tuple(field.name for field in dataclasses.fields(ApplicationArgs))


def application_signature(leading=(), omit=(), **defaults):
    """The keras.applications signature: `leading` positional parameters,
    then the `ApplicationArgs` (less `omit`, with `defaults` changed), then
    `**overrides`.

    Args:
        leading: tuple of str. Parameters before the shared ones.
        omit: tuple of str. Shared parameters the function does not take.
        **defaults: shared parameters whose default differs.
    """
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [inspect.Parameter(name, kind) for name in leading]
    for field in dataclasses.fields(ApplicationArgs):
        if field.name not in omit:
            default = defaults.get(field.name, field.default)
            parameters.append(inspect.Parameter(field.name, kind, default=default))
    parameters.append(inspect.Parameter("overrides", inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(parameters)


def application_function(leading=(), omit=(), **defaults):
    """Decorator: the function takes the keras.applications signature
    (`application_signature(leading, omit, **defaults)`); it is called with
    every argument by keyword, defaults filled in, and the overrides
    spread.

    Args:
        leading: tuple of str. Parameters before the shared ones.
        omit: tuple of str. Shared parameters the function does not take.
        **defaults: shared parameters whose default differs.
    """
    signature = application_signature(leading, omit, **defaults)

    def decorate(function):
        @functools.wraps(function)
        def with_signature(*args, **kwargs):
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as error:
                raise TypeError(f"{with_signature.__name__}(): {error}") from None
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            _refuse_misspelt(with_signature.__name__, arguments["overrides"], arguments)
            return function(**arguments.pop("overrides"), **arguments)

        with_signature.__signature__ = signature
        return with_signature

    return decorate


def _refuse_misspelt(where, overrides, named):
    """An override that is a near miss of a named parameter is a typo
    (`inclde_top`), not a spec override: refused with the right name."""
    for key in overrides:
        close = close_matches(key, named, n=1, cutoff=0.8)
        if close:
            raise TypeError(
                f"{where}() got an unexpected keyword argument {key!r}; did you "
                f"mean {close[0]!r}?"
            )
