import json
import random
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.errors import LocalError, RemoteError
from agora.peer_net.addr import host_of, is_loopback, normalize_addr, parse_addr
from agora.peer_net.addrbook import AddrBook, BookLimits, Source
from agora.peer_net.pex import (
    MAX_PEX,
    decode_pex_request,
    decode_pex_response,
    encode_pex_response,
)

T0 = 1_700_000_000.0
PEER = b"\x09" * 32


def test_parse_addr_accepts_ipv4_ipv6_and_names() -> None:
    assert parse_addr("127.0.0.1:26656") == ("127.0.0.1", 26656)
    assert parse_addr("[::1]:1") == ("::1", 1)
    assert parse_addr("[2001:DB8:0::1]:80") == ("2001:db8::1", 80)
    assert parse_addr("Node-1.Example.org:65535") == ("node-1.example.org", 65535)
    assert normalize_addr("[2001:db8::1]:80") == "[2001:db8::1]:80"
    assert host_of("[2001:db8::1]:80") == "2001:db8::1"
    assert host_of("192.0.2.3:4") == "192.0.2.3"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1.2.3.4",
        "1.2.3.4:0",
        "1.2.3.4:65536",
        "1.2.3.4:-1",
        "1.2.3.4:80\n",
        "::1:80",
        "[::1:80",
        "[1.2.3.4]:80",
        "0.0.0.0:80",
        "[::]:80",
        "224.0.0.1:80",
        "1.2.3:80",
        "-bad-.com:80",
        "a b:80",
        "é.com:80",
        "x" * 300 + ":80",
        ":80",
        5,
        None,
        ["1.2.3.4:80"],
    ],
)
def test_parse_addr_refuses_malformed(text: object) -> None:
    with pytest.raises(RemoteError) as e:
        parse_addr(text)
    assert e.value.code == "bad_address"


def test_loopback_rule() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.9.9.9") and is_loopback("::1")
    assert is_loopback("::ffff:127.0.0.1") and is_loopback("localhost")
    assert not is_loopback("192.0.2.1") and not is_loopback("example.org")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
def test_parse_addr_never_crashes_and_roundtrips(text: str) -> None:
    try:
        host, port = parse_addr(text)
    except RemoteError as e:
        assert e.code == "bad_address"
        return
    assert 0 < port <= 65535
    assert parse_addr(normalize_addr(text)) == (host, port)


@settings(max_examples=200, deadline=None)
@given(st.ip_addresses(), st.integers(1, 65535))
def test_every_ip_address_parses(ip: object, port: int) -> None:
    text = f"[{ip}]:{port}" if ":" in str(ip) else f"{ip}:{port}"
    try:
        assert parse_addr(text)[1] == port
    except RemoteError:
        assert str(ip) in ("0.0.0.0", "::") or ip.is_multicast  # type: ignore[attr-defined]


def test_pex_roundtrip_and_normalizing() -> None:
    body = encode_pex_response(["192.0.2.1:5", "[::1]:6", "192.0.2.1:5", "Host.example:7"])
    assert body == msgspec.msgpack.encode(
        [["192.0.2.1:5", "[::1]:6", "192.0.2.1:5", "Host.example:7"]]
    )
    assert decode_pex_response(body) == ["192.0.2.1:5", "[::1]:6", "host.example:7"]
    decode_pex_request(b"")
    with pytest.raises(RemoteError):
        decode_pex_request(b"\x00")


@pytest.mark.parametrize(
    ("value", "penalty"),
    [
        ([["1.2.3.4:0"]], 20),
        ([["nohost"]], 20),
        ([[f"10.0.0.{i}:1" for i in range(MAX_PEX + 1)]], 100),
        ([[1]], 100),
        ({"addrs": []}, 100),
        ([[], 1], 100),
    ],
)
def test_pex_response_refuses_bad_lists(value: object, penalty: int) -> None:
    with pytest.raises(RemoteError) as e:
        decode_pex_response(msgspec.msgpack.encode(value))
    assert (e.value.code, e.value.penalty) == ("bad_pex", penalty)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200)
    | st.lists(st.text(max_size=30), max_size=70).map(lambda xs: msgspec.msgpack.encode([xs]))
)
def test_pex_decoder_fuzz(body: bytes) -> None:
    try:
        addrs = decode_pex_response(body)
    except RemoteError as e:
        assert e.code == "bad_pex" and e.penalty > 0
        return
    assert len(addrs) <= MAX_PEX
    assert all(normalize_addr(a) == a for a in addrs)


def test_backoff_and_candidates() -> None:
    book = AddrBook(None, limits=BookLimits(backoff_base_s=2.0, backoff_max_s=10.0))
    book.add_bootstrap(["192.0.2.1:1", "192.0.2.2:1", "192.0.2.3:1"], T0)
    rng = random.Random(7)
    assert sorted(book.candidates(5, T0, rng)) == ["192.0.2.1:1", "192.0.2.2:1", "192.0.2.3:1"]
    book.mark_attempt("192.0.2.1:1", T0)
    book.mark_failure("192.0.2.1:1", T0)  # 1 failure: wait 4 s
    book.mark_attempt("192.0.2.2:1", T0)
    book.mark_success("192.0.2.2:1", T0 + 1, node_id=PEER)  # connected: wait 2 s to redial
    assert book.candidates(5, T0 + 1, rng) == ["192.0.2.3:1"]
    assert sorted(book.candidates(5, T0 + 2, rng)) == ["192.0.2.2:1", "192.0.2.3:1"]
    # fewest failures first
    assert book.candidates(5, T0 + 4, rng)[-1] == "192.0.2.1:1"
    assert book.candidates(1, T0 + 4, rng) != ["192.0.2.1:1"]
    for i in range(5):
        book.mark_attempt("192.0.2.1:1", T0 + 100 * i)
        book.mark_failure("192.0.2.1:1", T0 + 100 * i)
    e = book.get("192.0.2.1:1")
    assert e is not None and e.failures == 6
    assert book.next_attempt(e) == T0 + 400 + 10  # capped
    # excluded by address, by connected node id, and by ban
    got = book.candidates(5, T0 + 1000, rng, exclude={"192.0.2.3:1"}, exclude_ids={PEER})
    assert got == ["192.0.2.1:1"]
    got = book.candidates(5, T0 + 1000, rng, banned=lambda nid, host: host == "192.0.2.1")
    assert sorted(got) == ["192.0.2.2:1", "192.0.2.3:1"]


def test_candidates_are_deterministic_given_the_rng() -> None:
    def pick(seed: int) -> list[str]:
        book = AddrBook(None)
        for i in range(30):
            book.add(f"10.0.1.{i}:9", Source.PEX, T0)
        return book.candidates(5, T0, random.Random(seed))

    assert pick(1) == pick(1)
    assert len(set(map(tuple, (pick(s) for s in range(5))))) > 1


def test_learned_addresses_that_keep_failing_are_forgotten() -> None:
    book = AddrBook(None, limits=BookLimits(max_failures=3))
    book.add_bootstrap(["192.0.2.1:1"], T0)
    book.add_from_pex(["192.0.2.2:1"], PEER, T0)
    for _ in range(3):
        book.mark_failure("192.0.2.1:1", T0)
        book.mark_failure("192.0.2.2:1", T0)
    assert "192.0.2.1:1" in book and "192.0.2.2:1" not in book


def test_pex_validation_and_sharing() -> None:
    book = AddrBook(None, own_addrs=["127.0.0.1:26656", "0.0.0.0:26656"])
    assert book.own == ["127.0.0.1:26656"]
    assert book.add_from_pex(["127.0.0.1:26656", "127.0.0.1:1", "[::1]:2"], PEER, T0) == 2
    assert "127.0.0.1:26656" not in book  # ourselves
    for bad in [["1.2.3.4:0"], ["x"] * 2, [f"10.0.0.{i}:1" for i in range(MAX_PEX + 1)], "1:2"]:
        with pytest.raises(RemoteError) as e:
            book.add_from_pex(bad, PEER, T0)
        assert e.value.code == "bad_pex"
    assert len(book) == 2  # a refused list adds nothing
    # only what we connected to is shared, most recent first, after our own address
    assert book.for_pex(10) == ["127.0.0.1:26656"]
    book.mark_success("127.0.0.1:1", T0 + 1)
    book.mark_success("[::1]:2", T0 + 2)
    assert book.for_pex(10) == ["127.0.0.1:26656", "[::1]:2", "127.0.0.1:1"]
    assert book.for_pex(2, exclude={"[::1]:2"}) == ["127.0.0.1:26656", "127.0.0.1:1"]
    # an inbound peer's advertised address is shared while it is connected, first
    book.add("192.0.2.99:9", Source.INBOUND, T0 + 3, node_id=PEER)
    assert "192.0.2.99:9" not in book.for_pex(10)
    assert book.for_pex(3, connected={PEER}) == ["127.0.0.1:26656", "192.0.2.99:9", "[::1]:2"]


def test_bootstrap_config_errors_are_local() -> None:
    with pytest.raises(LocalError) as e:
        AddrBook(None).add_bootstrap(["nope"], T0)
    assert e.value.code == "bad_address"


def test_bounded_size_keeps_proven_addresses() -> None:
    book = AddrBook(None, limits=BookLimits(max_entries=3))
    book.add_bootstrap(["192.0.2.1:1"], T0)
    book.add_from_pex(["192.0.2.2:1", "192.0.2.3:1"], PEER, T0)
    book.mark_success("192.0.2.2:1", T0)
    book.mark_failure("192.0.2.3:1", T0)
    assert book.add_from_pex(["192.0.2.4:1"], PEER, T0 + 1) == 1
    assert "192.0.2.3:1" not in book and len(book) == 3  # the failing unproven one went
    assert book.add_from_pex(["192.0.2.5:1"], PEER, T0 + 2) == 1
    assert "192.0.2.4:1" not in book
    book.mark_success("192.0.2.5:1", T0 + 3)
    # now everything is bootstrap or proven: newcomers wait outside
    assert book.add_from_pex(["192.0.2.6:1"], PEER, T0 + 4) == 0
    assert sorted(book.candidates(9, T0 + 100, random.Random(0))) == [
        "192.0.2.1:1",
        "192.0.2.2:1",
        "192.0.2.5:1",
    ]


def test_address_book_is_kept_on_disk(tmp_path: Path) -> None:
    f = tmp_path / "p2p" / "addrbook.json"
    book = AddrBook(f)
    book.add_bootstrap(["192.0.2.1:1"], T0)
    book.add("[::1]:5", Source.INBOUND, T0, node_id=PEER)
    book.mark_attempt("[::1]:5", T0)
    book.mark_success("[::1]:5", T0 + 1)
    assert book.dirty
    book.save()
    assert not book.dirty
    again = AddrBook(f)
    e = again.get("[::1]:5")
    assert e is not None and e.node_id == PEER and e.last_success == T0 + 1
    assert e.source is Source.INBOUND
    assert again.for_pex(5) == ["[::1]:5"]
    assert json.loads(f.read_text())["version"] == 1


def test_corrupt_address_book_starts_empty(tmp_path: Path) -> None:
    f = tmp_path / "addrbook.json"
    f.write_text('{"version": 1, "entries": [{"addr": "1.2.3.4:5", "source": "martian"}]}')
    assert len(AddrBook(f)) == 0
    assert (tmp_path / "addrbook.json.corrupt").exists()


def test_address_book_drops_bad_entries_it_can_read(tmp_path: Path) -> None:
    f = tmp_path / "addrbook.json"
    entries = [
        {"addr": "1.2.3.4:0", "source": "pex"},
        {"addr": "1.2.3.4:5", "source": "pex", "failures": -1},
        {"addr": "Host:7", "source": "bootstrap"},
    ]
    f.write_text(json.dumps({"version": 1, "entries": entries}))
    book = AddrBook(f)
    assert "host:7" in book and len(book) == 1


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_address_book_file_loads_or_starts_empty(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    d = tmp_path_factory.mktemp("book")
    (d / "addrbook.json").write_bytes(data)
    book = AddrBook(d / "addrbook.json")
    book.add("192.0.2.1:1", Source.PEX, T0)
    book.save()
    assert "192.0.2.1:1" in AddrBook(d / "addrbook.json")


def test_bootstrap_and_readvertised_addresses_are_retried_within_the_fresh_cap() -> None:
    limits = BookLimits(backoff_base_s=2.0, backoff_max_s=600.0, fresh_backoff_max_s=10.0)
    book = AddrBook(None, limits=limits)
    book.add_bootstrap(["127.0.0.1:1"], T0)
    book.add("127.0.0.2:1", Source.PEX, T0)
    for i in range(6):  # 6 failures: 128 s uncapped
        for a in ("127.0.0.1:1", "127.0.0.2:1"):
            book.mark_attempt(a, T0 + i)
            book.mark_failure(a, T0 + i)
    boot, learned = book.get("127.0.0.1:1"), book.get("127.0.0.2:1")
    assert boot is not None and learned is not None
    assert book.next_attempt(boot) == T0 + 5 + 10
    assert book.next_attempt(learned) == T0 + 5 + 128
    book.add("127.0.0.2:1", Source.PEX, T0 + 20)  # a peer says it is there again
    learned = book.get("127.0.0.2:1")
    assert learned is not None and book.next_attempt(learned) == T0 + 5 + 10
