import json
import math
import os
import re

import numpy as np
import pytest

from emotion_classifier import calibration, calibration_file
from emotion_classifier.calibration import Calibration, CalibrationError, fit
from emotion_classifier.calibration_file import load, save
from emotion_classifier.labels import CLASSES

NEUTRAL = CLASSES.index("neutral")


def _hold(profile, n=60, noise=0.3, seed=0):
    """``n`` probability vectors scattered (in log space) around ``profile``."""
    rng = np.random.default_rng(seed)
    logits = np.log(np.asarray(profile))[None, :] + rng.normal(0, noise, (n, len(profile)))
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


# A resting face that reads as sad: neutral 15 %, sad 55 %.
SAD_LOOKING = [0.12, 0.05, 0.15, 0.55, 0.13]
# A face that reads as 95 % neutral at rest: its subtle expressions never leave neutral.
VERY_NEUTRAL = [0.015, 0.01, 0.95, 0.02, 0.005]


def test_fit_makes_neutral_the_argmax_of_a_shifted_neutral_hold_with_a_margin():
    hold = _hold(SAD_LOOKING)
    assert np.mean(hold.argmax(axis=1) == NEUTRAL) < 0.2
    cal = fit(hold, CLASSES, "baseline", 5.0, "2026-12-01T00:00:00Z")
    after = np.array([cal.apply(p) for p in hold])
    assert np.mean(after.argmax(axis=1) == NEUTRAL) > 0.9
    geo = np.log(after).mean(axis=0)
    assert geo[NEUTRAL] - np.delete(geo, NEUTRAL).max() >= calibration.MARGIN - 1e-6  # a margin, not a coin toss
    mean = after.mean(axis=0)
    assert mean[NEUTRAL] > 1.5 * np.delete(mean, NEUTRAL).max()
    assert cal.frames == 60 and cal.seconds == 5.0 and cal.model_variant == "baseline"
    assert cal.neutral_before < 0.25 < 0.4 < cal.neutral_after
    assert "neutral" in cal.summary() and "60 frames" in cal.summary()


def test_the_flat_goal_keeps_the_other_classes_order_on_the_hold():
    hold = _hold(SAD_LOOKING)
    cal = fit(hold, CLASSES, reference=None)
    before = np.log(hold).mean(axis=0)
    after = np.log(cal.apply(hold)).mean(axis=0)
    others = [i for i in range(len(CLASSES)) if i != NEUTRAL]
    assert list(np.argsort(before[others])) == list(np.argsort(after[others]))
    assert after.argmax() == NEUTRAL


def test_the_reference_goal_undoes_part_of_a_prior_shift_and_leaves_a_typical_face_alone():
    ref = np.array([calibration.REFERENCE[c] for c in CLASSES])
    typical = fit(_hold(ref, noise=0.05), CLASSES)
    assert np.abs(typical.bias).max() < 0.1  # nothing to correct
    shift = np.array([0.5, -0.4, -0.3, 0.6, -0.4])  # a resting face that reads towards fear and sad
    shifted = ref * np.exp(shift)
    cal = fit(_hold(shifted / shifted.sum(), noise=0.05), CLASSES)
    want = -calibration.STRENGTH * (shift - shift.mean())
    np.testing.assert_allclose(cal.bias, want, atol=0.1)


def test_a_hold_more_neutral_than_the_target_lowers_neutral_so_expressions_show():
    cal = fit(_hold(VERY_NEUTRAL), CLASSES)
    assert cal.bias[NEUTRAL] < 0
    subtle_sad = np.array([0.05, 0.02, 0.60, 0.30, 0.03])  # a sad face this person's way: still read neutral
    assert subtle_sad.argmax() == NEUTRAL
    assert cal.apply(subtle_sad).argmax() == CLASSES.index("sad")


def test_bias_is_clipped_and_zero_mean():
    cal = fit(_hold([0.2496, 0.2496, 0.0001, 0.2496, 0.2511], noise=0.01), CLASSES)
    b = np.asarray(cal.bias)
    assert abs(b.mean()) < 1e-6
    assert b.max() - b.min() <= 2 * calibration.MAX_BIAS + 1e-6


def test_apply_renormalises_and_is_identity_for_zero_bias():
    p = np.array([0.1, 0.2, 0.3, 0.25, 0.15])
    zero = Calibration(CLASSES, (0.0,) * 5)
    np.testing.assert_allclose(zero.apply(p), p, atol=1e-9)
    q = Calibration(CLASSES, (0.0, 0.0, math.log(4.0), 0.0, 0.0)).apply(p)
    assert q.sum() == pytest.approx(1.0)
    assert q[NEUTRAL] == pytest.approx(1.2 / 1.9)
    with pytest.raises(CalibrationError, match="5 classes"):
        zero.apply([0.5, 0.5])
    cal = Calibration(CLASSES, (0.3, -0.2, 1.0, 0.0, -1.1))
    many = _hold(SAD_LOOKING, n=7)
    np.testing.assert_allclose(cal.apply(many), [cal.apply(row) for row in many])  # N x classes at once


def test_fit_refuses_too_few_frames_and_a_model_without_neutral():
    with pytest.raises(CalibrationError, match="only 3 face frame"):
        fit(_hold(SAD_LOOKING, n=3), CLASSES)
    with pytest.raises(CalibrationError, match="only 0 face frame"):
        fit([], CLASSES)
    with pytest.raises(CalibrationError, match="no 'neutral' class"):
        fit(_hold([0.5, 0.5]), ("happy", "sad"))


def test_save_load_round_trip(tmp_path):
    cal = fit(_hold(SAD_LOOKING), CLASSES, "int8", 4.5, "2026-12-01T11:00:00Z")
    path = tmp_path / "sub" / "me.json"
    save(cal, str(path))
    back = load(str(path), CLASSES)
    assert back.bias == cal.bias and back.class_names == CLASSES
    assert (back.model_variant, back.frames, back.seconds, back.created) == ("int8", 60, 4.5, "2026-12-01T11:00:00Z")
    assert back.neutral_before == pytest.approx(cal.neutral_before, abs=1e-6)
    assert not (tmp_path / "sub" / "me.json.tmp").exists()
    assert json.loads(path.read_text())["format"] == "facecoach-calibration"


def _good(tmp_path):
    path = tmp_path / "good.json"
    save(fit(_hold(SAD_LOOKING), CLASSES), str(path))
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("format"), "not a FaceCoach calibration file"),
        (lambda d: d.update(version=7), "version 7"),
        (lambda d: d.update(class_names="fear"), "class_names must be a list"),
        (lambda d: d.update(class_names=["a", "b", "c", "d", "e"]), "include 'neutral'"),
        (lambda d: d.update(bias=[0.0, 1.0]), "bias must be a list of 5"),
        (lambda d: d.update(bias=[0.0, float("nan"), 0.0, 0.0, 0.0]), "not a finite number"),
        (lambda d: d.update(bias=[0.0, 1e9, 0.0, 0.0, 0.0]), "not a finite number"),
        (lambda d: d.update(bias=[0.0, "x", 0.0, 0.0, 0.0]), "not a finite number"),
        (lambda d: d.update(frames=-1), "frames must be"),
        (lambda d: d.update(seconds=float("inf")), "seconds must be"),
        (lambda d: d.update(model_variant=3), "must be strings"),
    ],
)
def test_bad_content_is_refused_in_one_line(tmp_path, change, message):
    d = _good(tmp_path)
    change(d)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))
    with pytest.raises(CalibrationError, match=message) as err:
        load(str(path))
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_bad_files_are_refused_in_one_line(tmp_path):
    cases = {
        "missing": (tmp_path / "nope.json", "cannot read the calibration"),
        "folder": (tmp_path, "not a regular file"),
        "not json": (tmp_path / "x.json", "not JSON"),
        "binary": (tmp_path / "b.json", "not JSON"),
        "empty": (tmp_path / "e.json", "not JSON"),
        "huge": (tmp_path / "h.json", "larger than 64 KiB"),
        "a list": (tmp_path / "l.json", "not a FaceCoach calibration file"),
    }
    cases["not json"][0].write_text("bias: [1, 2]")
    cases["binary"][0].write_bytes(b"\xff\xfe\x00garbage")
    cases["empty"][0].write_text("")
    cases["huge"][0].write_text(" " * (calibration_file.MAX_FILE_BYTES + 10))
    cases["a list"][0].write_text("[1, 2, 3]")
    for what, (path, message) in cases.items():
        with pytest.raises(CalibrationError, match=message) as err:
            load(str(path))
        assert "\n" not in str(err.value), what
    if os.path.exists("/dev/zero"):
        with pytest.raises(CalibrationError, match="not a regular file"):
            load("/dev/zero")


def test_other_class_names_are_refused(tmp_path):
    path = tmp_path / "me.json"
    save(fit(_hold(SAD_LOOKING), CLASSES), str(path))
    other = ("happy", "fear", "neutral", "sad", "surprise")
    with pytest.raises(CalibrationError, match="calibration is for classes"):
        load(str(path), other)


def test_save_into_an_unwritable_place_is_a_calibration_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CalibrationError, match="cannot write"):
        save(Calibration(CLASSES, (0.0,) * 5), str(blocker / "me.json"))


def test_check_hold_refuses_a_hold_that_is_not_a_resting_face():
    """A hold that fell on a fearful stretch once gave neutral +1.96 and silenced the coach."""
    from emotion_classifier.calibration import check_hold, fit

    names = ("fear", "happy", "neutral", "sad", "surprise")
    resting = [[0.08, 0.05, 0.66, 0.17, 0.04]] * 30
    assert check_hold(resting, fit(resting, names)) is None
    fearful = [[0.55, 0.02, 0.25, 0.15, 0.03]] * 30
    assert "reads as fear (55% of it)" in check_hold(fearful, fit(fearful, names))
    odd = [[0.35, 0.05, 0.2, 0.35, 0.05]] * 30  # no class over 40 %, but neutral would be raised by 0.93
    assert "beyond 0.8 log units" in check_hold(odd, fit(odd, names))
    confident = [[0.01, 0.01, 0.96, 0.01, 0.01]] * 30  # very neutral: neutral lowered, the others raised
    assert check_hold(confident, fit(confident, names)) is None


# ------------------------------------------------------------------ crafted files (issue 20, item 5)

HUGE = "1" + "0" * 4000  # 10**4000: a JSON integer that float() and math.isfinite() refuse with OverflowError


def _good_text(tmp_path):
    return json.dumps(_good(tmp_path), indent=1)


@pytest.mark.parametrize(
    "craft, message",
    [
        (lambda t: t.replace('"frames": 60', '"frames": ' + HUGE), "frames must be a finite number"),
        (lambda t: t.replace('"frames": 60', '"frames": 1e999'), "frames must be a finite number"),
        (lambda t: t.replace('"frames": 60', '"frames": 1e300'), "frames must be a finite number"),
        (lambda t: t.replace('"seconds": 0.0', '"seconds": -' + HUGE), "seconds must be a finite number"),
        (lambda t: t.replace('"bias": [', '"bias": [' + HUGE + ", ", 1), "bias must be a list of 5|bias 1000"),
        (lambda t: t.replace('"version": 1', '"version": ' + HUGE), "calibration version 1000"),
        (lambda t: t.replace('"neutral_before": ', '"neutral_before": ' + HUGE + ', "x": '), "neutral_before"),
        (lambda t: t.replace('"neutral_after": ', '"neutral_after": "high", "y": '), "neutral_after"),
        (lambda _: "[" * 30000 + "]" * 30000, "nested too deeply"),
        (lambda _: '{"a":' * 9000 + "1" + "}" * 9000, "nested too deeply"),
    ],
    ids=[
        "huge-frames",
        "inf-frames",
        "many-frames",
        "huge-seconds",
        "huge-bias",
        "huge-version",
        "huge-neutral",
        "text-neutral",
        "deep-list",
        "deep-object",
    ],
)
def test_a_crafted_file_is_a_calibration_error_in_one_short_line(tmp_path, craft, message):
    path = tmp_path / "crafted.json"
    path.write_text(craft(_good_text(tmp_path)))
    with pytest.raises(CalibrationError) as err:
        load(str(path))
    assert re.search(message, str(err.value)), str(err.value)
    assert "\n" not in str(err.value) and len(str(err.value)) < len(str(path)) + 200, str(err.value)


def test_whatever_a_file_holds_load_answers_a_calibration_or_a_calibration_error(tmp_path):
    """Mutated good files (numbers swapped for huge, non-finite, wrong-typed or nested values; cuts; junk)."""
    rng = np.random.RandomState(5)  # the device profile's numpy (1.19) has default_rng, but keep to the oldest API
    text = _good_text(tmp_path)
    values = [
        HUGE,
        "-" + HUGE,
        "1e999",
        "NaN",
        "-Infinity",
        '"x"',
        "[]",
        "{}",
        "null",
        "true",
        "[" * 50 + "]" * 50,
        "-0",
    ]
    numbers = [m.span() for m in re.finditer(r"-?\d+(\.\d+)?(e-?\d+)?", text)]
    path = tmp_path / "mutated.json"
    outcomes = {"loaded": 0, "refused": 0}
    for i in range(400):
        mutated = text
        for _ in range(rng.randint(1, 3)):
            start, end = numbers[rng.randint(len(numbers))]
            if len(mutated) != len(text):  # an earlier mutation moved the offsets: cut or insert instead
                at = rng.randint(len(mutated))
                mutated = mutated[:at] + values[rng.randint(len(values))] + mutated[at:]
            else:
                mutated = mutated[:start] + values[rng.randint(len(values))] + mutated[end:]
        if i % 10 == 0:
            mutated = mutated[: rng.randint(len(mutated))]
        path.write_text(mutated)
        try:
            load(str(path), CLASSES)
            outcomes["loaded"] += 1
        except CalibrationError as exc:
            assert "\n" not in str(exc), str(exc)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 300, outcomes
