"""The emotion stream watch: gone once per outage, back when messages arrive, patient with slow streams."""

from alert_player.watchdog import GONE_AFTER_S, StreamWatch


def test_nothing_is_gone_before_the_first_message():
    watch = StreamWatch()
    assert not watch.check(100.0)


def test_a_stream_that_stops_is_gone_once_then_back():
    watch = StreamWatch()
    for i in range(30):
        assert watch.arrived(i / 30) is None
    last = 29 / 30
    assert not watch.check(last + GONE_AFTER_S)  # exactly the timeout: not yet
    assert watch.check(last + GONE_AFTER_S + 0.05)
    assert not watch.check(last + 5.0), "said once per outage"
    assert watch.arrived(last + 6.0) == 6.0
    assert not watch.check(last + 6.5)
    assert watch.check(last + 7.1), "a second outage is said again"


def test_a_slow_stream_gets_a_longer_timeout():
    watch = StreamWatch()
    for i in range(20):
        watch.arrived(float(i))  # 1 fps
    assert watch.timeout_s() == 4.0
    assert not watch.check(19.0 + 2.0)
    assert watch.check(19.0 + 4.1)


def test_the_outage_does_not_count_as_a_gap():
    watch = StreamWatch()
    for i in range(30):
        watch.arrived(i / 30)
    assert watch.check(3.0)
    watch.arrived(60.0)  # back after a long outage: the typical gap is still a frame's
    assert watch.timeout_s() == GONE_AFTER_S


def test_an_end_notice_counts_only_for_the_stream_it_came_in():
    watch = StreamWatch()
    watch.ended(0.0)  # a latched notice from an earlier replay, received at start-up
    for i in range(10):
        watch.arrived(1.0 + i / 30)
    assert not watch.stream_ended()
    watch.ended(1.4)
    assert watch.check(3.0) and watch.stream_ended()
    watch.arrived(5.0)  # a new stream: the old notice no longer speaks for it
    assert not watch.stream_ended()
