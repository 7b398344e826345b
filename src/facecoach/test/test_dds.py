"""The graph's Fast DDS profile (facecoach.dds): set for the node processes unless the user chose one."""

import xml.etree.ElementTree as ET
from pathlib import Path

from facecoach.dds import PROFILE_VARIABLES, profile_environment, profile_path

NS = {"dds": "http://www.eprosima.com"}


def test_the_nodes_get_the_profile_unless_the_user_chose_one():
    assert profile_environment({}) == {"FASTDDS_DEFAULT_PROFILES_FILE": profile_path()}  # Fast DDS 3: Kilted on
    for distro in ("humble", "jazzy"):  # Fast DDS 2 reads the older name only
        assert profile_environment({"ROS_DISTRO": distro}) == {"FASTRTPS_DEFAULT_PROFILES_FILE": profile_path()}
    for name in PROFILE_VARIABLES:  # either variable is the user's choice, for both Fast DDS generations
        assert profile_environment({name: "/my/profile.xml"}) == {}


def test_the_profile_is_the_default_one_and_announces_every_quarter_second():
    root = ET.parse(str(Path(profile_path()))).getroot()
    participant = root.find("dds:profiles/dds:participant", NS)
    assert participant.get("is_default_profile") == "true"
    lease = participant.find("dds:rtps/dds:builtin/dds:discovery_config/dds:leaseAnnouncement", NS)
    assert (lease.find("dds:sec", NS).text, lease.find("dds:nanosec", NS).text) == ("0", "250000000")
