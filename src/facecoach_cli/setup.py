from glob import glob

from setuptools import find_packages, setup

package_name = "facecoach_cli"

# The bundled sample interview lives at the repository's top level (sample/); src/facecoach_cli/sample is a
# symlink to it, so it installs into share/facecoach_cli (what `facecoach demo` and the bench replay).
setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/sample", glob("sample/*.json")),
        ("share/" + package_name + "/sample/interview", glob("sample/interview/*")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="FaceCoach developers",
    maintainer_email="dev@facecoach.invalid",
    description="The facecoach command: demo, run, replay, record, eval-bag, report, bench, model tooling.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "facecoach = facecoach_cli.cli:main",
        ]
    },
)
