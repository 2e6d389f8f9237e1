"""CrateMap's compute engine: decode, segment, describe, cluster and compare sections of songs.

Never imports streamlit; usable from Python and from ``python -m engine``.
"""

__version__ = "0.1.0"
