"""fetch_yunet against a local HTTP server on 127.0.0.1; nothing else is ever contacted."""

import hashlib
import os
import socket
import stat
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app import paths
from app.errors import Cancelled, ModelError
from app.fetch import YUNET_URL, fetch_yunet, sha256_file
from app.progress import CancelToken

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


class LocalServer:
    def __init__(self):
        self.routes = {}  # path -> (body, kind): kind is "full", "truncate", "slow" or "nolength"
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                body, kind = route
                if kind == "slow":
                    time.sleep(1.5)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if kind != "nolength":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if kind == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.block_on_close = False  # do not wait for the slow handler at teardown
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def add(self, path, body, kind="full"):
        self.routes[path] = (body, kind)
        return self.base + path


@pytest.fixture
def server(monkeypatch):
    for var in PROXY_VARS:  # a proxy setting must not send loopback requests elsewhere
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    srv = LocalServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def yunet_bytes(yunet_path):
    return yunet_path.read_bytes()


@pytest.fixture
def payload():
    """Synthetic bytes (three chunks and a bit) for the failure cases."""
    data = os.urandom(200_000)
    return data, hashlib.sha256(data).hexdigest()


def leftovers(folder: Path):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_url_points_at_opencv_zoo():
    assert YUNET_URL.startswith("https://github.com/opencv/opencv_zoo/raw/main/models/"
                                "face_detection_yunet/")
    assert YUNET_URL.endswith("/" + paths.YUNET_FILENAME)


def test_sha256_file(tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"abc")
    assert sha256_file(f) == hashlib.sha256(b"abc").hexdigest()


def test_download_success(server, yunet_bytes, tmp_path):
    url = server.add("/yunet.onnx", yunet_bytes)
    seen = []
    dest = fetch_yunet(tmp_path / "models", url=url, progress=lambda d, t, m="": seen.append((d, t)))
    assert dest == tmp_path / "models" / paths.YUNET_FILENAME
    assert dest.read_bytes() == yunet_bytes
    assert sha256_file(dest) == paths.YUNET_SHA256
    mode = stat.S_IMODE(dest.stat().st_mode)
    assert mode & 0o600 == 0o600 and not mode & 0o133  # owner rw, nobody executes or writes
    assert leftovers(dest.parent) == [paths.YUNET_FILENAME]
    assert seen[-1] == (len(yunet_bytes), len(yunet_bytes))
    assert len(seen) > 2 and all(t == len(yunet_bytes) for _, t in seen)


def test_default_folder_is_the_users_model_folder(server, yunet_bytes):
    dest = fetch_yunet(url=server.add("/y", yunet_bytes))
    assert dest == paths.user_models_dir() / paths.YUNET_FILENAME
    assert str(dest).startswith(os.environ["ONESHOT_DATA_DIR"])  # the test's folder, not the user's


def test_present_file_not_downloaded_again(server, yunet_bytes, tmp_path):
    url = server.add("/yunet.onnx", yunet_bytes)
    first = fetch_yunet(tmp_path, url=url)
    mtime = first.stat().st_mtime_ns
    again = fetch_yunet(tmp_path, url=url)
    assert again == first and first.stat().st_mtime_ns == mtime
    assert server.requests == ["/yunet.onnx"]


def test_damaged_present_file_is_replaced(server, yunet_bytes, tmp_path):
    (tmp_path / paths.YUNET_FILENAME).write_bytes(b"half a model")
    dest = fetch_yunet(tmp_path, url=server.add("/yunet.onnx", yunet_bytes))
    assert sha256_file(dest) == paths.YUNET_SHA256 and len(server.requests) == 1


def test_wrong_hash_leaves_nothing(server, payload, tmp_path):
    data, actual = payload
    expected = "0" * 64
    with pytest.raises(ModelError) as err:
        fetch_yunet(tmp_path, url=server.add("/other.onnx", data), sha256=expected)
    assert expected in str(err.value) and actual in str(err.value)
    assert leftovers(tmp_path) == []


def test_lfs_pointer_is_named(server, tmp_path):
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1\n"
    with pytest.raises(ModelError, match="Git LFS pointer"):
        fetch_yunet(tmp_path, url=server.add("/p", pointer))
    assert leftovers(tmp_path) == []


def test_404(server, tmp_path):
    with pytest.raises(ModelError, match="404"):
        fetch_yunet(tmp_path, url=server.base + "/missing.onnx")
    assert leftovers(tmp_path) == []


def test_truncated_body(server, payload, tmp_path):
    data, digest = payload
    with pytest.raises(ModelError, match="cut short"):
        fetch_yunet(tmp_path, url=server.add("/t", data, "truncate"), sha256=digest)
    assert leftovers(tmp_path) == []


def test_body_without_length_checked_by_hash(server, payload, tmp_path):
    data, digest = payload
    dest = fetch_yunet(tmp_path, url=server.add("/n", data, "nolength"), sha256=digest)
    assert dest.read_bytes() == data


def test_connection_refused(tmp_path, monkeypatch):
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ModelError, match="refused"):
        fetch_yunet(tmp_path, url=f"http://127.0.0.1:{port}/yunet.onnx", timeout=5)
    assert leftovers(tmp_path) == []


def test_timeout(server, payload, tmp_path):
    data, digest = payload
    with pytest.raises(ModelError, match="timed out"):
        fetch_yunet(tmp_path, url=server.add("/slow", data, "slow"), sha256=digest, timeout=0.3)
    assert leftovers(tmp_path) == []


def test_cancel_mid_download(server, payload, tmp_path):
    data, digest = payload
    cancel = CancelToken()

    def progress(done, total, message=""):
        if done > 0:
            cancel.cancel()

    with pytest.raises(Cancelled):
        fetch_yunet(tmp_path, url=server.add("/c", data), sha256=digest, progress=progress,
                    cancel=cancel)
    assert leftovers(tmp_path) == []


def test_only_http_urls(tmp_path):
    with pytest.raises(ModelError, match="http"):
        fetch_yunet(tmp_path, url="file:///etc/hostname")


def test_fetch_models_command_checks_the_sha_and_refuses_a_wrong_file(server, yunet_bytes, payload, capsys):
    """`oneshot-face fetch-models --url`, against the local server: a wrong file is refused in one
    line and leaves nothing; the real one (a copy of ../shared's YuNet) is verified and kept."""
    from app.cli import main
    folder = paths.user_models_dir()
    data, actual = payload
    assert main(["fetch-models", "--url", server.add("/other.onnx", data)]) == 2
    out, err = capsys.readouterr()
    *bar, message = err.rstrip("\n").split("\n")
    assert "not the expected file" in message and actual in message and paths.YUNET_SHA256 in message
    assert all(line.startswith("\r") for line in bar) and "Traceback" not in err  # before it: the progress bar
    assert leftovers(folder) == []
    assert main(["fetch-models", "--url", server.add("/yunet.onnx", yunet_bytes)]) == 0
    out, err = capsys.readouterr()
    dest = folder / paths.YUNET_FILENAME
    assert out.strip() == f"YuNet detector ready at {dest}"
    assert sha256_file(dest) == paths.YUNET_SHA256 and leftovers(folder) == [paths.YUNET_FILENAME]
    assert str(dest).startswith(os.environ["ONESHOT_DATA_DIR"])  # the test's folder, not the user's
    assert main(["fetch-models", "--url", server.add("/gone.onnx", data)]) == 0  # present and right: kept
    assert server.requests == ["/other.onnx", "/yunet.onnx"] and sha256_file(dest) == paths.YUNET_SHA256
