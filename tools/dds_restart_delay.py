"""How long a restarted subscriber waits for data from a publisher that kept running, after kill -9 or a clean exit.

What the supervisor's restart of a node meets (test/test_supervisor.py): this process publishes camera-sized
CompressedImage messages at 30 Hz with the graph's IMAGE_QOS; a subscriber process starts, reports when it
saw the publisher in the graph and when its first message came, and then either dies by SIGKILL or exits
cleanly; the next one starts at once, as the supervisor restarts a dead node.

After a SIGKILL the next subscriber reuses the dead one's participant ports. Fast DDS's shared-memory transport
(which rmw_fastrtps always adds with ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) finds the dead port a "zombie" and
re-creates it, while this process goes on writing into the old one until its port watchdog (period 1 s, health
check timeout 1 s) drops it: data, not discovery, is late. A clean exit releases the port and shows no wait.

    source env.sh && python tools/dds_restart_delay.py --runs 10
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time


def subscriber(linger_s: float, kill: bool) -> None:
    """One subscriber: print 'seen <s> first <s>' (from its node's creation), then die or exit cleanly."""
    import rclpy
    from sensor_msgs.msg import CompressedImage

    from facecoach_common.qos import IMAGE_QOS

    rclpy.init()
    node = rclpy.create_node("restart_delay_sub")
    t0 = time.monotonic()
    got = []
    node.create_subscription(CompressedImage, "/restart_delay/image", lambda m: got.append(time.monotonic()), IMAGE_QOS)
    seen = None
    while not got and time.monotonic() - t0 < 30.0:
        rclpy.spin_once(node, timeout_sec=0.01)
        if seen is None and node.count_publishers("/restart_delay/image"):
            seen = time.monotonic()
    first = got[0] - t0 if got else float("nan")
    print(f"seen {(seen or float('nan')) - t0:.2f} first {first:.2f}", flush=True)
    time.sleep(linger_s)
    if kill:
        os.kill(os.getpid(), 9)
    node.destroy_node()
    rclpy.shutdown()


def measure(runs: int, kill: bool) -> list:
    """First-message delays (s) of ``runs`` subscribers started one after another."""
    delays = []
    for i in range(runs):
        cmd = [sys.executable, __file__, "--subscriber", "--linger-s", "0.5"] + (["--kill"] if kill else [])
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip().splitlines()
        line = out[-1] if out else "no output"
        print(f"  {'kill -9' if kill else 'clean exit'} run {i + 1}: {line}", flush=True)
        if line.startswith("seen"):
            delays.append(float(line.split()[-1]))
    return delays


def main() -> int:
    """Measure both modes (clean exit, then kill -9) and print the delays; or run one subscriber."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10, help="subscribers per mode")
    p.add_argument("--subscriber", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--kill", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--linger-s", type=float, default=0.5, help=argparse.SUPPRESS)
    args = p.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if args.subscriber:
        subscriber(args.linger_s, args.kill)
        return 0

    import rclpy
    from sensor_msgs.msg import CompressedImage

    from facecoach_common.qos import IMAGE_QOS

    rclpy.init()
    node = rclpy.create_node("restart_delay_pub")
    pub = node.create_publisher(CompressedImage, "/restart_delay/image", IMAGE_QOS)
    msg = CompressedImage(format="jpeg", data=bytes(30000))
    stop = threading.Event()

    def publish() -> None:
        while not stop.is_set():
            pub.publish(msg)
            stop.wait(1 / 30)

    threading.Thread(target=publish, daemon=True).start()
    try:
        results = {mode: measure(args.runs, mode == "kill -9") for mode in ("clean exit", "kill -9")}
    finally:
        stop.set()
        node.destroy_node()
        rclpy.shutdown()
    print("first message after the subscriber's node was created (the first run of each mode follows no restart):")
    for mode, delays in results.items():
        after = delays[1:]  # runs that follow a predecessor's exit or death
        if after:
            print(
                f"  after a {mode}: median {statistics.median(after):.2f} s, "
                f"min {min(after):.2f} s, max {max(after):.2f} s ({len(after)} runs)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
