"""Tiny CIFAR-10 archives in the true formats, forged archives and pickles,
and a local HTTP server, for the data tests.

The expected arrays are made here, independently of the loader: the binary
records are written byte by byte as the CIFAR-10 page describes them, and the
Python batches are pickles written opcode by opcode the way Python 2's
cPickle wrote the official files (so loading them exercises exactly what a
real ``cifar-10-batches-py`` folder exercises).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import io
import socket
import struct
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TRAIN_FILES_BIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
TRAIN_FILES_PY = [f"data_batch_{i}" for i in range(1, 6)]
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@dataclass
class CifarFixture:
    """Known images and labels: 5 training batches and a test batch."""

    train_batches: list  # of (images uint8 (n, 3, 32, 32), labels uint8 (n,))
    test_batch: tuple

    @property
    def X_train(self):
        return np.concatenate([images for images, _ in self.train_batches])

    @property
    def y_train(self):
        return np.concatenate([labels for _, labels in self.train_batches])

    @property
    def X_test(self):
        return self.test_batch[0]

    @property
    def y_test(self):
        return self.test_batch[1]


def make_fixture(per_batch: int = 20, n_test: int = 20, seed: int = 0) -> CifarFixture:
    rng = np.random.default_rng(seed)

    def batch(n):
        images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        return images, labels

    return CifarFixture([batch(per_batch) for _ in range(5)], batch(n_test))


def binary_batch_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    """Records of <1 x label><3072 x pixel>, the pixels red, green, blue
    channel after channel, each row-major (as on the CIFAR-10 page)."""
    out = bytearray()
    for image, label in zip(images, labels, strict=True):
        out.append(int(label))
        for channel in range(3):
            for row in range(32):
                out.extend(int(v) for v in image[channel, row])
    return bytes(out)


# --- Python 2 style pickles -------------------------------------------------


def _py2_str(value: bytes) -> bytes:
    # SHORT_BINSTRING / BINSTRING: what Python 2 wrote for its str.
    if len(value) < 256:
        return b"U" + bytes([len(value)]) + value
    return b"T" + struct.pack("<i", len(value)) + value


def _int(value: int) -> bytes:
    if 0 <= value < 256:
        return b"K" + bytes([value])
    if 0 <= value < 65536:
        return b"M" + struct.pack("<H", value)
    return b"J" + struct.pack("<i", value)


def _py2_uint8_array(array: np.ndarray) -> bytes:
    rows, cols = array.shape
    return b"".join(
        [
            b"cnumpy.core.multiarray\n_reconstruct\n",
            b"cnumpy\nndarray\n",
            _int(0) + b"\x85",  # (0,)
            _py2_str(b"b") + b"\x87R",  # _reconstruct(ndarray, (0,), 'b')
            b"(" + _int(1) + _int(rows) + _int(cols) + b"\x86",  # state: 1, (rows, cols)
            b"cnumpy\ndtype\n" + _py2_str(b"u1") + _int(0) + _int(1) + b"\x87R",
            b"(" + _int(3) + _py2_str(b"|") + b"NNN" + _int(-1) + _int(-1) + _int(0) + b"tb",
            b"\x89" + _py2_str(np.ascontiguousarray(array).tobytes()) + b"tb",  # False, data
        ]
    )


def python_batch_bytes(images: np.ndarray, labels: np.ndarray, batch_label: str) -> bytes:
    """A batch dict {b'batch_label', b'labels', b'data', b'filenames'} pickled
    as Python 2 did (protocol 2)."""
    n = len(labels)
    label_list = b"](" + b"".join(_int(int(v)) for v in labels) + b"e"
    filenames = b"](" + b"".join(_py2_str(f"img_{i}.png".encode()) for i in range(n)) + b"e"
    return b"".join(
        [
            b"\x80\x02}(",
            _py2_str(b"batch_label") + _py2_str(batch_label.encode()),
            _py2_str(b"labels") + label_list,
            _py2_str(b"data") + _py2_uint8_array(images.reshape(n, 3072)),
            _py2_str(b"filenames") + filenames,
            b"u.",
        ]
    )


def python_meta_bytes() -> bytes:
    names = b"](" + b"".join(_py2_str(c.encode()) for c in CLASSES) + b"e"
    return b"\x80\x02}(" + _py2_str(b"label_names") + names + _py2_str(b"num_vis") + b"M\x00\x0cu."


# --- archives ----------------------------------------------------------------


def _add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def tar_gz(members) -> bytes:
    """members: iterable of (name, bytes) files, (name, None) directories, or
    TarInfo objects (links, devices...)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            elif member[1] is None:
                _add_dir(tar, member[0])
            else:
                _add_file(tar, *member)
    return buffer.getvalue()


def binary_members(fx: CifarFixture) -> list:
    top = "cifar-10-batches-bin"
    members = [(top, None)]
    for name, (images, labels) in zip(TRAIN_FILES_BIN, fx.train_batches, strict=True):
        members.append((f"{top}/{name}", binary_batch_bytes(images, labels)))
    members.append((f"{top}/test_batch.bin", binary_batch_bytes(*fx.test_batch)))
    members.append((f"{top}/batches.meta.txt", ("\n".join(CLASSES) + "\n\n").encode()))
    members.append((f"{top}/readme.html", b"<html>fixture</html>\n"))
    return members


def python_members(fx: CifarFixture) -> list:
    top = "cifar-10-batches-py"
    members = [(top, None)]
    for i, (name, (images, labels)) in enumerate(
        zip(TRAIN_FILES_PY, fx.train_batches, strict=True), start=1
    ):
        members.append((f"{top}/{name}", python_batch_bytes(images, labels, f"batch {i} of 5")))
    members.append((f"{top}/test_batch", python_batch_bytes(*fx.test_batch, "testing batch")))
    members.append((f"{top}/batches.meta", python_meta_bytes()))
    members.append((f"{top}/readme.html", b"<html>fixture</html>\n"))
    return members


def write_folder(root: Path, members) -> None:
    """Write (name, bytes) members as plain files under root."""
    for name, data in members:
        path = root / name
        if data is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def symlink_member(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


def hardlink_member(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE
    info.linkname = target
    return info


def device_member(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    return info


def forged_pickle(sentinel: Path) -> bytes:
    """A pickle that, if unpickled normally, runs code creating ``sentinel``."""
    code = f"import pathlib; pathlib.Path({str(sentinel)!r}).write_text('pwned')"
    return b"\x80\x02cbuiltins\nexec\n" + _py2_str(code.encode()) + b"\x85R."


# --- HTTP server ---------------------------------------------------------------


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    # Announce this many bytes (more than the body: a truncated transfer).
    content_length: int | None = None
    # False: no Content-Length header at all (the body ends when the connection closes).
    send_length: bool = True
    # Seconds between single bytes: a server that trickles the body.
    trickle: float | None = None


@dataclass
class Server:
    base_url: str
    routes: dict
    requests: list = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"


@contextlib.contextmanager
def serve(routes: dict):
    """Serve ``routes`` ({"/path": Route}) on 127.0.0.1 on a free port."""
    state = Server("", routes)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server API)
            state.requests.append(self.path)
            route = state.routes.get(self.path)
            if route is None:
                route = Route(b"not found", status=404)
            self.send_response(route.status)
            length = len(route.body) if route.content_length is None else route.content_length
            self.send_header("Content-Type", "application/octet-stream")
            if route.send_length:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            try:
                if route.trickle is None:
                    self.wfile.write(route.body)
                    self.wfile.flush()
                else:
                    for i in range(len(route.body)):
                        self.wfile.write(route.body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(route.trickle)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should
            # HTTP/1.0: the connection closes after the body, so a shorter
            # body than announced is a truncated transfer for the client.
            self.close_connection = True

        def log_message(self, format, *args):  # noqa: A002 (the http.server API)
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll interval: shutdown() waits up to one interval.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def listing(root: Path) -> list[str]:
    """Every path under root (relative, sorted), hidden ones included."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@functools.cache
def default_fixture() -> CifarFixture:
    return make_fixture()


@functools.cache
def binary_archive() -> bytes:
    """The default fixture as a cifar-10-binary.tar.gz."""
    return tar_gz(binary_members(default_fixture()))


@functools.cache
def python_archive() -> bytes:
    """The default fixture as a cifar-10-python.tar.gz."""
    return tar_gz(python_members(default_fixture()))


def closed_port_url(path: str = "/cifar-10-binary.tar.gz") -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
