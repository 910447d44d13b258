"""A virtual accelerator for CPU-only test machines: catch a tensor that CUDA would reject for being on the host.

Test helper, not library code. Inside ``with VirtualAccelerator(model) as va:`` the CPU plays two devices:

- **accelerator** ("cpu:0"): the model's parameters and buffers, every tensor moved with ``.to(d)``/
  ``.to(device=d)``/``.cuda()`` to the accelerator, every tensor a factory builds with ``device=`` the
  accelerator, and every result of an op that had an accelerator tensor among its inputs;
- **host** ("cpu"): everything else — ``torch.tensor``/``zeros``/``from_numpy``/… without ``device=``,
  tokenizer outputs, ``.cpu()``, ``.to("cpu")``.

The two are told apart by a tag kept per tensor object (``torch.utils.weak.WeakIdKeyDictionary``: identity,
weak, so dead tensors drop out). ``Tensor.device`` of an accelerator tensor reads ``cpu:0`` (which is not
equal to ``cpu``), so ``next(model.parameters()).device``, ``model.device`` and ``x.device`` point code at the
accelerator exactly as they would at ``cuda:0``; ``course_utils.environment.get_device`` returns ``cpu:0`` too,
so models that the code under test loads itself land on the accelerator.

Two layers:
- a ``TorchFunctionMode`` sees Python-level calls: ``.device``, ``.to``/``.cpu``/``.cuda``, factories with a
  ``device=`` argument (tags their results), and ``.numpy()``/``__array__`` of an accelerator tensor (CUDA
  refuses those);
- a ``TorchDispatchMode`` sees every aten op (forward and backward): it propagates the tag from inputs to
  outputs and raises :class:`DeviceLeak` when an op mixes an accelerator tensor with a host tensor of one or
  more dimensions. As on CUDA, 0-dim host tensors (scalars), host index tensors of ``x[idx]``/``x[idx] = v``
  and cross-device ``copy_`` (``x[...] = y``) are allowed.
A forward pre-hook on ``model`` also rejects host tensors given to its ``forward``.

Every violation is raised where it happens, with the Python stack of the offending call, and also recorded in
``va.leaks``; leaving the ``with`` block raises the first recorded one if code under test swallowed it.
"""

from __future__ import annotations

import traceback
from contextlib import ExitStack
from unittest import mock

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map_only
from torch.utils.weak import WeakIdKeyDictionary

ACCELERATOR = torch.device("cpu", 0)
HOST = torch.device("cpu")

#: torch functions that build a tensor from nothing (or from Python/numpy data); ``device=`` decides where.
FACTORIES = {
    torch.tensor,
    torch.as_tensor,
    torch.asarray,
    torch.zeros,
    torch.ones,
    torch.full,
    torch.empty,
    torch.arange,
    torch.range,
    torch.linspace,
    torch.logspace,
    torch.eye,
    torch.rand,
    torch.randn,
    torch.randint,
    torch.randperm,
    torch.normal,
    torch.scalar_tensor,
    torch.empty_strided,
    torch.tril_indices,
    torch.triu_indices,
    torch.zeros_like,
    torch.ones_like,
    torch.full_like,
    torch.empty_like,
    torch.rand_like,
    torch.randn_like,
    torch.randint_like,
}
#: aten ops allowed to take host tensors next to accelerator ones (as CUDA allows): copy_ copies across devices;
#: indexing accepts host index tensors (checked on ``self``/``values`` only).
_COPY = {torch.ops.aten.copy_.default}
_INDEX = {
    torch.ops.aten.index.Tensor,
    torch.ops.aten.index_put_.default,
    torch.ops.aten.index_put.default,
    torch.ops.aten._index_put_impl_.default,
}
_NO_TENSOR_OUTPUT = {torch.ops.aten._local_scalar_dense.default}


class DeviceLeak(AssertionError):
    """A host tensor met an accelerator tensor (or the model's forward), which a GPU would refuse."""


def _is_accelerator(device) -> bool:
    """True for the virtual accelerator ``cpu:0`` and anything CUDA-like (``"cuda"``, ``cuda:1``, an int)."""
    if isinstance(device, int) and not isinstance(device, bool):
        return True
    device = torch.device(device)
    return device.type == "cuda" or device == ACCELERATOR


class VirtualAccelerator:
    """Context manager: run code with ``model`` on a virtual accelerator; see the module docstring."""

    def __init__(self, *models: torch.nn.Module):
        self.models = models
        self.tags: WeakIdKeyDictionary = WeakIdKeyDictionary()
        self.leaks: list[DeviceLeak] = []
        self._stack: ExitStack | None = None

    # tags -----------------------------------------------------------------------------------------------
    def on_accelerator(self, t) -> bool:
        return isinstance(t, torch.Tensor) and t in self.tags

    def mark(self, t, accelerator: bool = True) -> None:
        if not isinstance(t, torch.Tensor):
            return
        if accelerator:
            self.tags[t] = True
        else:
            self.tags.pop(t, None)

    def mark_module(self, module: torch.nn.Module) -> None:
        for p in module.parameters():
            self.mark(p)
        for b in module.buffers():
            self.mark(b)

    def leak(self, message: str) -> None:
        stack = "".join(traceback.format_stack()[-24:-2])  # the innermost frames: test → library → torch
        error = DeviceLeak(f"{message}\nPython stack of the offending call:\n{stack}")
        self.leaks.append(error)
        raise error

    # context ----------------------------------------------------------------------------------------------
    def __enter__(self) -> VirtualAccelerator:
        import course_utils.environment as environment

        self._stack = stack = ExitStack()
        for m in self.models:
            self.mark_module(m)
            stack.callback(m.register_forward_pre_hook(self._check_forward, with_kwargs=True).remove)
        stack.enter_context(mock.patch.object(environment, "get_device", lambda: ACCELERATOR))
        for name in ("course_utils.models",):  # modules that imported get_device by name
            stack.enter_context(mock.patch(f"{name}.get_device", lambda: ACCELERATOR))
        original_new, original_deepcopy = torch.nn.Parameter.__new__, torch.nn.Parameter.__deepcopy__

        def parameter_new(cls, data=None, requires_grad=True):  # Parameter(t) is a new object: keep t's place
            out = original_new(cls, data, requires_grad)
            self.mark(out, data is not None and self.on_accelerator(data))
            return out

        def parameter_deepcopy(param, memo):
            out = original_deepcopy(param, memo)
            self.mark(out, self.on_accelerator(param))
            return out

        stack.enter_context(mock.patch.object(torch.nn.Parameter, "__new__", staticmethod(parameter_new)))
        stack.enter_context(mock.patch.object(torch.nn.Parameter, "__deepcopy__", parameter_deepcopy))
        stack.enter_context(_Dispatch(self))
        stack.enter_context(_Function(self))
        return self

    def __exit__(self, *exc) -> bool:
        self._stack.close()
        self._stack = None
        if exc[0] is None and self.leaks:
            raise self.leaks[0]
        return False

    def __deepcopy__(self, memo):  # a model copied inside the block keeps the (shared) forward hook
        return self

    def _check_forward(self, module, args, kwargs):
        if self._stack is None:
            return
        for t in tree_flatten((args, kwargs))[0]:
            if isinstance(t, torch.Tensor) and t.dim() > 0 and not self.on_accelerator(t):
                self.leak(
                    f"a host tensor of shape {tuple(t.shape)} (dtype {t.dtype}) was passed to "
                    f"{type(module).__name__}.forward; move it to the model's device first"
                )


def _is_device(a) -> bool:
    return isinstance(a, (str, torch.device)) or (isinstance(a, int) and not isinstance(a, bool))


def _to_target(args, kwargs):
    """Where ``Tensor.to(*args, **kwargs)`` sends the tensor: True (accelerator), False (host), or None (stays)."""
    if kwargs.get("device") is not None:
        return _is_accelerator(kwargs["device"])
    for a in args[1:]:
        if isinstance(a, torch.Tensor):
            return a
        if _is_device(a):
            return _is_accelerator(a)
    return None


_DEVICE_GET = torch.Tensor.device.__get__
_DATA_GET = torch.Tensor.data.__get__


class _Function(TorchFunctionMode):
    def __init__(self, va: VirtualAccelerator):
        super().__init__()
        self.va = va

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        va = self.va
        if func == _DEVICE_GET:
            real = func(*args, **kwargs)  # meta tensors (model loading) keep their device
            return ACCELERATOR if real.type == "cpu" and va.on_accelerator(args[0]) else real
        if func is torch.Tensor.__deepcopy__:
            out = func(*args, **kwargs)
            va.mark(out, va.on_accelerator(args[0]))
            return out
        if (
            func == _DATA_GET
        ):  # .data is a new tensor object sharing the storage (deepcopy, Module._apply use it)
            out = func(*args, **kwargs)
            va.mark(out, va.on_accelerator(args[0]))
            return out
        if func in (torch.Tensor.numpy, torch.Tensor.__array__) and va.on_accelerator(args[0]):
            va.leak(
                f"{getattr(func, '__name__', func)}() of an accelerator tensor of shape {tuple(args[0].shape)}: "
                "CUDA refuses this; call .cpu() first"
            )
        if func is torch.Tensor.to:
            target = _to_target(args, kwargs)
            if isinstance(target, torch.Tensor):
                target = va.on_accelerator(target)
            if target is None:
                return func(*args, **kwargs)
            if target:  # cuda / cpu:0 → the real (CPU) device; meta and cpu stay as asked
                args = tuple(HOST if i > 0 and _is_device(a) else a for i, a in enumerate(args))
                kwargs = {k: (HOST if k == "device" else v) for k, v in kwargs.items()}
            return self._moved(args[0], func(*args, **kwargs), target)
        if func is torch.Tensor.cpu:
            return self._moved(args[0], func(*args, **kwargs), False)
        if func is torch.Tensor.cuda:
            return self._moved(args[0], args[0], True)
        if func in FACTORIES and kwargs.get("device") is not None:
            target = _is_accelerator(kwargs["device"])
            out = func(*args, **({**kwargs, "device": HOST} if target else kwargs))  # meta, cpu: as asked
            return self._moved(args[0] if args else None, out, target)
        return func(*args, **kwargs)

    def _moved(self, source, out, target: bool):
        """Tag ``out`` as on the accelerator (``target``) or the host; never retag ``source``, as on a GPU."""
        va = self.va
        if not isinstance(out, torch.Tensor) or va.on_accelerator(out) == target:
            if isinstance(out, torch.Tensor) and target:
                va.mark(out)
            return out
        if isinstance(source, torch.nn.Parameter) and out is source:
            va.mark(out, target)  # Module.to() moves parameters in place
            return out
        if out is source:  # a real move makes a new tensor and leaves the source where it was
            with torch._C.DisableTorchFunction():
                out = out.view_as(out)
        va.mark(out, target)
        return out


class _Dispatch(TorchDispatchMode):
    def __init__(self, va: VirtualAccelerator):
        super().__init__()
        self.va = va

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        va = self.va
        out = func(*args, **kwargs)
        if func in _NO_TENSOR_OUTPUT:
            return out
        if func in _COPY:
            return out  # self keeps its place; the source may be on either device
        checked_args = args
        if func in _INDEX:
            checked_args = (args[0],) + tuple(args[2:])  # indices may live on the host
        tensors = [t for t in tree_flatten((checked_args, kwargs))[0] if isinstance(t, torch.Tensor)]
        accelerated = [t for t in tensors if va.on_accelerator(t)]
        if func in _INDEX and not va.on_accelerator(args[0]) and args[0].dim() > 0:
            indices = [t for t in tree_flatten(args[1])[0] if isinstance(t, torch.Tensor)]
            if any(va.on_accelerator(t) for t in indices):
                va.leak(
                    f"{func} indexes a host tensor of shape {tuple(args[0].shape)} with accelerator indices; "
                    "CUDA refuses this: move the indices with .cpu() or the tensor to the device"
                )
        if accelerated:
            host = [t for t in tensors if not va.on_accelerator(t) and t.dim() > 0]
            if host:
                shapes = ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in host)
                va.leak(
                    f"{func} mixes accelerator tensors with host tensors of shape {shapes}; CUDA raises "
                    "'Expected all tensors to be on the same device'. Create them with device= or .to(device)"
                )
            tree_map_only(torch.Tensor, va.mark, out)
        return out
