"""emotion_classifier node: Face crops in, Emotion messages out; weights and the user's calibration switchable.

The ``~/calibrate`` service is ``calibrate_service``'s, the /diagnostics status ``diagnostics``'.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import torch
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Header

from facecoach_common.image_conversions import ImageConversionError, image_to_numpy
from facecoach_common.qos import STREAM_QOS
from facecoach_common.ros_params import declare, on_set
from facecoach_common.settings import from_values, settings_of, values_of
from facecoach_common.stamps import stamp_seconds, stamp_to_ns
from facecoach_common.throttle import PerKindThrottle
from facecoach_msgs.msg import Emotion, Face

from . import calibration_file
from .calibrate_service import CalibrateService
from .calibration import Calibration, CalibrationError
from .config import ClassifierConfig, default_models_dir
from .diagnostics import FrameStats, classifier_status
from .inference import BACKENDS, EmotionClassifier, available_variants, resolve_backend, variant_path
from .preprocess import PreprocessError
from .stage import ClassifyStage
from .weights import WeightFileError

SETTINGS = settings_of(ClassifierConfig)
# Changing one of these loads the weights again (num_threads too for onnxruntime: a session's threads are fixed).
RELOAD_ON = ("model_variant", "models_dir", "backend", "device", "providers", "engine_cache_dir")


class EmotionClassifierNode(Node):
    """Classifies each Face message's crop and publishes an Emotion message for every frame."""

    def __init__(self) -> None:
        super().__init__("emotion_classifier")
        self._config = from_values(ClassifierConfig, declare(self, SETTINGS))
        self._classifier: Optional[EmotionClassifier] = None
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-loader")
        self._stats = FrameStats()
        self._frame_lock = threading.Lock()
        torch.set_num_threads(self._config.num_threads)
        self._pending: Optional[EmotionClassifier] = None
        self._throttle = PerKindThrottle(2.0)  # bad crops, per kind of problem
        self._load_ms = 0.0
        self._stage = ClassifyStage(None, self._config.smoothing_frames)
        self._pending_cal: Optional[Calibration] = None
        self._cal_problem = ""  # why calibration_file could not be used at start-up
        # The publishers before the weights: DDS matches them with their subscribers (the alert node ...) while
        # the model loads, so a restarted classifier's first answers are not lost to discovery.
        self._pub = self.create_publisher(Emotion, "emotion", STREAM_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._load_at_startup(self._config)

        frames_group = MutuallyExclusiveCallbackGroup()
        self.create_subscription(Face, "face", self._on_face, STREAM_QOS, callback_group=frames_group)
        self._calibrate_service = CalibrateService(self)
        self._diag_timer = self.create_timer(self._config.diagnostics_period_s, self._publish_diagnostics)
        self.add_on_set_parameters_callback(
            on_set(self, SETTINGS, lambda: values_of(self._config), self._validate, self._apply)
        )

    # ---------------------------------------------------------------- model loading
    def _models_dir(self, config: ClassifierConfig) -> str:
        return config.models_dir or default_models_dir()

    def _load(self, config: ClassifierConfig) -> EmotionClassifier:
        """Load the config's weights in the loader thread; the caller waits (at most 60 s) for the result.

        On the node's single-threaded executor the frames that arrive meanwhile wait in the subscription's
        queue (depth 10, ~0.3 s at 30 fps; a load takes ~0.03-0.1 s) and are classified right after the swap.
        """
        backend = resolve_backend(self._models_dir(config), config.model_variant, config.backend)
        path = variant_path(self._models_dir(config), config.model_variant, backend)
        t0 = time.perf_counter()
        args = (path, config.device, config.flip_tta, backend, config.providers, config.engine_cache_dir)
        try:
            classifier = self._loader.submit(EmotionClassifier, *args, threads=config.num_threads).result(60)
        except WeightFileError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of a load is a refusal with its reason, never a crash
            raise WeightFileError(f"{path}: cannot load ({type(exc).__name__}: {exc})") from exc
        self._load_ms = (time.perf_counter() - t0) * 1000
        return classifier

    def _swap(self, classifier: EmotionClassifier, config: ClassifierConfig) -> None:
        previous = self._classifier.variant if self._classifier else None
        with self._frame_lock:  # between two frames: a frame in progress finishes (and publishes) on the old model
            self._classifier = self._stage.classifier = classifier
        verb = "loaded" if previous is None else f"switched {previous} ->"
        self.get_logger().info(
            f"{verb} {classifier.variant} ({classifier.path}, {classifier.backend} on {classifier.device}) "
            f"in {self._load_ms:.0f} ms"
        )

    def _refusal(self, exc: WeightFileError, config: ClassifierConfig) -> str:
        """The load failure as one line that names the variants there are (once)."""
        if "available variants" in str(exc):
            return str(exc)
        d = self._models_dir(config)
        known = "; ".join(f"{b}: {', '.join(available_variants(d, b)) or 'none'}" for b in BACKENDS)
        return f"{exc} (available variants in {d}: {known})"

    def _load_at_startup(self, config: ClassifierConfig) -> None:
        """Load the weights; a failure ends the node (exit 2 from run_node): never a classifier without a model."""
        try:
            self._swap(self._load(config), config)
        except WeightFileError as exc:
            raise ValueError(f"cannot load model: {self._refusal(exc, config)}") from None
        if config.calibration_file:
            try:
                self.apply_calibration(self._load_calibration(config.calibration_file, self._classifier))
            except CalibrationError as exc:  # a failure keeps what works: the uncalibrated classifier
                self._cal_problem = str(exc)
                self.get_logger().warning(f"calibration_file refused, running uncalibrated: {exc}")

    def _load_calibration(self, path: str, classifier: Optional[EmotionClassifier]) -> Calibration:
        return calibration_file.load(path, classifier.class_names if classifier else None)

    def apply_calibration(self, cal: Optional[Calibration]) -> None:
        """Use ``cal`` from the next frame on (None: uncalibrated)."""
        with self._frame_lock:
            self._stage.calibration = cal
        self._cal_problem = ""
        if cal is not None:
            self.get_logger().info(f"calibration applied: {cal.summary()}; bias {cal.bias_text()}")

    def _validate(self, values: dict) -> ClassifierConfig:
        """Build the new config; when it names other weights, load them now (a failure refuses the change)."""
        config = from_values(ClassifierConfig, values)
        self._pending = None
        if (
            self._classifier is None
            or any(getattr(config, k) != getattr(self._config, k) for k in RELOAD_ON)
            or (self._classifier.backend == "onnxruntime" and config.num_threads != self._config.num_threads)
        ):
            try:
                self._pending = self._load(config)
            except WeightFileError as exc:
                raise ValueError(self._refusal(exc, config)) from exc
        self._pending_cal = None
        changed = config.calibration_file != self._config.calibration_file
        current = self._stage.calibration
        if config.calibration_file and (changed or self._cal_problem):
            try:
                self._pending_cal = self._load_calibration(config.calibration_file, self._pending or self._classifier)
            except CalibrationError as exc:
                if changed or not self._cal_problem:
                    raise ValueError(f"calibration_file: {exc}") from exc
                # else: still the file refused at start-up; it stays off and other changes go through
        elif config.calibration_file and self._pending is not None and current is not None:
            try:  # other weights: the calibration in use must fit their classes
                current.check_classes(self._pending.class_names)
            except CalibrationError as exc:
                raise ValueError(f"calibration_file: {exc}") from exc
        return config

    def _apply(self, config: ClassifierConfig, changed: dict) -> None:
        if self._pending is not None:
            self._swap(self._pending, config)
            self._pending = None
        if self._classifier is not None and self._classifier.flip_tta != config.flip_tta:
            with self._frame_lock:
                self._classifier.flip_tta = config.flip_tta
        if config.num_threads != self._config.num_threads:
            torch.set_num_threads(config.num_threads)
        if config.diagnostics_period_s != self._config.diagnostics_period_s:
            self._diag_timer.cancel()
            self._diag_timer = self.create_timer(config.diagnostics_period_s, self._publish_diagnostics)
        if config.smoothing_frames != self._config.smoothing_frames:
            with self._frame_lock:
                self._stage.set_smoothing(config.smoothing_frames)
        if self._pending_cal is not None or not config.calibration_file:
            if self._stage.calibration is not None and not config.calibration_file:
                self.get_logger().info("calibration off (calibration_file '')")
            self.apply_calibration(self._pending_cal)
            self._pending_cal = None
        self._config = config

    # ---------------------------------------------------------------- what ~/calibrate uses
    @property
    def config(self) -> ClassifierConfig:
        """The configuration in use (the parameters' values)."""
        return self._config

    @property
    def classifier(self) -> Optional[EmotionClassifier]:
        """The classifier in use (None until a model loaded)."""
        return self._classifier

    def start_recording(self) -> None:
        """Record the probabilities of the next face frames (between two frames)."""
        with self._frame_lock:
            self._stage.start_recording()

    def stop_recording(self) -> list:
        """Stop recording; what was recorded."""
        with self._frame_lock:
            return self._stage.stop_recording()

    # ---------------------------------------------------------------- frames
    def _on_face(self, face: Face) -> None:
        with self._frame_lock:
            self._classify(face)

    def _classify(self, face: Face) -> None:
        classifier = self._classifier
        out = Emotion(header=face.header, has_face=face.has_face, roi=face.roi)
        if classifier is None:  # still one Emotion per frame: unlabelled, the alert node reports it
            self.get_logger().warning("no model loaded; frames go out unlabelled", throttle_duration_sec=5.0)
            self._pub.publish(out)
            self._stats.count(dropped=True)
            return
        out.model_variant = classifier.variant
        out.class_names = list(classifier.class_names)
        if not face.has_face:
            self._stage.no_face()
        else:
            t0 = time.perf_counter()
            r = face.roi
            box = (r.x_offset, r.y_offset, r.width, r.height)
            stamp_s = stamp_seconds(stamp_to_ns(face.header.stamp))
            try:
                scores = self._stage.classify(image_to_numpy(face.crop), stamp_s, box)
            except (ImageConversionError, PreprocessError) as exc:
                # Still one Emotion per frame: without a label the alert node answers it as malformed.
                if self._throttle.due(getattr(exc, "reason", "preprocess")):
                    self.get_logger().warning(f"bad face crop, no label: {exc}")
                self._pub.publish(out)
                self._stats.count(error=True)
                return
            out.inference_ms = (time.perf_counter() - t0) * 1000
            out.label, out.confidence = scores.label, scores.confidence
            out.probabilities = list(scores.probabilities)
        self._pub.publish(out)
        self._stats.count(infer_ms=out.inference_ms)

    def _publish_diagnostics(self) -> None:
        status = classifier_status(
            self._stats.take(),
            self._config.diagnostics_period_s,
            self._classifier,
            self._config,
            self._stage.calibration,
            self._cal_problem,
        )
        self._diag_pub.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()), status=[status]))

    def destroy_node(self) -> None:
        """Stop the loader thread with the node."""
        if hasattr(self, "_loader"):  # also called by rclpy at shutdown when __init__ failed half-way
            self._loader.shutdown(wait=False)
        if hasattr(self, "_calibrate_service"):
            self._calibrate_service.close()
        super().destroy_node()
