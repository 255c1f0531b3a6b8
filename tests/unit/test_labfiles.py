"""Only regular files inside the lab folder, never a hang: FIFOs, devices, loops, odd paths."""

import os

import pytest

from labrunner.labfiles import LIMITS, Budget, FileRefused, decode_text, path_problem, read_regular_file, resolve_inside


def test_a_regular_file_is_read(tmp_path):
    (tmp_path / "a.md").write_text("hello\n")
    assert read_regular_file(resolve_inside(tmp_path, "a.md")) == b"hello\n"


def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "lab.yaml")  # nobody writes: an open for reading would block forever
    with pytest.raises(FileRefused, match="a FIFO, not a regular file"):
        read_regular_file(resolve_inside(tmp_path, "lab.yaml"))


def test_a_link_to_a_device_is_refused(tmp_path):
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    with pytest.raises(FileRefused, match="leads outside the lab folder"):
        resolve_inside(tmp_path, "zero.yaml")
    with pytest.raises(FileRefused, match="a device, not a regular file"):
        read_regular_file(tmp_path / "zero.yaml")


def test_a_symlink_loop_is_refused(tmp_path):
    (tmp_path / "a.yaml").symlink_to("b.yaml")
    (tmp_path / "b.yaml").symlink_to("a.yaml")
    with pytest.raises(FileRefused, match="symlink loop"):
        resolve_inside(tmp_path, "a.yaml")


def test_a_symlink_inside_the_folder_is_followed(tmp_path):
    (tmp_path / "real.md").write_text("x")
    (tmp_path / "link.md").symlink_to("real.md")
    assert resolve_inside(tmp_path, "link.md") == tmp_path / "real.md"


def test_missing_and_escaping(tmp_path):
    with pytest.raises(FileRefused, match="does not exist"):
        resolve_inside(tmp_path, "nope.md")
    with pytest.raises(FileRefused, match="leads outside"):
        resolve_inside(tmp_path / "sub", "../x.md")


def test_a_folder_is_not_a_file(tmp_path):
    (tmp_path / "steps.md").mkdir()
    with pytest.raises(FileRefused, match="a folder"):
        read_regular_file(resolve_inside(tmp_path, "steps.md"))


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("steps/one\x00.md", "U+0000"),
        ("steps/one\n.md", "U+000A"),
        ("a" * 300 + ".md", "longer than 255 bytes"),
        ("a/" * 600 + "b.md", "characters long"),
        ("/etc/passwd", "is absolute"),
        ("", "expected a path"),
        (12, "expected a path"),
    ],
)
def test_odd_paths_are_refused_before_the_file_system_sees_them(path, says):
    assert says in path_problem(path)


def test_size_limits(tmp_path, monkeypatch):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (LIMITS.file_bytes + 1))
    with pytest.raises(FileRefused, match="at most 1 MiB"):
        read_regular_file(big)
    small = tmp_path / "small.yaml"
    small.write_bytes(b"#" * 1000)
    budget = Budget(bytes_left=1500)
    read_regular_file(small, budget=budget)
    with pytest.raises(FileRefused, match="the lab's files together are over"):
        read_regular_file(small, budget=budget)


def test_text_with_control_characters_names_the_line():
    with pytest.raises(FileRefused) as err:
        decode_text("# Title\n\nRun \x1b]0;pwned\x07 this\n".encode())
    assert err.value.line == 3 and "U+001B (ESC)" in err.value.message
    with pytest.raises(FileRefused) as err:
        decode_text(b"ok\n\xff\n")
    assert err.value.line == 2 and "UTF-8" in err.value.message
    assert decode_text("tabs\tand unicode \u00e9 \U0001f600\n".encode()) == "tabs\tand unicode \u00e9 \U0001f600\n"
