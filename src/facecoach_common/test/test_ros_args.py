"""ros_args: the parameters files of --ros-args are read before rcl reads them; rcl's refusals on one line."""

import pytest

from facecoach_common.ros_args import (
    RosArgumentsError,
    check_params_file,
    check_ros_arguments,
    params_files,
    rcl_reason,
)

GOOD = "face_detector:\n  ros__parameters:\n    mode: fast\n    min_size_px: 40\n"


def test_params_files_are_those_inside_ros_args_sections():
    argv = ["node", "--params-file", "not-ros.yaml", "--ros-args", "-p", "a:=1", "--params-file", "one.yaml"]
    argv += ["--", "--params-file", "app.yaml", "--ros-args", "--params-file", "two.yaml", "--params-file"]
    assert params_files(argv) == ["one.yaml", "two.yaml"]


@pytest.mark.parametrize(
    "content, reason",
    [
        (GOOD.replace("fast", "[fast,"), "is not valid YAML: while parsing a flow sequence"),
        (GOOD + "\tindented: with a tab\n", "is not valid YAML"),
        (b"face_detector: \xff\xfe\n", "is not valid YAML"),
        ("- face_detector\n- ros__parameters\n", "line 1: the top level must map node names"),
        ("just a string\n", "the top level must map node names"),
        (GOOD + "---\n- second document\n", "line 6: the top level must map node names"),
    ],
    ids=["flow", "tab", "binary", "list", "scalar", "second-document"],
)
def test_a_parameters_file_rcl_cannot_parse_is_refused_in_one_line(tmp_path, content, reason):
    path = tmp_path / "params.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(RosArgumentsError, match=reason) as err:
        check_ros_arguments(["node", "--ros-args", "--params-file", str(path)])
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_files_and_folders_are_refused_and_good_files_pass(tmp_path):
    for path, reason in ((tmp_path / "missing.yaml", "No such file"), (tmp_path, "Is a directory")):
        with pytest.raises(RosArgumentsError, match=f"parameters file {path}: cannot read it .*{reason}"):
            check_params_file(str(path))
    good = tmp_path / "good.yaml"
    good.write_text(GOOD + "/**:\n  ros__parameters:\n    use_sim_time: !!bool false\n")
    check_params_file(str(good))
    (tmp_path / "empty.yaml").write_text("")  # rcl accepts an empty file
    check_params_file(str(tmp_path / "empty.yaml"))


def test_rcl_reason_is_one_line_without_c_sources():
    raw = (
        "failed to initialize rcl: Couldn't parse params file: '--params-file /tmp/p.yaml'. Error: Cannot have a "
        "value before ros__parameters at line 1, at /project/src/parse.c:800, at /project/src/rcl/arguments.c:415"
    )
    assert rcl_reason(raw) == (
        "Couldn't parse params file: '--params-file /tmp/p.yaml'. Error: Cannot have a value before "
        "ros__parameters at line 1"
    )
    assert rcl_reason("failed to initialize rcl: a\nb, at x.c:1") == "a b"
