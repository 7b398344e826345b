"""rosbag2 bags every ROS 2 distribution plays: writer, reader, salvage, replay, the player node and the recorder.

By job: ``schema`` (storages, metadata version, QoS, types), ``errors``, ``storage`` and ``writer`` (writing),
``reader`` and ``salvage`` (reading, also what a killed writer left), ``replay`` (a bag over DDS),
``player`` (the facecoach_player node of replay.launch.py) and ``recorder`` (topics into a bag).
Runtime code: Python 3.6 syntax and standard library; rosbags is imported only where a bag is read or written.
"""
