"""The output rule of ``gaussmix.data.atomic``: what each kind of target becomes.

The truth is the file system itself, read back with ``os.lstat``/``os.stat`` and
raw reads: a FIFO stays a FIFO and its reader gets the bytes, a device stays the
same device, a link stays a link, a replaced folder holds exactly the new files
and nothing is left beside it.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gaussmix.data import atomic
from gaussmix.data.atomic import (
    atomic_folder,
    atomic_path,
    check_folder_writable,
    check_output_file,
    remove_abandoned_folders,
    same_file,
    write_text,
)

LINUX_PROC = os.path.isdir("/proc/self/fd")


def _tree(folder) -> dict:
    """Every entry under ``folder``: relative path to its bytes (files) or its kind."""
    folder = Path(folder)
    found = {}
    for path in sorted(folder.rglob("*")):
        mode = os.lstat(path).st_mode
        key = str(path.relative_to(folder))
        if stat.S_ISREG(mode):
            found[key] = path.read_bytes()
        elif stat.S_ISLNK(mode):
            found[key] = ("link", os.readlink(path))
        else:
            found[key] = ("dir" if stat.S_ISDIR(mode) else "other", stat.S_IFMT(mode))
    return found


def _read_in_background(path, into: list) -> threading.Thread:
    """Open a FIFO for reading in a thread (a writer blocks until a reader comes)."""

    def read():
        with open(path, "rb") as fifo:
            into.append(fifo.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


# ----------------------------------------------------------------------------- files
def test_new_file_is_written_whole_and_nothing_else(tmp_path):
    write_text(tmp_path / "out.txt", "hello\n")
    assert _tree(tmp_path) == {"out.txt": b"hello\n"}


def test_regular_file_is_replaced_and_keeps_its_permissions(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o640)
    write_text(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _tree(tmp_path) == {"out.txt": b"new"}


def test_a_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(OSError) as caught, atomic_path(target) as temporary:
        temporary.write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert caught.value.filename == str(target)
    assert _tree(tmp_path) == {"out.txt": b"old"}


def test_symlink_is_followed_and_stays_a_link(tmp_path):
    (tmp_path / "real.csv").write_text("old")
    (tmp_path / "link.csv").symlink_to("real.csv")
    write_text(tmp_path / "link.csv", "new")
    assert _tree(tmp_path) == {"link.csv": ("link", "real.csv"), "real.csv": b"new"}


def test_dangling_symlink_gets_its_target_created(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.csv").symlink_to("sub/made.csv")
    write_text(tmp_path / "link.csv", "new")
    assert _tree(tmp_path) == {
        "link.csv": ("link", "sub/made.csv"),
        "sub": ("dir", stat.S_IFDIR),
        "sub/made.csv": b"new",
    }


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_written_directly_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = _read_in_background(fifo, received)
    write_text(fifo, "a,b\n1,2\n")
    reader.join(timeout=30)
    assert received == [b"a,b\n1,2\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


@pytest.mark.skipif(not LINUX_PROC, reason="needs Linux's /proc/self/fd")
@pytest.mark.parametrize("spelling", ["/proc/self/fd/{}", "/dev/fd/{}"])
def test_an_open_descriptor_is_written_directly(spelling):
    """``--out /dev/stdout`` is the process's stdout, whatever it is: here a pipe."""
    read_end, write_end = os.pipe()
    try:
        write_text(spelling.format(write_end), "through the descriptor\n")
        os.close(write_end)
        write_end = None
        with os.fdopen(read_end, "rb") as pipe:
            read_end = None
            assert pipe.read() == b"through the descriptor\n"
    finally:
        for descriptor in (read_end, write_end):
            if descriptor is not None:
                os.close(descriptor)


def _character_device(tmp_path, name, minor):
    """A copy of /dev/null (minor 3) or /dev/full (minor 7) in ``tmp_path``; root only."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not sys.platform.startswith("linux"):
        pytest.skip("making a device node needs root on Linux")
    path = tmp_path / name
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except PermissionError:
        pytest.skip("this root may not make device nodes")
    return path


def test_character_device_is_written_and_never_replaced(tmp_path):
    device = _character_device(tmp_path, "null", 3)
    before = os.lstat(device)
    write_text(device, "discarded\n")
    after = os.lstat(device)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert after.st_ino == before.st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_full_device_gives_its_error_and_stays_a_device(tmp_path):
    """The issue's ``--out /dev/full`` as root: the device was replaced by a file."""
    device = _character_device(tmp_path, "full", 7)
    before = os.lstat(device)
    with pytest.raises(OSError) as caught:
        write_text(device, "x" * 100_000)
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(device)
    after = os.lstat(device)
    assert stat.S_ISCHR(after.st_mode) and (after.st_rdev, after.st_ino) == (
        before.st_rdev,
        before.st_ino,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def test_folder_target_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(IsADirectoryError) as caught:
        write_text(tmp_path / "out", "x")
    assert caught.value.filename == str(tmp_path / "out")
    assert "folder" in str(caught.value)
    assert _tree(tmp_path) == {"out": ("dir", stat.S_IFDIR)}


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets here")
def test_socket_target_is_refused(tmp_path):
    path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        with pytest.raises(OSError, match="socket") as caught:
            write_text(path, "x")
        assert caught.value.filename == str(path)
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["sock"]
    finally:
        server.close()


# ----------------------------------------------------------------------------- same file
def test_same_file_through_links_and_spellings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("x\n1\n")
    (tmp_path / "other.csv").write_text("x\n1\n")  # equal content, another file
    os.link(tmp_path / "data.csv", tmp_path / "hard.csv")
    (tmp_path / "soft.csv").symlink_to("data.csv")
    (tmp_path / "sub").mkdir()
    assert same_file("data.csv", tmp_path / "data.csv")
    assert same_file("sub/../data.csv", "data.csv")
    assert same_file("hard.csv", "data.csv")
    assert same_file("soft.csv", "data.csv") and same_file("data.csv", "soft.csv")
    assert not same_file("other.csv", "data.csv")
    # Not there yet: the same resolved path is the same file-to-be.
    assert same_file("sub/../new.csv", tmp_path / "new.csv")
    assert not same_file("new.csv", "data.csv")


def test_check_output_file_names_both_paths(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")
    (tmp_path / "alias.csv").symlink_to(data)
    with pytest.raises(ValueError) as caught:
        check_output_file(tmp_path / "alias.csv", {"data file": data})
    assert str(tmp_path / "alias.csv") in str(caught.value)
    assert f"data file {str(data)!r}" in str(caught.value)
    assert data.read_text() == "x\n1\n"
    assert check_output_file(tmp_path / "out.csv", {"data file": data}) == tmp_path / "out.csv"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_check_output_file_accepts_a_fifo_without_touching_it(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    assert check_output_file(tmp_path / "pipe") == tmp_path / "pipe"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


# ----------------------------------------------------------------------------- folders
def _fill(folder, files: dict) -> None:
    for name, content in files.items():
        (Path(folder) / name).write_bytes(content)


@pytest.fixture(params=["renameat2", "two renames"])
def swap_by(request, monkeypatch):
    """Run a folder test with Linux's atomic exchange and with the portable fallback."""
    if request.param == "two renames":
        monkeypatch.setattr(atomic, "_RENAMEAT2", None)
    elif atomic._RENAMEAT2 is None:
        pytest.skip("no renameat2 here")
    return request.param


def test_new_folder_appears_whole(tmp_path, swap_by):
    with atomic_folder(tmp_path / "a" / "out") as private:
        assert private.parent == tmp_path / "a"
        _fill(private, {"one.txt": b"1", "two.txt": b"2"})
        assert not (tmp_path / "a" / "out").exists()
    assert _tree(tmp_path) == {
        "a": ("dir", stat.S_IFDIR),
        "a/out": ("dir", stat.S_IFDIR),
        "a/out/one.txt": b"1",
        "a/out/two.txt": b"2",
    }


def test_previous_folder_is_replaced_and_removed(tmp_path, swap_by):
    out = tmp_path / "out"
    out.mkdir()
    _fill(out, {"one.txt": b"old", "gone.txt": b"old"})
    with atomic_folder(out, replaceable={"one.txt", "gone.txt"}) as private:
        _fill(private, {"one.txt": b"new"})
    assert _tree(tmp_path) == {"out": ("dir", stat.S_IFDIR), "out/one.txt": b"new"}


@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_failure_or_interrupt_leaves_the_previous_folder_and_nothing_else(tmp_path, failure):
    out = tmp_path / "out"
    out.mkdir()
    _fill(out, {"report.html": b"previous", "figure.png": b"\x89PNG previous"})
    before = _tree(tmp_path)
    with pytest.raises(failure), atomic_folder(out, replaceable=None) as private:
        _fill(private, {"report.html": b"half"})
        raise failure()
    assert _tree(tmp_path) == before


def test_failure_removes_the_folders_it_made_on_the_way(tmp_path):
    with pytest.raises(RuntimeError), atomic_folder(tmp_path / "a" / "b" / "out"):
        raise RuntimeError
    assert _tree(tmp_path) == {}


def test_files_it_may_not_remove_are_kept_with_a_warning(tmp_path, swap_by):
    out = tmp_path / "out"
    out.mkdir()
    _fill(out, {"report.html": b"previous"})
    with pytest.warns(UserWarning, match="not written there by gaussmix"):
        with atomic_folder(out, replaceable={"report.html"}) as private:
            _fill(private, {"report.html": b"new"})
            # Another program adds a file while the new folder is being made.
            _fill(out, {"notes.txt": b"mine"})
    tree = _tree(tmp_path)
    kept = [name for name in tree if name.startswith("out.previous-")]
    assert len(kept) == 2  # the folder and the one file in it
    assert tree.pop("out/report.html") == b"new"
    assert tree == {
        "out": ("dir", stat.S_IFDIR),
        kept[0]: ("dir", stat.S_IFDIR),
        f"{kept[0]}/notes.txt": b"mine",
    }


def test_symlink_to_a_folder_stays_a_link(tmp_path, swap_by):
    (tmp_path / "real").mkdir()
    _fill(tmp_path / "real", {"report.html": b"old"})
    (tmp_path / "out").symlink_to("real")
    with atomic_folder(tmp_path / "out", replaceable=None) as private:
        _fill(private, {"report.html": b"new"})
    assert _tree(tmp_path) == {
        "out": ("link", "real"),
        "real": ("dir", stat.S_IFDIR),
        "real/report.html": b"new",
    }


def test_concurrent_folders_end_with_one_whole_result(tmp_path, swap_by):
    out = tmp_path / "out"
    start = threading.Barrier(4)
    errors = []

    def make(run):
        try:
            with atomic_folder(out, replaceable={"a.txt", "b.txt"}) as private:
                _fill(private, {"a.txt": run.encode()})
                start.wait(timeout=30)
                _fill(private, {"b.txt": run.encode()})
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=make, args=(f"run{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    tree = _tree(tmp_path)
    winner = tree["out/a.txt"]
    assert tree == {"out": ("dir", stat.S_IFDIR), "out/a.txt": winner, "out/b.txt": winner}


def _private(folder, name, pid, start):
    path = Path(folder) / f".{name}.gaussmix-{pid}-{start}-0123abcd.tmp"
    path.mkdir()
    (path / "report.html").write_text("partial")
    return path


@pytest.mark.skipif(not LINUX_PROC, reason="start times come from Linux's /proc")
def test_only_private_folders_of_ended_processes_are_removed(tmp_path):
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(ended.stdout)
    own_start = atomic._start_time(os.getpid())
    stale = _private(tmp_path, "out", dead_pid, 12345)
    reused = _private(tmp_path, "out", os.getpid(), own_start + 1)  # same id, other process
    running = _private(tmp_path, "out", os.getpid(), own_start)
    other_name = _private(tmp_path, "elsewhere", dead_pid, 12345)
    (tmp_path / ".out.gaussmix-notes.tmp").mkdir()  # not a name it gives
    removed = remove_abandoned_folders(tmp_path / "out")
    assert sorted(removed) == sorted([stale, reused])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [running.name, other_name.name, ".out.gaussmix-notes.tmp"]
    )


def test_check_folder_writable_makes_nothing(tmp_path):
    assert check_folder_writable(tmp_path / "a" / "b" / "out") == tmp_path / "a" / "b" / "out"
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match="file") as caught:
        check_folder_writable(tmp_path / "file")
    assert str(tmp_path / "file") in str(caught.value)
    with pytest.raises(OSError, match="on its way is a file"):
        check_folder_writable(tmp_path / "file" / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
