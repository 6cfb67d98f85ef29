"""Log lines: where they go, and uWSGI's master turning every collected line into one."""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servekit import logs
from servekit.errors import LoadError
from servekit.loading import report_load_error
from servekit.logs import LOG_FD_ENV, AccessLog, configure_logging, log_fd, write_line
from servekit.serving import drain, uwsgi_log
from servekit.serving.uwsgi import DRAIN_MODULE, LOG_MODULE, uwsgi_options
from servekit.serving.uwsgi_log import AS_ROOT, LOGGER, Line, classify
from servekit.settings import Settings

KEYS = ("time", "level", "logger", "message")
TRACEBACK = "Traceback (most recent call last):\nRuntimeError: no weights\n"
RECORD = (
    '{"time":"2026-01-01T00:00:00.000Z","level":"info","logger":"servekit.jobs",'
    '"message":"job succeeded","request_id":"r-1"}'
)


@pytest.fixture
def root_handlers() -> Iterator[None]:
    """Leave the root logger as it was."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    yield
    root.handlers[:] = saved
    root.setLevel(level)


def handler(log_format: str = "json", level: int = logging.INFO) -> uwsgi_log._MasterHandler:
    return uwsgi_log._MasterHandler(1, log_format, level)


def test_a_servekit_record_passes_untouched() -> None:
    assert classify(RECORD) is None
    assert handler().render(RECORD + "\n").decode() == RECORD + "\n"


def test_json_that_is_not_a_record_is_wrapped() -> None:
    assert classify('{"ok": true}') == Line("output", logging.WARNING, '{"ok": true}')
    assert classify('{"time": "x", "level": "info"') is not None  # cut short


@pytest.mark.parametrize(
    ("line", "logger", "level", "message"),
    [
        (
            "*** Starting uWSGI 2.0.31 (64bit) on [Fri Dec  4 05:31:35 2026] ***",
            "uwsgi",
            logging.INFO,
            "Starting uWSGI 2.0.31 (64bit) on [Fri Dec  4 05:31:35 2026]",
        ),
        ("*** Operational MODE: preforking ***", "uwsgi", logging.INFO, None),
        ("uwsgi socket 0 bound to TCP address 127.0.0.1:8080 fd 3", "uwsgi", logging.INFO, None),
        ("spawned uWSGI worker 1 (pid: 12, cores: 1)", "uwsgi", logging.INFO, None),
        (
            "Fri Dec  4 05:32:00 2026 - graceful shutdown triggered...",
            "uwsgi",
            logging.INFO,
            "graceful shutdown triggered...",
        ),
        ("!!! no internal routing support, rebuild with pcre support !!!", "uwsgi", 10, None),
        (
            " *** WARNING: you have enabled harakiri without post buffering. Slow upload "
            "could be rejected on post-unbuffered webservers *** ",
            "uwsgi",
            logging.DEBUG,
            None,
        ),
        ("...The work of process 19890 is done. Seeya!", "uwsgi", logging.DEBUG, None),
        ('running "unix_signal:15 uwsgi_route_signal" (accepting)...', "uwsgi", 10, None),
        (
            "DAMN ! worker 2 (pid: 9) died, killed by signal 9 :( trying respawn ...",
            "uwsgi",
            40,
            None,
        ),
        ("*** HARAKIRI ON WORKER 1 (pid: 9, try: 1, graceful: no) ***", "uwsgi", 40, None),
        (
            "2026/12/04 05:31:35 [crit] 77#77: *5 open() failed (13: Permission denied)",
            "nginx",
            logging.CRITICAL,
            "77#77: *5 open() failed (13: Permission denied)",
        ),
        ("nginx: [warn] the user directive makes sense only as root", "nginx", 30, None),
        ("servekit: error: the store is gone", "servekit", logging.ERROR, None),
        ("Segmentation fault in libfoo", "output", logging.WARNING, None),
    ],
)
def test_collected_lines_get_a_logger_and_a_level(
    line: str, logger: str, level: int, message: str | None
) -> None:
    found = classify(line)
    assert found is not None
    assert (found.logger, found.level) == (logger, level)
    if message is not None:
        assert found.message == message


def test_running_as_root_is_said_once() -> None:
    lines = ["uWSGI running as root, you can use --uid/--gid/--chroot options"] * 5
    lines += ["*** WARNING: you are running uWSGI as root !!! (use the --uid flag) *** "] * 5
    master = handler()
    out = [json.loads(line) for chunk in lines for line in master.render(chunk).splitlines()]
    assert [(r["level"], r["message"]) for r in out] == [("warning", AS_ROOT)]


def test_debug_lines_show_at_debug_level() -> None:
    line = "your memory page size is 4096 bytes"
    assert handler().render(line) == b""
    shown = json.loads(handler(level=logging.DEBUG).render(line))
    assert (shown["level"], shown["logger"], shown["message"]) == ("debug", "uwsgi", line)


def test_text_format_dates_uwsgi_lines_and_keeps_a_text_record_whole() -> None:
    master = handler("text")
    line = master.render("spawned uWSGI worker 1 (pid: 12, cores: 1)\n").decode()
    assert " INFO uwsgi: spawned uWSGI worker 1 (pid: 12, cores: 1)\n" in line
    record = (
        "2026-12-04 05:53:06,149 ERROR servekit.model: model raised ValueError\n"
        'Traceback (most recent call last):\n  File "m.py", line 7\nValueError: negative\n'
    )
    assert master.render(record).decode() == record


@given(st.text(max_size=300))
def test_every_collected_write_becomes_json_records(chunk: str) -> None:
    out = handler(level=logging.DEBUG).render(chunk).decode()
    for line in out.splitlines():
        record = json.loads(line)
        assert all(isinstance(record[key], str) for key in KEYS)
    kept = [line for line in chunk.splitlines() if line.strip()]
    assert len(out.splitlines()) == len(kept)


@given(st.lists(st.sampled_from([RECORD, "lock engine: pthread robust mutexes", "x"])))
def test_records_among_other_lines_pass_as_they_were(lines: list[str]) -> None:
    out = handler().render("\n".join(lines)).decode().splitlines()
    assert [line for line in out if "job succeeded" in line] == [RECORD] * lines.count(RECORD)


def test_the_master_handler_writes_to_the_servers_stderr(tmp_path: Path) -> None:
    path = tmp_path / "stderr"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        uwsgi_log.install(Settings(), fd)
        logging.getLogger(LOGGER).error("*** Operational MODE: preforking ***\n")
    finally:
        logging.getLogger(LOGGER).handlers.clear()
        os.close(fd)
    record = json.loads(path.read_text())
    assert (record["logger"], record["message"]) == ("uwsgi", "Operational MODE: preforking")


def test_log_fd_is_the_named_file_only_when_this_process_holds_it(tmp_path: Path) -> None:
    assert log_fd({}) == 2
    fd = os.open(tmp_path / "err", os.O_WRONLY | os.O_CREAT)
    other = os.open(tmp_path / "other", os.O_WRONLY | os.O_CREAT)
    try:
        stat = os.fstat(fd)
        assert log_fd({LOG_FD_ENV: f"{fd}:{stat.st_dev}:{stat.st_ino}"}) == fd
        assert log_fd({LOG_FD_ENV: f"{other}:{stat.st_dev}:{stat.st_ino}"}) == 2  # reused
        assert log_fd({LOG_FD_ENV: "garbage"}) == 2
    finally:
        os.close(fd)
    assert log_fd({LOG_FD_ENV: f"{fd}:{stat.st_dev}:{stat.st_ino}"}) in (2, other)
    os.close(other)


def test_share_stderr_names_a_copy_that_survives_exec() -> None:
    fd, shared = logs.share_stderr()
    try:
        assert os.get_inheritable(fd)
        assert log_fd(shared) == fd
    finally:
        os.close(fd)


def test_write_line_waits_while_a_non_blocking_socket_is_full() -> None:
    reader, writer = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    writer.setblocking(False)
    lines = [f"line {i:05d}\n".encode() * 100 for i in range(2000)]
    got: list[bytes] = []

    def read() -> None:
        while len(got) < len(lines):
            got.append(reader.recv(65536))

    thread = threading.Thread(target=read)
    thread.start()
    for line in lines:
        write_line(writer.fileno(), line)
    thread.join(10)
    reader.close()
    writer.close()
    assert got == lines


def test_a_line_the_socket_refuses_is_cut(root_handlers: None) -> None:
    reader, writer = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        writer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        reader.settimeout(5)
        with pytest.raises(OSError, match="too long") as refused:
            os.write(writer.fileno(), b"x" * 1_000_000)
        assert refused.value.errno == errno.EMSGSIZE
        configure_logging("json")
        (line_handler,) = logging.getLogger().handlers
        assert isinstance(line_handler, logs._LineHandler)
        line_handler.fd = writer.fileno()
        logging.getLogger("big").warning("%s", "y" * 1_000_000)
        record = json.loads(reader.recv(1_000_000))
    finally:
        reader.close()
        writer.close()
    assert record["logger"] == "big"
    assert record["message"].endswith(" [cut: the line was 1000082 bytes]")
    assert len(record["message"]) < 20_000


def test_a_load_error_is_one_json_record_and_its_traceback_at_debug(
    root_handlers: None, capfd
) -> None:
    configure_logging("json")
    error = LoadError("cannot load 'm.py:predict': no weights", TRACEBACK)
    report_load_error(error)
    (line,) = capfd.readouterr().err.splitlines()
    record = json.loads(line)
    assert record["message"] == (
        "servekit: error: cannot load 'm.py:predict': no weights"
        " (SERVEKIT_LOG_LEVEL=debug logs the traceback)"
    )
    assert "traceback" not in record
    configure_logging("json", "debug")
    report_load_error(error)
    said, traced = (json.loads(line) for line in capfd.readouterr().err.splitlines())
    assert said["message"] == "servekit: error: cannot load 'm.py:predict': no weights"
    assert traced["level"] == "debug"
    assert traced["traceback"].endswith("RuntimeError: no weights\n")


def test_a_load_error_in_text_is_the_line_and_the_traceback_at_debug(
    root_handlers: None, capfd
) -> None:
    configure_logging("text")
    error = LoadError("cannot load 'm.py:predict': no weights", TRACEBACK)
    report_load_error(error)
    assert capfd.readouterr().err == (
        "servekit: error: cannot load 'm.py:predict': no weights"
        " (SERVEKIT_LOG_LEVEL=debug logs the traceback)\n"
    )
    configure_logging("text", "debug")
    report_load_error(error)
    assert capfd.readouterr().err == (
        "servekit: error: cannot load 'm.py:predict': no weights\n"
        "Traceback (most recent call last):\nRuntimeError: no weights\n"
    )
    report_load_error(LoadError("cannot load 'm.py:predict': file not found"))
    assert capfd.readouterr().err == "servekit: error: cannot load 'm.py:predict': file not found\n"


def test_the_access_log_writes_one_line_to_the_log_fd(capfd) -> None:
    AccessLog("json").request({"code": 200, "route": "/model"})
    record = json.loads(capfd.readouterr().err)
    assert (record["logger"], record["code"]) == ("servekit.access", 200)


def test_one_worker_says_the_server_drains(tmp_path: Path) -> None:
    assert [drain._first_to_drain(tmp_path) for _ in range(3)] == [True, False, False]


def test_uwsgi_collects_every_processs_output_through_servekits_handler() -> None:
    options = uwsgi_options(Settings(), Path("/srv/model"), pid=1)
    names = [name for name, _ in options]
    assert ("log-master", True) in options
    assert ("logger", f"python:{LOGGER}") in options
    imports = [value for name, value in options if name == "shared-import"]
    assert imports == [LOG_MODULE, DRAIN_MODULE]  # the handler before anything can log
    assert "post-buffering" not in names
