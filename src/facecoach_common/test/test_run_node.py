"""run_node: a callback still running when Ctrl-C shut the context down ends the node quietly."""

import subprocess
import sys
import textwrap

# A node whose timer does what a frame callback in flight at Ctrl-C does: the context goes (rclpy's SIGINT
# handler shuts it down), then the callback publishes.
NODE = textwrap.dedent(
    """
    import rclpy
    from rclpy.node import Node
    from std_msgs.msg import String

    from facecoach_common.ros_params import run_node


    class InFlight(Node):
        def __init__(self):
            super().__init__("in_flight")
            self.pub = self.create_publisher(String, "in_flight", 10)
            self.create_timer(0.05, self.tick)

        def tick(self):
            rclpy.shutdown()
            self.pub.publish(String(data="after the context went"))


    run_node(InFlight, "in_flight")
    print("stopped quietly")
    """
)


def test_a_publish_after_the_context_went_is_the_stop_not_a_traceback():
    done = subprocess.run([sys.executable, "-c", NODE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "stopped quietly" in done.stdout, done.stderr
