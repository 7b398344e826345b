"""emotion_classifier node: Face crops in, Emotion messages out; weights and the user's calibration switchable.

``~/calibrate`` (std_srvs/Trigger) records the next ``calibrate_seconds`` of face frames (the user holds a
neutral face), fits the calibration (``calibration.fit``), writes it to ``calibration_file`` ('' = to
``calibration.DEFAULT_FILE``, which then becomes ``calibration_file``) and applies it. The service is a
coroutine in its own callback group: it awaits the end of the hold, so frames keep flowing on either executor.
"""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Optional

import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.task import Future
from std_srvs.srv import Trigger

from facecoach_common.image_conversions import ImageConversionError, image_to_numpy
from facecoach_common.qos import STREAM_QOS
from facecoach_common.ros_params import declare, on_set
from facecoach_common.settings import from_values, settings_of, values_of
from facecoach_common.stamps import stamp_seconds, stamp_to_ns
from facecoach_common.throttle import PerKindThrottle
from facecoach_msgs.msg import Emotion, Face

from . import calibration
from .calibration import Calibration, CalibrationError
from .config import ClassifierConfig, default_models_dir
from .inference import EmotionClassifier, available_variants, variant_path
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
        self._stats_lock = threading.Lock()
        self._frame_lock = threading.Lock()
        self._frames = self._errors = self._dropped = 0
        self._infer_ms_sum = 0.0
        self._last_seq_stamp = None
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
        self.create_service(Trigger, "~/calibrate", self._on_calibrate, callback_group=MutuallyExclusiveCallbackGroup())
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
        path = variant_path(self._models_dir(config), config.model_variant, config.backend)
        t0 = time.perf_counter()
        args = (path, config.device, config.flip_tta, config.backend, config.providers, config.engine_cache_dir)
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

    def _load_at_startup(self, config: ClassifierConfig) -> None:
        try:
            self._swap(self._load(config), config)
        except WeightFileError as exc:
            known = ", ".join(available_variants(self._models_dir(config), config.backend)) or "none"
            self.get_logger().error(
                f"cannot load model: {exc}. Available variants: {known}. "
                "Frames are skipped until model_variant names a loadable file."
            )
        if config.calibration_file:
            try:
                self._set_calibration(self._load_calibration(config.calibration_file, self._classifier))
            except CalibrationError as exc:  # a failure keeps what works: the uncalibrated classifier
                self._cal_problem = str(exc)
                self.get_logger().warning(f"calibration_file refused, running uncalibrated: {exc}")

    def _load_calibration(self, path: str, classifier: Optional[EmotionClassifier]) -> Calibration:
        return calibration.load(path, classifier.class_names if classifier else None)

    def _set_calibration(self, cal: Optional[Calibration]) -> None:
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
            or (config.backend == "onnxruntime" and config.num_threads != self._config.num_threads)
        ):
            try:
                self._pending = self._load(config)
            except WeightFileError as exc:
                known = ", ".join(available_variants(self._models_dir(config), config.backend)) or "none"
                raise ValueError(f"{exc} (available variants in {self._models_dir(config)}: {known})") from exc
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
            self._set_calibration(self._pending_cal)
            self._pending_cal = None
        self._config = config

    # ---------------------------------------------------------------- calibration
    async def _on_calibrate(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        """Record a neutral hold of calibrate_seconds, fit, save and apply; the reply says how it went."""
        seconds, classifier = self._config.calibrate_seconds, self._classifier
        if classifier is None:
            response.success, response.message = False, "no model loaded: nothing to calibrate"
            return response
        self.get_logger().info(f"calibrating: recording {seconds:g} s of the user's neutral face")
        hold_over: Future = Future()
        with self._frame_lock:
            self._stage.start_recording()
        timer = self.create_timer(seconds, lambda: hold_over.done() or hold_over.set_result(True))
        try:
            await hold_over  # frames are classified (and recorded) meanwhile, in their own callback group
        finally:
            timer.cancel()
            self.destroy_timer(timer)
            with self._frame_lock:
                recorded = self._stage.stop_recording()
        response.success, response.message = self._calibrate(recorded, seconds, classifier)
        if response.success:
            self.get_logger().info(f"calibration: {response.message}")
        else:
            self.get_logger().warning(f"not calibrated: {response.message}")
        return response

    def _calibrate(self, recorded: list, seconds: float, classifier: EmotionClassifier) -> tuple:
        if self._classifier is not classifier:
            return False, "the model changed during the hold; calibrate again"
        path = os.path.expanduser(self._config.calibration_file or calibration.DEFAULT_FILE)
        created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            cal = calibration.fit(recorded, classifier.class_names, classifier.variant, seconds, created)
            calibration.save(cal, path)
        except CalibrationError as exc:
            return False, str(exc)
        if path != self._config.calibration_file:  # '' before: the default file is now the parameter's value
            result = self.set_parameters([Parameter("calibration_file", value=path)])[0]
            if not result.successful:
                return False, f"saved to {path} but not applied: {result.reason}"
        else:
            self._set_calibration(cal)
        return True, f"{cal.summary()}; saved to {path}"

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
            self._count(dropped=True)
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
                self._count(error=True)
                return
            out.inference_ms = (time.perf_counter() - t0) * 1000
            out.label, out.confidence = scores.label, scores.confidence
            out.probabilities = list(scores.probabilities)
        self._pub.publish(out)
        self._count(infer_ms=out.inference_ms)

    def _count(self, infer_ms: float = 0.0, error: bool = False, dropped: bool = False) -> None:
        with self._stats_lock:
            self._frames += 1
            self._errors += error
            self._dropped += dropped
            self._infer_ms_sum += infer_ms

    def _publish_diagnostics(self) -> None:
        with self._stats_lock:
            frames, errors, dropped, ms = self._frames, self._errors, self._dropped, self._infer_ms_sum
            self._frames = self._errors = self._dropped = 0
            self._infer_ms_sum = 0.0
        period = self._config.diagnostics_period_s
        c = self._classifier
        device = c.device if c else self._config.device
        status = DiagnosticStatus(name="facecoach: emotion_classifier", hardware_id=device)
        cal = self._stage.calibration
        status.level = DiagnosticStatus.OK if c else DiagnosticStatus.ERROR
        status.message = (f"running {c.variant}" + (", calibrated" if cal else "")) if c else "no model loaded"
        if c and self._cal_problem:
            status.level = DiagnosticStatus.WARN
            status.message += f"; calibration_file refused: {self._cal_problem}"
        done = max(1, frames - errors - dropped)
        status.values = [
            KeyValue(key="variant", value=c.variant if c else ""),
            KeyValue(key="backend", value=c.backend if c else self._config.backend),
            KeyValue(key="device", value=device),
            KeyValue(key="fps", value=f"{frames / period:.1f}"),
            KeyValue(key="inference_ms_mean", value=f"{ms / done:.2f}"),
            KeyValue(key="dropped_frames", value=str(dropped + errors)),
            KeyValue(key="calibration_file", value=self._config.calibration_file),
            KeyValue(key="calibration", value=cal.summary() if cal else "off"),
            KeyValue(key="calibration_bias", value=cal.bias_text() if cal else ""),
        ]
        self._diag_pub.publish(DiagnosticArray(header=self._stamp_header(), status=[status]))

    def _stamp_header(self):
        from std_msgs.msg import Header

        return Header(stamp=self.get_clock().now().to_msg())

    def destroy_node(self) -> None:
        """Stop the loader thread with the node."""
        if hasattr(self, "_loader"):  # also called by rclpy at shutdown when __init__ failed half-way
            self._loader.shutdown(wait=False)
        super().destroy_node()
