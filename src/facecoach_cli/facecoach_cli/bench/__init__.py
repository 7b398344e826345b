"""`facecoach bench`: where the time goes, per stage, in process and over DDS, on a recorded interview.

One run measures: per-stage latency (decode, detect + crop, classify per variant and backend, publish), the optimized
pipeline's and the paper's (naive) frames per second on one thread, the fast detector's recall against the
naive one, the DDS graph's real-time factor and end-to-end latency (separate processes and single-process
mode), native int8 speed-up, resident memory per process, and the time of a runtime model switch.

frames (the bag's frames, time summaries), detector (the fast boxes' recall against the naive ones),
in_process (one thread, no DDS), dds (replays through a running graph), live (the live graph on a video file),
targets (the targets and the table), command (the command itself).
"""
