"""CuePolicy driven by synthetic stamped sequences: no sleeps, time is only the stamps."""

from dataclasses import replace

import pytest

from alert_player.mapping import DEFAULT_MAPPING, categorize
from alert_player.policy import CuePolicy, PolicyConfig

FPS = 10


def frames(t0, seconds, emotion="sad", confidence=0.9, mapping=None, p_bad=None):
    """Frames at FPS from t0 for `seconds`; emotion None = no face.

    Each is (stamp, has_face, emotion, confidence, category, P(bad)); P(bad) defaults to the confidence for a
    bad emotion, else to the rest of the probability spread evenly over the other four classes.
    """
    out = []
    for i in range(round(seconds * FPS)):
        t = t0 + i / FPS
        if emotion is None:
            out.append((t, False, "", 0.0, "none", 0.0))
        else:
            category = categorize(mapping or DEFAULT_MAPPING, emotion)
            default = confidence if category == "bad" else (1 - confidence) / 4
            out.append((t, True, emotion, confidence, category, default if p_bad is None else p_bad))
    return out


def run(policy, seq, busy=False):
    return [(f[0], policy.update(*f[:5], busy=busy, bad_probability=f[5])) for f in seq]


def cue_times(decisions):
    return [round(t, 2) for t, d in decisions if d.cue]


def test_short_blip_of_bad_gives_no_cue():
    policy = CuePolicy()
    seq = frames(0, 3, "happy") + frames(3, 0.8, "sad") + frames(3.8, 3, "neutral")
    out = run(policy, seq)
    assert cue_times(out) == []
    assert {d.reason for _, d in out} == {"below_threshold"}
    assert max(d.bad_share for _, d in out) == pytest.approx(8 / 21)


def test_blip_at_start_up_gives_no_cue():
    # a half-filled window of bad frames is a high share, but not yet a sustained one
    assert cue_times(run(CuePolicy(), frames(0, 0.8, "fear") + frames(0.8, 3, "happy"))) == []


def test_sustained_bad_gives_exactly_one_cue():
    out = run(CuePolicy(), frames(0, 20, "sad"))
    assert cue_times(out) == [1.2]  # bad_threshold * window_s of bad, then never again in the same episode
    assert [d.reason for _, d in out].count("played") == 1
    assert out[-1][1].category == "bad" and out[-1][1].bad_share == 1.0


def test_low_confidence_bad_frames_do_not_count():
    out = run(CuePolicy(), frames(0, 5, "sad", confidence=0.3, p_bad=PolicyConfig().bad_probability - 0.05))
    assert cue_times(out) == [] and out[-1][1].bad_share == 0.0


def test_probability_rule_counts_a_neutral_top_label_with_a_high_bad_probability():
    """Subtle fear/sad reads as neutral on top; P(fear) + P(sad) still says bad."""
    seq = frames(0, 5, "neutral", confidence=0.45, p_bad=0.5)
    out = run(CuePolicy(), seq)
    assert cue_times(out) == [1.2] and out[-1][1].category == "acceptable" and out[-1][1].bad_probability == 0.5
    # the threshold is the parameter: just under it, the frame is not bad
    assert cue_times(run(CuePolicy(PolicyConfig(bad_probability=0.51)), seq)) == []


def test_label_rule_keeps_the_earlier_behaviour():
    label = PolicyConfig(bad_rule="label")
    assert cue_times(run(CuePolicy(label), frames(0, 5, "neutral", confidence=0.45, p_bad=0.5))) == []
    assert cue_times(run(CuePolicy(label), frames(0, 5, "sad", confidence=0.41, p_bad=0.0))) == [1.2]
    assert cue_times(run(CuePolicy(label), frames(0, 5, "sad", confidence=0.39, p_bad=1.0))) == []


def test_cooldown_holds_the_next_cue():
    policy = CuePolicy(PolicyConfig(cooldown_s=8.0))
    seq = frames(0, 3, "sad") + frames(3, 2.5, "happy") + frames(5.5, 6, "fear")
    out = run(policy, seq)
    assert cue_times(out) == [1.2, 9.2]  # the second episode waits for 1.2 + 8 s
    reasons = [d.reason for t, d in out if 6.7 <= t < 9.15]
    assert set(reasons) == {"cooldown"}


def test_hysteresis_needs_the_share_to_drop_below_release():
    policy = CuePolicy(PolicyConfig(cooldown_s=0.0))
    # After the cue the share hovers near 0.5 (never under 0.3): no second cue.
    seq = frames(0, 2, "sad")
    t = 2.0
    for _ in range(10):
        seq += frames(t, 0.5, "happy") + frames(t + 0.5, 0.5, "sad")
        t += 1.0
    out = run(policy, seq)
    assert cue_times(out) == [1.2]
    # Once it drops below release_threshold, the next sustained episode cues again.
    out = run(policy, frames(t, 3, "happy") + frames(t + 3, 3, "sad"))
    assert cue_times(out) == [round(t + 3 + 1.2, 2)]


def test_no_face_frames_neither_trigger_nor_reset():
    policy = CuePolicy()
    out = run(policy, frames(0, 10, None))
    assert cue_times(out) == [] and {(d.reason, d.category) for _, d in out} == {("no_face", "none")}
    # A short gap keeps the window: 0.8 s bad + 0.3 s without a face + bad cues at 1.2 s of stamps.
    policy = CuePolicy()
    out = run(policy, frames(0, 0.8, "sad") + frames(0.8, 0.3, None) + frames(1.1, 1, "sad"))
    assert cue_times(out) == [1.2]
    # The window slides on the stamps of no-face frames too: old bad frames age out of it.
    policy = CuePolicy()
    out = run(policy, frames(0, 1, "sad") + frames(1, 3, None) + frames(4, 0.5, "sad") + frames(4.5, 2, "happy"))
    assert cue_times(out) == []


def test_runtime_config_change_takes_effect_on_the_next_frame_and_keeps_the_window():
    policy = CuePolicy()
    run(policy, frames(0, 1.0, "sad"))  # 1 s of bad: below 1.2 s, no cue yet
    policy.config = replace(policy.config, bad_threshold=0.4)
    t, d = run(policy, frames(1.0, 0.1, "sad"))[0]
    assert d.cue and d.reason == "played"  # window kept: 1.0 s of bad >= 0.4 * 2 s


def test_runtime_mapping_change_takes_effect_on_the_next_frame():
    policy, mapping = CuePolicy(), dict(DEFAULT_MAPPING)
    out = run(policy, frames(0, 1, "happy", mapping=mapping))
    assert out[-1][1].category == "good"
    mapping["happy"] = "bad"
    out = run(policy, frames(1, 3, "happy", mapping=mapping))
    assert out[0][1].category == "bad"
    assert cue_times(out) == [2.2]  # 1.2 s of (newly) bad frames: 13 of the 21 frames in the window


def test_mute_and_busy_hold_the_cue_until_lifted():
    policy = CuePolicy(PolicyConfig(mute=True))
    out = run(policy, frames(0, 2, "sad"))
    assert cue_times(out) == [] and out[-1][1].reason == "muted"
    policy.config = replace(policy.config, mute=False)
    out = run(policy, frames(2, 0.3, "sad"), busy=True)
    assert cue_times(out) == [] and {d.reason for _, d in out} == {"busy"}
    assert cue_times(run(policy, frames(2.3, 1, "sad"))) == [2.3]


def test_face_lost_cue_once_per_absence():
    policy = CuePolicy(PolicyConfig(face_lost_s=1.5))
    seq = frames(0, 1, "happy") + frames(1, 3, None) + frames(4, 1, "happy") + frames(5, 2, None)
    out = run(policy, seq)
    lost = [(round(t, 2), d.reason) for t, d in out if d.cue]
    assert lost == [(2.4, "face_lost"), (6.4, "face_lost")]  # 1.5 s after the last face frame (0.9, 4.9)
    assert CuePolicy().update(10.0, False, "", 0.0, "none").reason == "no_face"  # face_lost_s=0: off


def test_stamps_jumping_back_restart_the_timeline():
    policy = CuePolicy()
    assert cue_times(run(policy, frames(100, 2, "sad"))) == [101.2]
    # a replay restarted: the cooldown from stamp 101.2 must not hold cues at stamps 0..
    assert cue_times(run(policy, frames(0, 2, "sad"))) == [1.2]


def test_policy_config_is_validated():
    with pytest.raises(ValueError, match="cooldown_s=-1.0: must be >= 0"):
        PolicyConfig(cooldown_s=-1)
    with pytest.raises(ValueError, match="release_threshold"):
        PolicyConfig(bad_threshold=0.5, release_threshold=0.5)


def live(policy, seq, clock0=500.0, stamp_of=lambda t: t):
    """Frames received in real time: the receive clock advances with the frame times, stamps may not."""
    return [(f[0], policy.update(stamp_of(f[0]), *f[1:5], now=clock0 + f[0], bad_probability=f[5])) for f in seq]


def test_a_stamp_jump_restarts_the_window_but_keeps_the_cooldown():
    """One far-future (or backwards) stamp restarts the window but not the cooldown: cues stay 8 s apart."""
    for jump in (3600.0, -3600.0):
        policy = CuePolicy(PolicyConfig(cooldown_s=8.0, release_threshold=0.5))
        seq = frames(10, 8, "sad")
        out = live(policy, seq, stamp_of=lambda t, j=jump: t if t < 12.5 else t + j)
        assert cue_times(out) == [11.2], jump  # without the guard: a second cue at 13.7
        out = live(policy, frames(18, 4, "sad"), stamp_of=lambda t, j=jump: t + j)
        assert cue_times(out) == [19.2], jump  # 8 s of receive clock after the first cue


def test_without_a_receive_clock_only_stamps_count_as_before():
    policy = CuePolicy(PolicyConfig(cooldown_s=8.0))
    seq = frames(0, 4, "sad") + frames(4, 2, "happy") + frames(100.0, 4, "sad")  # a gap in a recording
    assert cue_times(run(policy, seq)) == [1.2, 101.2]


def test_unset_stamps_use_the_receive_clock_and_the_window_stays_bounded():
    policy = CuePolicy(PolicyConfig(cooldown_s=8.0))
    out = live(policy, frames(0, 4, "sad"), stamp_of=lambda t: 0.0)
    assert cue_times(out) == [1.2]
    policy = CuePolicy(PolicyConfig(window_s=60.0))
    for i in range(20000):
        policy.update(0.0, True, "happy", 0.9, "good", now=float(i) * 1e-4)
    assert len(policy._window) <= 8192


@pytest.mark.parametrize(
    "stamp_of, trouble",
    [
        (lambda t: 1000.0 - t, "went back"),  # every stamp earlier than the one before
        (lambda t: 77.0, "froze"),  # a frozen non-zero stamp
        (lambda t: t + 6.0 * (round(t * FPS) // 15), "jumped ahead"),  # +6 s every 15 frames
    ],
)
def test_stamps_that_go_back_freeze_or_jump_repeatedly_give_way_to_the_receive_clock(stamp_of, trouble):
    """These stamps used to silence the coach: 0 cues in 14 s of 0.9-confidence sad."""
    policy = CuePolicy(PolicyConfig(cooldown_s=8.0))
    out = live(policy, frames(0, 14, "sad"), stamp_of=stamp_of)
    assert policy.stamp_trouble.startswith(f"message stamps {trouble} 3 times")
    cues = cue_times(out)
    assert cues and cues[0] < 2.0 and all(b - a >= 8.0 for a, b in zip(cues, cues[1:]))  # early, then cooldown
    assert out[-1][1].bad_share == 1.0


def test_a_single_stamp_trouble_keeps_the_stamps():
    policy = CuePolicy()
    live(policy, frames(0, 2, "happy") + frames(2, 2, "sad"), stamp_of=lambda t: t if t < 1 else t - 0.5)
    assert policy.stamp_trouble == ""
