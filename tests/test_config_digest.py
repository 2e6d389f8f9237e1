"""Configs that compare equal digest equally, whatever numeric type built them."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from engine import config as cfg
from engine.errors import ParameterError


def _config_classes():
    return [
        c
        for _, c in inspect.getmembers(cfg, inspect.isclass)
        if dataclasses.is_dataclass(c) and issubclass(c, cfg._Config) and c.__module__ == cfg.__name__
    ]


def _all_defaulted(cls) -> bool:
    return all(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING for f in dataclasses.fields(cls))


def test_segment_config_int_and_float_digest_alike():
    assert cfg.SegmentConfig(15) == cfg.SegmentConfig(15.0)
    assert cfg.SegmentConfig(15).digest() == cfg.SegmentConfig(15.0).digest()
    assert isinstance(cfg.SegmentConfig(15).section_seconds, float)


@pytest.mark.parametrize("cls", [c for c in _config_classes() if _all_defaulted(c)], ids=lambda c: c.__name__)
def test_every_config_normalises_numbers(cls):
    base = cls()
    checked = 0
    for f in dataclasses.fields(cls):
        value = getattr(base, f.name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if isinstance(value, float):
            if not value.is_integer():  # try a whole value the field accepts, as 1.0 and as 1
                try:
                    base = cls(**{f.name: 1.0})
                except ParameterError:
                    continue
                value = 1.0
            variants = [int(value), np.float64(value), np.int64(int(value))]
        else:
            variants = [float(value), np.int64(value), np.float32(value)]
        for v in variants:
            other = cls(**{f.name: v})
            base = cls(**{f.name: value})
            assert other == base and hash(other) == hash(base), (f.name, v)
            assert other.digest() == base.digest(), (f.name, v)
            assert type(getattr(other, f.name)) is type(value), (f.name, v)
        checked += 1
    if cls is not cfg.AggregateConfig and cls is not cfg.AnalysisConfig:  # these hold no number of their own
        assert checked, f"{cls.__name__} has no numeric field with an integral default to check"


def test_nested_configs_digest_alike():
    a = cfg.AnalysisConfig(segment=cfg.SegmentConfig(section_seconds=30, piece_seconds=1))
    b = cfg.AnalysisConfig(segment=cfg.SegmentConfig(section_seconds=30.0, piece_seconds=1.0))
    assert a.digest() == b.digest() and a.section_digest() == b.section_digest()


def test_fractional_value_of_an_integer_field_is_refused():
    with pytest.raises(ParameterError, match=r"ClusterConfig\.k must be a whole number"):
        cfg.ClusterConfig(k=4.5)
