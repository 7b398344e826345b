import numpy as np
import pytest

from emotion_classifier.smoothing import ProbabilitySmoother

BOX = (100, 100, 80, 80)
SAD, HAPPY = [0.1, 0.1, 0.1, 0.6, 0.1], [0.1, 0.6, 0.1, 0.1, 0.1]


def test_off_is_the_frames_own_probabilities():
    s = ProbabilitySmoother(1)
    np.testing.assert_allclose(s.update(0.0, BOX, SAD), SAD)
    np.testing.assert_allclose(s.update(0.033, BOX, HAPPY), HAPPY)


def test_a_one_frame_blip_does_not_flip_the_label():
    s = ProbabilitySmoother(5)
    labels = [int(np.argmax(s.update(i / 30, BOX, HAPPY if i == 6 else SAD))) for i in range(12)]
    assert labels == [3] * 12


@pytest.mark.parametrize(
    "second",
    [
        (0.033, (400, 100, 80, 80)),  # another face
        (0.9, BOX),  # a gap in the stamps
        (-1.0, BOX),  # the stamps went back
    ],
)
def test_the_window_restarts_for_another_face_or_moment(second):
    s = ProbabilitySmoother(5)
    for i in range(4):
        s.update(i / 30, BOX, SAD)
    t, box = second
    np.testing.assert_allclose(s.update(0.1 + t, box, HAPPY), HAPPY)


def test_no_face_restarts_the_window():
    s = ProbabilitySmoother(5)
    s.update(0.0, BOX, SAD)
    s.no_face()
    np.testing.assert_allclose(s.update(0.033, BOX, HAPPY), HAPPY)
    with pytest.raises(ValueError):
        ProbabilitySmoother(0)


def test_smoothing_steadies_the_labels_of_perturbed_clips_without_costing_accuracy():
    """The measurement behind the README's numbers, on generated faces: a tiny real classifier, real clips."""
    from emotion_classifier.tooling.data import FaceSet
    from emotion_classifier.tooling.smoothing_eval import smoothing_effect

    class Uncertain:
        """Class 3 a little ahead of class 1 plus the frame's own noise: single frames flicker between the two."""

        def predict_batch(self, frames):
            out = []
            for f in frames:
                wobble = (float(f.mean()) % 7) / 7 - 0.5  # differs from frame to frame with the perturbation
                out.append([0.05, 0.4 - 0.15 * wobble, 0.05, 0.45 + 0.15 * wobble, 0.05])
            return np.array(out)

    rng = np.random.default_rng(0)
    faces = FaceSet(rng.integers(60, 200, (20, 48, 48), dtype=np.uint8), np.full(20, 3), "generated", "", 20)
    off, on = smoothing_effect(Uncertain(), faces, [1, 9], clips=20, clip_frames=30)
    assert off["flips_per_minute"] > 2 * on["flips_per_minute"]
    assert on["accuracy"] >= off["accuracy"]
