"""The classifier node's ``~/calibrate`` service (std_srvs/Trigger): fit the classifier to the user's neutral face.

It records the next ``calibrate_seconds`` of face frames (the user holds a neutral face), fits the calibration
(``calibration.fit``), refuses a hold that does not look like a resting face (``calibration.check_hold``,
unless ``calibrate_check`` is false), writes it to ``calibration_file`` ('' = to ``calibration_file.default_file()``,
which then becomes ``calibration_file``) and applies it. The service is a coroutine in its own callback group: it awaits
the end of the hold, so frames keep flowing on either executor.
"""

import os
import threading
from datetime import datetime, timezone
from typing import Tuple

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.parameter import Parameter
from rclpy.task import Future
from std_srvs.srv import Trigger

from . import calibration, calibration_file
from .calibration import CalibrationError


class CalibrateService:
    """The ``~/calibrate`` service of an EmotionClassifierNode.

    It uses the node's ``config``, ``classifier``, ``start_recording``, ``stop_recording`` and ``apply_calibration``.
    """

    def __init__(self, node) -> None:
        self._node = node
        # The hold's timer belongs to the coroutine until close(): then to the node's destruction. On the
        # multi-threaded executor the coroutine's end (or its close when the executor drops it) runs beside
        # destroy_node, and a timer destroyed under it raised "cannot use Destroyable" from its task.
        self._lock = threading.Lock()
        self._closed = False
        group = MutuallyExclusiveCallbackGroup()
        node.create_service(Trigger, "~/calibrate", self._on_calibrate, callback_group=group)

    def close(self) -> None:
        """The node is being destroyed: a hold in progress leaves its timer to that (call before destroy_node)."""
        with self._lock:
            self._closed = True

    def _end_hold(self, timer) -> None:
        with self._lock:
            if not self._closed:
                self._node.destroy_timer(timer)  # cancels it too

    async def _on_calibrate(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        """Record a neutral hold of calibrate_seconds, fit, save and apply; the reply says how it went."""
        node, log = self._node, self._node.get_logger()
        seconds, classifier = node.config.calibrate_seconds, node.classifier
        if classifier is None:
            response.success, response.message = False, "no model loaded: nothing to calibrate"
            return response
        log.info(f"calibrating: recording {seconds:g} s of the user's neutral face")
        hold_over: Future = Future()
        node.start_recording()
        with self._lock:
            if self._closed:
                response.success, response.message = False, "the node is shutting down"
                return response
            timer = node.create_timer(seconds, lambda: hold_over.done() or hold_over.set_result(True))
        try:
            await hold_over  # frames are classified (and recorded) meanwhile, in their own callback group
        finally:
            self._end_hold(timer)
            recorded = node.stop_recording()
        if self._closed:
            response.success, response.message = False, "the node is shutting down; nothing calibrated"
            return response
        response.success, response.message = self._calibrate(recorded, seconds, classifier)
        if response.success:
            log.info(f"calibration: {response.message}")
        else:
            log.warning(f"not calibrated: {response.message}")
        return response

    def _calibrate(self, recorded: list, seconds: float, classifier) -> Tuple[bool, str]:
        node = self._node
        if node.classifier is not classifier:
            return False, "the model changed during the hold; calibrate again"
        configured = node.config.calibration_file
        path = os.path.expanduser(configured or calibration_file.default_file())
        created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            cal = calibration.fit(recorded, classifier.class_names, classifier.variant, seconds, created)
            problem = calibration.check_hold(recorded, cal) if node.config.calibrate_check else None
            if problem:
                return False, (
                    f"{problem}; nothing saved, the previous calibration stays. Hold a relaxed, neutral face "
                    "and calibrate again (or force it: facecoach calibrate --force)"
                )
            calibration_file.save(cal, path)
        except CalibrationError as exc:
            return False, str(exc)
        if path != configured:  # '' before: the default file is now the parameter's value
            result = node.set_parameters([Parameter("calibration_file", value=path)])[0]
            if not result.successful:
                return False, f"saved to {path} but not applied: {result.reason}"
        else:
            node.apply_calibration(cal)
        return True, f"{cal.summary()}; saved to {path}"
