from setuptools import find_packages, setup

package_name = "facecoach_bag"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="FaceCoach developers",
    maintainer_email="dev@facecoach.invalid",
    description="FaceCoach bags: rosbag2 writer, reader and salvage, replay, the player node and the recorder.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "facecoach_player = facecoach_bag.entry:player",
            "session_recorder = facecoach_bag.entry:session_recorder",
        ],
    },
)
