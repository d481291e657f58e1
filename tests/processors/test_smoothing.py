"""Smoothing reads into observations, pure."""

from __future__ import annotations

import itertools
import random

from tagtrail_processors.decisions.smoothing import NO_RSSI, add_read

S = 1_000_000
W = 5 * S
H = S // 2


def _feed(reads):
    obs = []
    for t, rssi in reads:
        add_read(obs, "rp", int(t * S), int(t * S), 1, rssi, f"e{t:08.2f}", W, H)
    return obs


def _shape(obs):
    return [(o.first / S, o.last / S, o.count, o.peak, o.entry_rssi, o.source) for o in obs]


def test_reads_within_the_window_are_one_observation_with_counts_and_peak():
    obs = _feed([(0, -60), (0.1, -55), (0.2, -58), (4.9, -70)])
    assert _shape(obs) == [(0.0, 4.9, 4, -55.0, -55.0, "e00000.00")]


def test_an_item_out_of_the_field_longer_than_the_window_is_a_new_observation():
    obs = _feed([(0, -60), (3, -60), (8.1, -61), (9, -61)])
    assert [(o.first / S, o.last / S, o.count) for o in obs] == [(0.0, 3.0, 2), (8.1, 9.0, 2)]


def test_entry_rssi_is_the_peak_of_the_first_two_hold_offs_only():
    obs = _feed([(0.1, -70), (0.7, -65), (1.2, -40)])  # 0.1 up to 1.1 counts, 1.2 does not
    assert obs[0].entry_rssi == -65
    assert obs[0].peak == -40


def test_the_entry_span_starts_at_the_first_read_not_at_a_slot_boundary():
    # 1.3 s lies in the third 0.5 s slot of the clock, but within two hold-offs of the first read
    assert _feed([(0.45, -70), (1.3, -60)])[0].entry_rssi == -60
    assert _feed([(0.05, -70), (0.95, -60)])[0].entry_rssi == -60  # the same reads, 0.4 s earlier


def test_a_late_earlier_read_moves_the_entry_span_with_it():
    obs = _feed([(1.0, -70), (1.9, -50)])
    assert obs[0].entry_rssi == -50
    add_read(obs, "rp", S // 2, S // 2, 1, -75, "late", W, H)  # now the span is 0.5 up to 1.5: 1.9 drops out
    assert (obs[0].first, obs[0].source, obs[0].entry_rssi) == (S // 2, "late", -70)


def test_reads_without_rssi_count_as_presence():
    obs = []
    add_read(obs, "rp", 0, 0, 3, NO_RSSI, "a", W, H)
    assert obs[0].count == 3 and obs[0].entry_rssi == NO_RSSI


def test_a_late_read_bridging_two_observations_merges_them():
    obs = _feed([(0, -60), (1, -60), (9, -50), (10, -50)])
    assert len(obs) == 2
    add_read(obs, "rp", 5 * S, 5 * S, 1, -65, "late", W, H)
    assert _shape(obs) == [(0.0, 10.0, 5, -50.0, -60.0, "e00000.00")]


def test_observations_do_not_depend_on_arrival_order():
    rng = random.Random(7)
    reads = [(round(t, 2), -50 - rng.random() * 20) for t in itertools.accumulate(rng.expovariate(0.3) for _ in range(120))]
    expected = _shape(_feed(reads))
    assert len(expected) > 3  # gaps wider than the window happen in this series
    for seed in range(20):
        shuffled = list(reads)
        random.Random(seed).shuffle(shuffled)
        assert _shape(_feed(shuffled)) == expected
