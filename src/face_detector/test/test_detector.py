"""detector: geometry, search planning, the fast-mode state machine (with a fake detector), crops, cascades."""

import cv2
import numpy as np
import pytest

from face_detector.detector import (
    CHECK_FACE_PX,
    MODES,
    TRACK_FACE_PX,
    TRACK_SIZE_RATIO,
    DetectorConfig,
    DetectorError,
    FaceBox,
    FaceDetector,
    SearchPlan,
    crop_face,
    full_plan,
    largest,
    load_cascade,
    roi_plan,
)


def blob_detect(gray, scale_factor, min_neighbors, min_size, max_size):
    """Fake RawDetect: every bright blob is a 'face' (so the geometry of every search is checked exactly)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats((gray > 128).astype(np.uint8))
    out = []
    for x, y, w, h, _ in stats[1:n]:
        if w >= min_size and (not max_size or w <= max_size):
            out.append((int(x), int(y), int(w), int(h)))
    return out


def frame_with(*boxes, size=(480, 640)):
    f = np.zeros(size + (3,), np.uint8)
    for b in boxes:
        f[b.y : b.y + b.h, b.x : b.x + b.w] = 255
    return f


def test_facebox_geometry():
    a = FaceBox(10, 10, 20, 20)
    assert a.area == 400
    assert a.iou(a) == 1.0
    assert a.iou(FaceBox(100, 100, 5, 5)) == 0.0
    assert a.iou(FaceBox(20, 10, 20, 20)) == pytest.approx(200 / 600)
    assert a.expanded(0.5) == FaceBox(0, 0, 40, 40)
    assert FaceBox(-5, -5, 20, 20).clipped(10, 8) == FaceBox(0, 0, 10, 8)
    assert FaceBox(50, 50, 5, 5).clipped(10, 10) is None


def test_largest():
    assert largest([]) is None
    boxes = [FaceBox(0, 0, 10, 10), FaceBox(5, 5, 30, 30), FaceBox(1, 1, 30, 30)]
    assert largest(boxes) == FaceBox(5, 5, 30, 30)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "turbo"},
        {"scale_factor": 1.0},
        {"min_neighbors": -1},
        {"min_size_px": 0},
        {"min_size_px": 50, "max_size_px": 40},
        {"downscale_width": 10},
        {"roi_margin": -0.1},
        {"full_every_n": 0},
        {"crop_size": 4},
        {"crop_margin": -1.0},
    ],
)
def test_config_rejects(kwargs):
    with pytest.raises(ValueError):
        DetectorConfig(**kwargs)


def test_full_plan_scales_sizes():
    naive = full_plan(640, 480, DetectorConfig(mode="naive", min_size_px=30, max_size_px=300))
    assert (naive.scale, naive.min_size, naive.max_size, naive.full) == (1.0, 30, 300, True)
    fast = full_plan(640, 480, DetectorConfig(mode="fast", downscale_width=320, min_size_px=30, max_size_px=300))
    assert (fast.scale, fast.min_size, fast.max_size) == (0.5, 15, 150)
    assert full_plan(200, 100, DetectorConfig(downscale_width=320)).scale == 1.0  # never upscale


def test_plan_maps_back_to_frame_pixels():
    plan = SearchPlan(FaceBox(100, 50, 400, 400), 0.25, 10, 0, False)
    assert plan.to_frame((10, 20, 16, 16)) == FaceBox(140, 130, 64, 64)


def test_roi_plan_region_scale_and_size_range():
    last = FaceBox(200, 100, 200, 200)
    plan = roi_plan(last, 640, 480, DetectorConfig(roi_margin=0.5, min_size_px=30))
    assert plan.region == FaceBox(100, 0, 400, 400)  # grown by 100 px per side, clipped at the top
    assert plan.scale == pytest.approx(TRACK_FACE_PX / 200)
    assert plan.min_size < TRACK_FACE_PX < plan.max_size
    assert roi_plan(FaceBox(700, 500, 20, 20), 640, 480, DetectorConfig()) is None


def test_naive_searches_the_full_frame_every_frame():
    face = FaceBox(300, 200, 120, 120)
    det = FaceDetector(DetectorConfig(mode="naive"), blob_detect)
    for _ in range(3):
        assert det.detect(frame_with(face)) == face
        assert [(p.full, p.scale) for p in det.searches] == [(True, 1.0)]


def test_fast_tracks_with_periodic_full_search():
    face = FaceBox(300, 200, 120, 120)
    det = FaceDetector(DetectorConfig(mode="fast", full_every_n=4, downscale_width=320), blob_detect)
    kinds = []
    for _ in range(9):
        box = det.detect(frame_with(face))
        assert box is not None and box.iou(face) > 0.9
        kinds.append("full" if det.searches[0].full else "roi")
        assert len(det.searches) == 1
    assert kinds == ["full", "roi", "roi", "roi", "full", "roi", "roi", "roi", "full"]
    # The periodic check looks only for faces that could be picked over the tracked one: at least its width /
    # TRACK_SIZE_RATIO, on a copy scaled as far as its region is (the first full search: 0.5, any size).
    check = det.searches[0]
    assert check.scale == pytest.approx(CHECK_FACE_PX / 120) and check.scale < 0.5
    assert check.min_size == round(120 / TRACK_SIZE_RATIO * check.scale)


def test_fast_lost_face_falls_back_to_full_search_in_the_same_frame():
    face = FaceBox(300, 200, 120, 120)
    det = FaceDetector(DetectorConfig(mode="fast", full_every_n=100), blob_detect)
    det.detect(frame_with(face))
    det.detect(frame_with(face))
    assert not det.searches[0].full
    jumped = FaceBox(20, 20, 100, 100)  # far outside the search region
    box = det.detect(frame_with(jumped))
    assert [p.full for p in det.searches] == [False, True]
    assert box.iou(jumped) > 0.9
    assert det.detect(frame_with()) is None  # gone: region, full frame, then region at full resolution
    assert [(p.full, p.scale) for p in det.searches] == [
        (False, pytest.approx(TRACK_FACE_PX / 100)),
        (True, 0.5),
        (False, 1.0),
    ]
    det.detect(frame_with())
    assert [p.full for p in det.searches] == [True]  # nothing tracked: full only


def test_fast_periodic_full_miss_retries_the_region():
    face = FaceBox(300, 200, 120, 120)
    calls = []

    def only_full_res(gray, *args):
        calls.append(gray.shape)
        # Pretend the downscaled full frame is too coarse: nothing found in images wider than 200 px (the
        # periodic check's copy is 256 px wide, the region's 154 px).
        return [] if gray.shape[1] > 200 else blob_detect(gray, *args)

    det = FaceDetector(DetectorConfig(mode="fast", full_every_n=2, downscale_width=320), only_full_res)
    assert det.detect(frame_with(face)) is None  # first frame: full (miss), nothing to track
    det.tracker.update(face, True)  # as if found once, one frame ago
    det.tracker.since_full = 1
    assert det.detect(frame_with(face)).iou(face) > 0.9
    assert [p.full for p in det.searches] == [True, False]


def test_fast_largest_face_and_min_max_size():
    small, big = FaceBox(20, 20, 60, 60), FaceBox(300, 200, 160, 160)
    det = FaceDetector(DetectorConfig(mode="fast"), blob_detect)
    assert det.detect(frame_with(small, big)).iou(big) > 0.9
    capped = FaceDetector(DetectorConfig(mode="fast", max_size_px=100), blob_detect)
    assert capped.detect(frame_with(small, big)).iou(small) > 0.9
    floor = FaceDetector(DetectorConfig(mode="naive", min_size_px=100), blob_detect)
    assert floor.detect(frame_with(small)) is None


def test_frame_size_change_resets_tracking():
    det = FaceDetector(DetectorConfig(mode="fast"), blob_detect)
    det.detect(frame_with(FaceBox(300, 200, 120, 120)))
    det.detect(frame_with(FaceBox(100, 100, 80, 80), size=(240, 320)))
    assert [p.full for p in det.searches] == [True]


def test_crop_is_from_the_full_resolution_frame():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[100:300, 200:400] = (10, 20, 30)
    crop = crop_face(frame, FaceBox(200, 100, 200, 200), 48)
    assert crop.shape == (48, 48, 3) and crop.dtype == np.uint8
    assert (crop == (10, 20, 30)).all()
    with_margin = crop_face(frame, FaceBox(200, 100, 200, 200), 48, margin=0.5)
    assert (with_margin[24, 24] == (10, 20, 30)).all() and (with_margin[0, 0] == 0).all()


def test_crop_clips_to_the_frame_and_handles_gray():
    frame = np.full((100, 100), 7, np.uint8)
    crop = crop_face(frame, FaceBox(80, 80, 50, 50), 48, margin=0.2)
    assert crop.shape == (48, 48, 3) and (crop == 7).all()
    with pytest.raises(ValueError):
        crop_face(frame, FaceBox(200, 200, 10, 10))


def test_cascade_errors(tmp_path):
    with pytest.raises(DetectorError, match="not found"):
        load_cascade(str(tmp_path / "missing.xml"))
    bad = tmp_path / "bad.xml"
    bad.write_text("<opencv_storage><nonsense/></opencv_storage>")
    with pytest.raises(DetectorError, match="not a valid"):
        load_cascade(str(bad))
    with pytest.raises(DetectorError):
        FaceDetector(DetectorConfig(cascade_path=str(tmp_path / "missing.xml")))
    assert not load_cascade("").empty()


def test_default_detector_runs_on_an_empty_frame():
    for mode in ("naive", "fast"):
        assert FaceDetector(DetectorConfig(mode=mode)).detect(np.zeros((240, 320, 3), np.uint8)) is None


def sample_frames(stride=1):
    """Real faces: the frames of the bundled sample interview (FER2013 test faces in a 640x480 scene)."""
    pytest.importorskip("rosbags", reason="reading the sample bag needs the rosbags package (the dev venv has it)")
    from rosbags.highlevel import AnyReader

    from facecoach_common.paths import resource

    try:
        bag = resource("facecoach_cli", "sample", "interview")
    except LookupError as exc:
        pytest.skip(f"the bundled sample is not installed: {exc}")
    frames = []
    with AnyReader([bag]) as reader:
        for i, (conn, _t, raw) in enumerate(reader.messages()):
            if i % stride == 0:
                msg = reader.deserialize(raw, conn.msgtype)
                frames.append(cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR))
    return frames


def test_fast_finds_the_faces_naive_finds():
    frames = sample_frames(stride=9)
    naive = FaceDetector(DetectorConfig(mode="naive"))
    fast = FaceDetector(DetectorConfig(mode="fast"))
    pairs = [(naive.detect(f), fast.detect(f)) for f in frames]
    found = [(a, b) for a, b in pairs if a is not None]
    assert len(found) >= 0.7 * len(frames)  # the sample has faces in 22 of its 27 s
    same = sum(1 for a, b in found if b is not None and a.iou(b) >= 0.5)
    assert same / len(found) >= 0.98


def test_with_two_real_faces_in_view_fast_mode_keeps_following_the_same_person():
    """A second, larger face (someone behind, a face on a screen) must not steal the coach's attention."""
    frames = sample_frames(stride=30)[:4]  # the first seconds: one neutral face
    naive = FaceDetector(DetectorConfig(mode="naive"))
    first = naive.detect(frames[0])
    assert first is not None
    face = frames[0][first.y : first.y + first.h, first.x : first.x + first.w]
    other = cv2.resize(face, (int(first.w * 1.4), int(first.h * 1.4)))
    x0 = 640 - other.shape[1] - 5 if first.x < 320 else 5  # the other side of the frame
    second = FaceBox(x0, 20, other.shape[1], other.shape[0])

    def two_faces(frame):
        out = frame.copy()
        out[second.y : second.y + second.h, second.x : second.x + second.w] = other
        return out

    fast = FaceDetector(DetectorConfig(mode="fast", full_every_n=2))  # a full search every other frame
    assert fast.detect(frames[0]).iou(first) > 0.5  # the candidate, alone
    both = [two_faces(f) for f in frames[1:]] * 3
    assert naive.detect(both[0]).iou(second) > 0.5  # the paper's way jumps to the larger face
    boxes = [fast.detect(f) for f in both]
    assert all(b is not None and b.iou(first) > 0.5 for b in boxes), "fast mode switched to the other face"
    alone = np.ascontiguousarray(both[0])
    alone[first.y : first.y + first.h, first.x : first.x + first.w] = cv2.GaussianBlur(face, (0, 0), 25)
    taken = [fast.detect(alone) for _ in range(3)]
    assert taken[-1] is not None and taken[-1].iou(second) > 0.5, "the tracked face left: take the one in view"


@pytest.mark.parametrize("mode", MODES)
def test_detect_returns_the_box_clipped_to_the_frame_and_crop_uses_the_config(mode):
    def past_the_edge(gray, *_):
        h, w = gray.shape[:2]
        return [(w - 10, h - 10, 30, 30)]  # a search's box reaching past the image, as rounding can make it

    det = FaceDetector(DetectorConfig(mode=mode, crop_size=32), past_the_edge)
    frame = np.zeros((240, 320, 3), np.uint8)
    box = det.detect(frame)
    assert box is not None and box.x + box.w <= 320 and box.y + box.h <= 240
    assert det.crop(frame, box).shape == (32, 32, 3)
