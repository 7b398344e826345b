from facecoach_common.throttle import PerKindThrottle


def test_each_kind_of_problem_has_its_own_throttle():
    now = [0.0]
    t = PerKindThrottle(5.0, clock=lambda: now[0])
    assert t.due("encoding") and not t.due("encoding")
    assert t.due("step"), "a different problem must not be hidden by the first one's throttle"
    now[0] = 4.9
    assert not t.due("encoding") and not t.due("step")
    now[0] = 5.0
    assert t.due("encoding") and t.due("step")
