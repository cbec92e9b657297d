"""A server whose port is taken between the port check and the bind
(another process was quicker) says so in one sentence, naming the port and
the variable that moves it — not an error of the server's own clean-up."""
from __future__ import annotations

import socket

import pytest
from flask import Flask

from fedsim_harness.serve import PortTaken, serve


def test_a_port_taken_at_bind_time_is_named() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortTaken, match=rf"^Port {port} \(CSAM\) is already in use: .*FEDSIM_CSAM_PORT"):
            serve(Flask(__name__), "127.0.0.1", "idp_csam", port)
