from glob import glob

from setuptools import find_packages, setup

package_name = "facecoach"

# launch/ and config/ live at the repository's top level (the product card's layout); src/facecoach/{launch,config}
# are symlinks to them, so they install into share/facecoach.
setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml") + glob("config/*.xml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="FaceCoach developers",
    maintainer_email="dev@facecoach.invalid",
    description="FaceCoach bring-up: the graph description, launch files, single-process mode.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "facecoach_single_process = facecoach.entry:single_process",
        ]
    },
)
