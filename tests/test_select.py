"""Representative sections: the three rules, and the thesis's 824 rows re-derived exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.config import SelectConfig
from engine.errors import ParameterError
from engine.describe.representative import select_sections, thesis_ratio


def test_thesis_rule_rederives_out_dataset_1_exactly(data_dir):
    full = pd.read_csv(data_dir / "out_dataset.csv", sep=";")
    kept = pd.read_csv(data_dir / "out_dataset_1.csv", sep=";")
    assert len(full) == 1414
    # the rule applies per song, as sections_from_frames applies it per track
    config = SelectConfig(rule="thesis", fraction=0.6)
    mask = np.zeros(len(full), dtype=bool)
    for _, rows in full.groupby("filename", sort=False).indices.items():
        mask[rows] = select_sections(full.rmse.to_numpy()[rows], full.spectral_centroid.to_numpy()[rows], config=config)
    assert mask.sum() == len(kept) == 824
    got = set(zip(full.filename[mask], full.part[mask]))
    assert got == set(zip(kept.filename, kept.part))


def test_thesis_ratio_matches_the_stored_columns(data_dir):
    full = pd.read_csv(data_dir / "out_dataset.csv", sep=";")
    kept = pd.read_csv(data_dir / "out_dataset_1.csv", sep=";")
    name = kept.filename.iloc[0]
    song = full[full.filename == name]
    ratio = pd.Series(thesis_ratio(song.rmse.to_numpy(), song.spectral_centroid.to_numpy()), index=song.part.to_numpy())
    ref = kept[kept.filename == name].set_index("part")["ratio"]
    assert np.allclose(ratio[ref.index].to_numpy(), ref.to_numpy(), rtol=1e-9)


def test_energy_rule_keeps_the_loudest_fraction():
    rms = np.array([0.1, 0.5, 0.3, 0.9, 0.2])
    mask = select_sections(rms, np.zeros(5), config=SelectConfig(rule="energy", fraction=0.4))
    assert mask.tolist() == [False, True, False, True, False]
    one = select_sections(np.array([0.3]), np.array([1.0]), config=SelectConfig(rule="energy", fraction=0.1))
    assert one.tolist() == [True]


def test_all_rule_and_the_thesis_rule_keep_quiet_bright_sections():
    rms = np.array([0.9, 0.1, 0.5, 0.4])
    cen = np.array([1000.0, 3000.0, 2000.0, 1500.0])
    assert select_sections(rms, cen, config=SelectConfig(rule="all")).all()
    thesis = select_sections(rms, cen, config=SelectConfig(rule="thesis", fraction=0.5))
    # section 1 is quiet and bright (ratio inf) and ranks first; section 0 is loud and dull (ratio 0)
    assert thesis[1] and not thesis[0]


def test_mismatched_inputs_raise():
    with pytest.raises(ParameterError, match="one length"):
        select_sections(np.zeros(3), np.zeros(4), config=SelectConfig())
    with pytest.raises(ParameterError, match="one length"):
        select_sections(np.zeros((2, 2)), np.zeros((2, 2)), config=SelectConfig())
