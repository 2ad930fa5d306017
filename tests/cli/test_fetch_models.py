"""`oneshot-face fetch-models` offline: one clear line on stderr, a non-zero exit, nothing left in
the model folder. The network is refused at the socket, as on a machine without a connection."""

from __future__ import annotations

import socket

import pytest

from app import paths
from app.cli import main

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.mark.parametrize("failure", [ConnectionRefusedError(111, "Connection refused"),
                                     socket.gaierror(-3, "Temporary failure in name resolution")])
def test_fetch_models_offline_fails_with_one_clear_line(capsys, monkeypatch, failure):
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    tried = []

    def no_network(*args, **kwargs):
        tried.append(args[0] if args else kwargs)
        raise failure

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    code = main(["fetch-models"])
    out, err = capsys.readouterr()
    assert tried, "fetch-models did not try the network"
    assert code != 0
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("oneshot-face: error: Could not download the face detector")
    assert "internet connection" in err and "Traceback" not in err
    assert "The detector shipped with the app stays in use." in err  # models/ ships YuNet
    assert not list(paths.user_models_dir(create=False).glob("*.onnx*"))  # no half-written file
