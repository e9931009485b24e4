"""motionkit: many variations of one motion clip, from the command line."""
from .hookspecs import Executor, Format, hookimpl
from .motion import Motion, Skeleton

__version__ = "0.1.0"
__all__ = ["Executor", "Format", "Motion", "Skeleton", "hookimpl", "__version__"]
