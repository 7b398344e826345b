from glob import glob

from setuptools import find_packages, setup

package_name = "emotion_classifier"

setup(
    name=package_name,
    version="0.1.0",
    # emotion_classifier (the runtime the node imports) and emotion_classifier.tooling (training, quantization,
    # evaluation, export and their commands); find_packages picks up both.
    packages=find_packages(exclude=["test", "test.*"]),
    # The weight files live in the repository's top-level models/; src/emotion_classifier/models is a symlink to
    # it, so they install into share/emotion_classifier/models, where models_dir '' points (config.py).
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        (
            "share/" + package_name + "/models",
            glob("models/*.safetensors") + glob("models/*.onnx") + glob("models/*.md"),
        ),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="FaceCoach developers",
    maintainer_email="dev@facecoach.invalid",
    description="FaceCoach emotion classifier: the node and its runtime, and the model tooling.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "emotion_classifier = emotion_classifier.entry:main",
        ],
    },
)
