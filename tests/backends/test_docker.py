from churn.backends.docker import FailedContainer


def test_failure_reason_prefers_the_containers_error_line():
    failed = FailedContainer("x", 2, ["reading", "ERROR PreprocessData: bad label", "Traceback?"])
    assert failed.reason() == "PreprocessData: bad label (container exit code 2)"


def test_failure_reason_falls_back_to_the_last_line():
    assert FailedContainer("x", 137, ["a", "Killed"]).reason() == "Killed (container exit code 137)"
    assert FailedContainer("x", 1, []).reason() == "no output (container exit code 1)"
