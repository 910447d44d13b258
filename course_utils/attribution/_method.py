"""What an attribution method is to :func:`course_utils.attribution.explain`: the :class:`Method` contract,
the one type of its diagnostics, and the registry of methods by name.

A method is a class (used without instances: methods keep no state) that declares what it can do — the
coordinator asks the method and keeps no lists of method names (after Captum's ``Attribution`` base)::

    class LeaveOneOut(Method):
        name = "loo"                # explain(..., method="loo")
        predicts = False            # explain runs the forward pass for the prediction and passes targets
        needs_tokenizer = True      # explain passes its tokenizer (else the method gets tokenizer=None)
        granularity = "token"       # scores per WordPiece ("word": one score per word, shared by its pieces)

        @dataclass(frozen=True)
        class Options:              # the method's options, their defaults, their checks
            level: str = "token"
            def __post_init__(self): ...   # raise TypeError/ValueError with a message that says the fix

        @staticmethod
        def attribute(model, batch, targets, options, tokenizer=None) -> tuple[torch.Tensor, Diagnostics]: ...

:func:`register` adds a method class under its ``name``; :data:`METHODS` is the registry (name → class, in
registration order: the order error messages list the methods in).

Taught in notebook 03 (one entry point for every method); used in notebooks 04–07.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import numpy as np
import torch

from .._validation import check_choice

GRANULARITIES = ("token", "word")


@dataclass(frozen=True)
class Diagnostics:
    """What a method reports for a batch of b documents besides its scores: numpy arrays, nothing else.

    Attributes:
        columns: name → 1-D numpy array ``(b,)``, one value per document (numbers, bools or strings); they
            become the method's columns of the per-document table (``documents(table)``), in this order.
        logits: float32 ``(b, n_labels)``, only from a method that ``predicts``: the model's logits on the
            unaltered texts (explain's prediction and probability).
        target: int64 ``(b,)``, only from a method that ``predicts``: the class each document was explained for.
    """

    columns: dict[str, np.ndarray]
    logits: np.ndarray | None = None
    target: np.ndarray | None = None

    def __post_init__(self):
        for name, values in self.columns.items():
            if not isinstance(values, np.ndarray) or values.ndim != 1:
                raise TypeError(
                    f"diagnostic {name!r} must be a 1-D numpy array (one value per document), got "
                    f"{type(values).__name__}; build diagnostics with Diagnostics.of(...)"
                )
        for name in ("logits", "target"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(
                    f"Diagnostics.{name} must be a numpy array or None, got {type(value).__name__}"
                )

    @classmethod
    def of(cls, columns: Mapping[str, object], *, logits=None, target=None) -> Diagnostics:
        """Diagnostics from per-document values given as tensors, lists or arrays (converted to numpy)."""
        return cls(
            {name: _numpy(values) for name, values in columns.items()},
            None if logits is None else _numpy(logits),
            None if target is None else _numpy(target),
        )

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


def _numpy(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


class Method:
    """The contract every attribution method of :func:`course_utils.attribution.explain` fulfils.

    Declarations (class attributes):
        name: the method's name in ``explain(..., method=name)``.
        predicts: True if :meth:`attribute` predicts as it goes: it takes ``targets=None`` (explain the
            predicted class) and returns the model's ``logits`` on the unaltered texts and the ``target`` it
            explained in its :class:`Diagnostics`, so explain runs no forward pass of its own (integrated
            gradients gets the logits with its gradient at α = 1). False: explain predicts, and passes
            ``targets`` (LongTensor ``(b,)``) always filled in.
        needs_tokenizer: True if :meth:`attribute` reads the tokenizer (explain passes its own); False: it
            is called with ``tokenizer=None``.
        granularity: ``"token"`` (a score per WordPiece) or ``"word"`` (one score per word, shared equally
            by its pieces; the per-document table then says ``granularity == "word"``).
        Options: a frozen dataclass of the method's options: every field has its default, and
            ``__post_init__`` raises TypeError/ValueError for a bad value with a message saying the fix.

    Entry point: :meth:`attribute`, ``(model, batch, targets, options, tokenizer=None) -> (scores, diagnostics)``.
    """

    name: ClassVar[str]
    predicts: ClassVar[bool] = False
    needs_tokenizer: ClassVar[bool] = False
    granularity: ClassVar[str] = "token"
    Options: ClassVar[type]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if not isinstance(name, str) or not name:
            raise TypeError(f"{cls.__name__} must declare name = '<method name>' (a non-empty string)")
        if cls.granularity not in GRANULARITIES:
            raise TypeError(
                f"{cls.__name__}.granularity={cls.granularity!r}; declare one of {list(GRANULARITIES)}"
            )
        options = cls.__dict__.get("Options")
        if not (
            isinstance(options, type)
            and dataclasses.is_dataclass(options)
            and options.__dataclass_params__.frozen
        ):
            raise TypeError(f"{cls.__name__} must declare Options, a @dataclass(frozen=True) of its options")
        missing = [
            f.name
            for f in dataclasses.fields(options)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise TypeError(
                f"{cls.__name__}.Options fields {missing} need defaults (explain's options are optional)"
            )
        if "attribute" not in cls.__dict__:
            raise TypeError(
                f"{cls.__name__} must define attribute(model, batch, targets, options, tokenizer=None)"
            )

    @classmethod
    def defaults(cls) -> dict[str, object]:
        """The options and their defaults, in declaration order."""
        return {
            f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
            for f in dataclasses.fields(cls.Options)
        }

    @staticmethod
    def attribute(
        model, batch: dict[str, torch.Tensor], targets: torch.Tensor | None, options, tokenizer=None
    ) -> tuple[torch.Tensor, Diagnostics]:
        """Scores for a padded batch of b documents.

        Args:
            model: a ``…ForSequenceClassification`` model, in eval mode.
            batch: ``input_ids``, ``attention_mask``, ``token_type_ids`` and ``word_ids`` ``(b, s)`` on the
                model's device, each row ``[CLS] … [SEP]`` then padding (``word_ids`` -1 at specials and padding).
            targets: LongTensor ``(b,)``, the class to explain per document; None only for a method that
                ``predicts`` (then: each document's predicted class).
            options: an instance of the method's ``Options`` (already checked).
            tokenizer: the model's tokenizer if the method ``needs_tokenizer``, else None.

        Returns:
            ``(scores, diagnostics)``: scores FloatTensor ``(b, s)`` on the CPU (0 at padding);
            :class:`Diagnostics` with one value per document.
        """
        raise NotImplementedError


def as_kwargs(options) -> dict[str, object]:
    """An ``Options`` instance as keyword arguments (field name → value, no copies)."""
    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}


_REGISTRY: dict[str, type[Method]] = {}
#: the registered methods, name → :class:`Method` class (a read-only view; add one with :func:`register`)
METHODS: Mapping[str, type[Method]] = MappingProxyType(_REGISTRY)


def register(method: type[Method]) -> type[Method]:
    """Make ``method`` (a :class:`Method` subclass) available to ``explain(..., method=method.name)``.

    Returns the class, so it also works as a class decorator. Raises ValueError if another class already
    holds that name (call :func:`unregister` first).
    """
    if not (isinstance(method, type) and issubclass(method, Method)):
        raise TypeError(f"register() takes a subclass of Method, got {method!r}")
    held = _REGISTRY.get(method.name)
    if held is not None and held is not method:
        raise ValueError(
            f"a method named {method.name!r} is already registered ({held.__module__}.{held.__qualname__}); "
            "unregister it first or choose another name"
        )
    _REGISTRY[method.name] = method
    return method


def unregister(name: str) -> type[Method]:
    """Remove the method registered as ``name`` and return its class (KeyError if there is none)."""
    return _REGISTRY.pop(name)


def get(name) -> type[Method]:
    """The method class registered as ``name``; ValueError listing the choices otherwise."""
    return _REGISTRY[check_choice(name, "method", _REGISTRY)]
