from agora.errors import AgoraError, LocalError, RemoteError


def test_errors_carry_stable_codes_and_fault() -> None:
    e = RemoteError("bad frame", code="frame_oversize", penalty=100)
    assert isinstance(e, AgoraError)
    assert e.code == "frame_oversize"
    assert e.penalty == 100
    assert e.message == "bad frame"
    assert LocalError("oops").code == "local"
    assert "frame_oversize" in repr(e)
