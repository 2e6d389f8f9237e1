"""CrateMap's compute engine: decode, segment, describe, cluster and compare sections of songs.

One package per stage, in the order data flows::

    audio/     files -> mono signals, track ids, section bounds, spectrograms
    describe/  signal -> frame features, section rows, tempo, key, representative sections
    neural/    signal -> musicnn / VGGish embeddings, tags, Grad-CAM
    store/     frames, sections, pieces -> Parquet store; section tables, reviews, exports
    analysis/  section table -> scaling, clusters, maps, explanations, neighbours, comparisons
    mixing/    sections -> DJ descriptors, suggestions, paths, transition previews
    run/       files + store -> the whole flow per file, locally or on Dask
    cli/       ``python -m engine``

``config``, ``records`` and ``errors`` are shared by every stage. A package imports
only from the ones above it in this list (a test reads the imports). Never imports
streamlit; usable from Python and from ``python -m engine``.
"""

__version__ = "0.1.0"
