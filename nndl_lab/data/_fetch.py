"""Download a file to a verified temporary file, and extract a tar.gz safely.

Both steps write only to temporary names inside the destination directory
and remove them on any failure (including KeyboardInterrupt), so a later
call never finds a half-written file under a name it trusts.
"""

from __future__ import annotations

import hashlib
import http.client
import math
import os
import re
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from ._common import DataError, DownloadError, UnsafeArchiveError

_CHUNK_SIZE = 1 << 20
_MD5_RE = re.compile(r"[0-9a-f]{32}")
_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")

#: No download may be larger than this (the official archives are about 163 MB).
MAX_DOWNLOAD_BYTES = 256 * 2**20
#: Nor take longer than this in all, however slowly the server trickles bytes.
DOWNLOAD_DEADLINE = 3600.0
#: A transfer that brings fewer than STALL_BYTES in STALL_SECONDS has stalled.
STALL_SECONDS = 60.0
STALL_BYTES = 16 * 1024
#: Extraction limits: per member (a CIFAR-10 batch is about 31 MB) and in all.
MAX_MEMBER_BYTES = 64 * 2**20
MAX_EXTRACTED_BYTES = 256 * 2**20


def check_timeout(timeout) -> float:
    """Return ``timeout`` as a float, or raise a TypeError/ValueError naming it."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
    return float(timeout)


def check_url(url) -> str:
    """Return ``url``, or raise a TypeError/ValueError naming it (no spaces or control
    characters: a CR/LF would otherwise reach the HTTP request line)."""
    if not isinstance(url, str) or not url:
        raise TypeError(f"url must be a non-empty string or None, got {url!r}")
    if _URL_FORBIDDEN.search(url):
        raise ValueError(
            f"url must not contain spaces or control characters (CR, LF, ...), got {url!r}"
        )
    if "://" not in url:
        raise ValueError(f"url must be an absolute URL such as https://..., got {url!r}")
    return url


def file_mode() -> int:
    """The mode a new file gets from ``open`` here (0o666 minus the umask).

    Temporary files are created 0600; a file renamed into a shared cache gets
    this mode instead, so that other users can read it. The umask is read from
    ``/proc`` when possible (setting it to read it back is not thread-safe).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644


def check_md5(md5) -> str:
    """Return ``md5`` lower-cased, or raise a TypeError/ValueError naming it."""
    if not isinstance(md5, str):
        raise TypeError(f"md5 must be a string of 32 hex digits, got {md5!r}")
    if not _MD5_RE.fullmatch(md5.lower()):
        raise ValueError(f"md5 must be 32 hex digits, got {md5!r}")
    return md5.lower()


def md5_of_file(path) -> str:
    """Hex MD5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _progress_bar(*, total, desc, disable):
    # Imported here so that loading the digits never imports tqdm.
    from tqdm import tqdm

    return tqdm(
        total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=disable
    )


def _format_bytes(n: int) -> str:
    return f"{n:,} bytes"


def download_verified(
    url: str,
    dest_dir: Path,
    name: str,
    md5: str,
    *,
    progress,
    timeout,
    hint,
    deadline=None,
    max_bytes=None,
):
    """Download ``url`` into a temporary file in ``dest_dir`` and check its MD5.

    Parameters
    ----------
    url : str
        What to download (any scheme urllib supports).
    dest_dir : pathlib.Path
        Existing directory for the temporary file (same file system as the
        final name, so the caller can ``os.replace`` it into place).
    name : str
        The final file name: shown on the progress bar and used in the
        temporary file's name.
    md5 : str
        Expected lower-case hex MD5.
    progress : bool
        Show a tqdm progress bar on stderr.
    timeout : float
        Seconds to wait for the server on each network operation.
    hint : str
        How to retry; appended to every error message.
    deadline : float, optional
        Seconds the whole download may take (default :data:`DOWNLOAD_DEADLINE`);
        a transfer that brings fewer than :data:`STALL_BYTES` in
        :data:`STALL_SECONDS` is abandoned as stalled sooner.
    max_bytes : int, optional
        Refuse a body larger than this, announced or received (default
        :data:`MAX_DOWNLOAD_BYTES`).

    Returns
    -------
    pathlib.Path
        The verified temporary file (``.<name>.*.part``); the caller owns it.

    Raises
    ------
    DownloadError
        HTTP error status, unreachable server, lost connection, truncated
        transfer, a body over ``max_bytes``, the deadline passed, or checksum
        mismatch. The temporary file is removed.
    """
    deadline = DOWNLOAD_DEADLINE if deadline is None else deadline
    max_bytes = MAX_DOWNLOAD_BYTES if max_bytes is None else max_bytes
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            received, expected_size, digest = _stream(
                url, out, name, progress, timeout, hint, deadline, max_bytes
            )
        if expected_size is not None and received != expected_size:
            raise DownloadError(
                f"download of {url} was truncated: received {_format_bytes(received)} of "
                f"{_format_bytes(expected_size)}; the partial file was discarded. {hint}"
            )
        if digest != md5:
            raise DownloadError(
                f"checksum mismatch for {url}: expected MD5 {md5}, got {digest} "
                f"({_format_bytes(received)}); the file was discarded. {hint}"
            )
    except BaseException:
        # Also on KeyboardInterrupt: never leave a partial file behind.
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _stream(url, out, name, progress, timeout, hint, deadline, max_bytes):
    """Copy the response body to ``out``; return (received, Content-Length, md5)."""
    give_up_at = time.monotonic() + deadline
    window_start, window_bytes = time.monotonic(), 0
    request = urllib.request.Request(url, headers={"User-Agent": "nndl-lab"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DownloadError(
            f"download of {url} failed: the server answered HTTP {exc.code} {exc.reason}. {hint}"
        ) from exc
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"could not download {url}: {reason}. {hint}") from exc
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    with response:
        length = response.headers.get("Content-Length")
        expected_size = int(length) if length is not None and length.strip().isdigit() else None
        if expected_size is not None and expected_size > max_bytes:
            raise DownloadError(
                f"refused to download {url}: the server announces {_format_bytes(expected_size)}, "
                f"more than the {_format_bytes(max_bytes)} a CIFAR-10 archive can be. {hint}"
            )
        # read1 returns what one read from the socket gives, so the deadline is
        # checked even when a server trickles a byte at a time.
        read = getattr(response, "read1", response.read)
        bar = _progress_bar(total=expected_size, desc=name, disable=not progress)
        try:
            while True:
                now = time.monotonic()
                if now > give_up_at:
                    raise DownloadError(
                        f"download of {url} took longer than {deadline:g} s (received "
                        f"{_format_bytes(received)}); the partial file was discarded. {hint}"
                    )
                if now - window_start >= STALL_SECONDS:
                    if received - window_bytes < STALL_BYTES:
                        raise DownloadError(
                            f"download of {url} stalled: fewer than {_format_bytes(STALL_BYTES)} "
                            f"in {STALL_SECONDS:g} s (received {_format_bytes(received)}); the "
                            f"partial file was discarded. {hint}"
                        )
                    window_start, window_bytes = now, received
                try:
                    chunk = read(_CHUNK_SIZE)
                except http.client.IncompleteRead as exc:
                    # Newer Pythons raise here when the server closes early;
                    # keep the count so the truncation message is exact.
                    chunk = exc.partial
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    break
                except (OSError, http.client.HTTPException) as exc:
                    raise DownloadError(
                        f"download of {url} failed after {_format_bytes(received)}: {exc}; "
                        f"the partial file was discarded. {hint}"
                    ) from exc
                if not chunk:
                    break
                if received + len(chunk) > max_bytes:
                    raise DownloadError(
                        f"download of {url} exceeded {_format_bytes(max_bytes)}, more than a "
                        f"CIFAR-10 archive can be; the partial file was discarded. {hint}"
                    )
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        finally:
            bar.close()
    return received, expected_size, digest.hexdigest()


class LinkMemberError(tarfile.FilterError):
    """A tar member that is neither a regular file nor a directory."""

    def __init__(self, tarinfo):
        self.tarinfo = tarinfo
        super().__init__(
            f"member {tarinfo.name!r} is a link or special file; only regular files and "
            "directories are accepted"
        )


def _strict_filter(member: tarfile.TarInfo, dest_path: str) -> tarfile.TarInfo:
    # The standard "data" filter refuses paths outside the destination,
    # devices and links pointing outside; a data archive needs no links at
    # all, so refuse those too before delegating.
    if not (member.isreg() or member.isdir()):
        raise LinkMemberError(member)
    return tarfile.data_filter(member, dest_path)


def _limited_filter(keep, max_member_bytes, max_total_bytes):
    """The strict filter, plus: only members named in ``keep`` (None: all) are
    extracted, none larger than ``max_member_bytes``, all together at most
    ``max_total_bytes``."""
    total = [0]

    def extraction_filter(member, dest_path):
        member = _strict_filter(member, dest_path)
        if keep is not None and member.name.rstrip("/") not in keep:
            return None  # not part of the data set: skipped, never written
        if member.size > max_member_bytes:
            raise tarfile.FilterError(
                f"member {member.name!r} is {member.size:,} bytes, more than the "
                f"{max_member_bytes:,} a CIFAR-10 file can be"
            )
        total[0] += member.size
        if total[0] > max_total_bytes:
            raise tarfile.FilterError(
                f"the archive unpacks to more than {max_total_bytes:,} bytes, more than "
                "CIFAR-10 can be"
            )
        return member

    return extraction_filter


def safe_extract(
    archive: Path,
    dest_dir: Path,
    *,
    name: str,
    hint: str,
    keep=None,
    max_member_bytes=None,
    max_total_bytes=None,
) -> Path:
    """Extract a tar.gz into a new temporary directory inside ``dest_dir``.

    Every member must be a regular file or directory whose path stays inside
    the extraction directory (standard library ``data`` filter plus a ban on
    links) and no larger than the limits; otherwise nothing is kept. Members
    not named in ``keep`` are skipped.

    Parameters
    ----------
    archive : pathlib.Path
        The tar.gz file.
    dest_dir : pathlib.Path
        Existing directory in which to create the temporary directory.
    name : str
        The archive's name for messages (``archive`` may be a temporary file).
    hint : str
        How to retry; appended to every error message.
    keep : collection of str, optional
        Member names (as in the archive, without a trailing slash) to extract;
        None extracts every member.
    max_member_bytes, max_total_bytes : int, optional
        Size limits of one member and of all extracted members together
        (default :data:`MAX_MEMBER_BYTES`, :data:`MAX_EXTRACTED_BYTES`).

    Returns
    -------
    pathlib.Path
        The temporary directory (``.<name>.*.part``); the caller
        moves what it needs out of it and removes it.

    Raises
    ------
    UnsafeArchiveError
        A member escapes the directory or is a link/device, or this Python
        has no extraction filters (3.10.12+, 3.11.4+, 3.12+ have them).
    DataError
        The file is not a readable tar.gz archive.
    """
    if not hasattr(tarfile, "data_filter"):
        raise UnsafeArchiveError(
            "this Python's tarfile has no extraction filters (added in 3.10.12, 3.11.4 and "
            "3.12), so the archive cannot be extracted safely; upgrade Python. " + hint
        )
    max_member_bytes = MAX_MEMBER_BYTES if max_member_bytes is None else max_member_bytes
    max_total_bytes = MAX_EXTRACTED_BYTES if max_total_bytes is None else max_total_bytes
    tmp = Path(tempfile.mkdtemp(dir=dest_dir, prefix=f".{name}.", suffix=".part"))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            # Filter errors are fatal at errorlevel >= 1; say so explicitly.
            tar.errorlevel = 2
            tar.extractall(tmp, filter=_limited_filter(keep, max_member_bytes, max_total_bytes))
    except tarfile.FilterError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UnsafeArchiveError(
            f"refused to extract {name}: {exc}; nothing was kept. {hint}"
        ) from exc
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(
            f"{name} is not a readable tar.gz archive ({exc}); nothing was kept. " + hint
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp
