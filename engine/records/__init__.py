"""Typed, frozen records that flow between the engine's stages, all in this one package.

Records hold numpy arrays and tuples. Each knows the ``track_id`` (sha256 of
the file's bytes) it came from. Array shapes are documented per field. One
module per stage (``records.audio`` ... ``records.run``), all exported here:
``from engine.records import SectionTable``. Records import nothing from the
stages, so any stage may import them.
"""

from .analysis import *  # noqa: F401,F403
from .analysis import __all__ as _analysis
from .audio import *  # noqa: F401,F403
from .audio import __all__ as _audio
from .describe import *  # noqa: F401,F403
from .describe import __all__ as _describe
from .mixing import *  # noqa: F401,F403
from .mixing import __all__ as _mixing
from .neural import *  # noqa: F401,F403
from .neural import __all__ as _neural
from .run import *  # noqa: F401,F403
from .run import __all__ as _run
from .store import *  # noqa: F401,F403
from .store import __all__ as _store

__all__ = [*_audio, *_describe, *_neural, *_store, *_analysis, *_mixing, *_run]
