"""A tiny TCP proxy the tests can cut: the link to central dropping mid-upload."""

from __future__ import annotations

import contextlib
import socket
import threading


class CuttableProxy:
    """Relays 127.0.0.1:<port> to ``upstream``. After ``cut_after`` bytes have gone
    upstream it drops every connection and refuses new ones until :meth:`restore`."""

    def __init__(self, upstream_port: int, *, cut_after: int | None = None) -> None:
        self.upstream_port = upstream_port
        self.cut_after = cut_after
        self.sent = 0
        self.down = False
        self.cuts = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, counted: bool) -> None:
        try:
            while True:
                data = src.recv(16384)
                if not data:
                    break
                if counted:
                    with self._lock:
                        self.sent += len(data)
                        over = self.cut_after is not None and self.sent >= self.cut_after
                    if over and not self.down:
                        self.cut()
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        """Drop the link: every open connection dies, new ones are refused."""
        with self._lock:
            self.down = True
            self.cuts += 1
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def restore(self) -> None:
        with self._lock:
            self.down = False
            self.cut_after = None

    def close(self) -> None:
        self.cut()
        self.listener.close()
