from setuptools import find_packages, setup

package_name = "alert_player"

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
    description="FaceCoach alert player node and voice recording tool.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "alert_player = alert_player.entry:main",
        ],
    },
)
