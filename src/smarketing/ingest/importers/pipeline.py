"""The parse stage of an import: file rows in, records and problems out, a chunk at a time.

Pure (no database): `parse_chunks` reads the file from the row after a checkpoint and parses
each row with the importer's bound `RowParser`, in file order. `parsed_chunks` runs it either
in this process or, for large files, in a child process that parses the next chunk while the
caller writes the current one (an import has two cores' worth of work: parsing, and merging
and writing). Either way the caller sees the same chunks, in the same order, with the same
records: the chunk, not the process, is the unit of checkpointing.

The child is a fresh interpreter (`subprocess`, not `multiprocessing`: nothing of this
process is inherited or re-imported, whatever its `__main__`); it gets the job on stdin and
writes each chunk to a pipe as soon as it is parsed, blocking while the pipe is full, so at
most about two chunks are in flight (memory stays bounded whatever the file size). An error in
the child (an unreadable row) reaches the caller after the chunks before it, as it would in one
process. When the caller stops (an error, Ctrl-C, a kill), the pipe closes and the child ends
at its next write.
"""

from __future__ import annotations

import gc
import itertools
import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from smarketing.ingest.importers.reader import CsvSource, open_rows, undecodable
from smarketing.ingest.importers.records import Record
from smarketing.ingest.importers.spec import RowParser
from smarketing.ingest.importers.values import Problem

CHILD_MIN_BYTES = 4 << 20
"""Files at least this large (about 20,000 HubSpot contacts) are parsed in a child process:
below it, starting one (about 0.4 s, mostly imports) costs more than it saves."""
_GC_THRESHOLD = 50_000

Parsed = Record | list[Problem]
"""One row parsed: a record, or the problems that reject it."""


@dataclass(frozen=True, slots=True)
class ParseJob:
    """What the parse stage needs, picklable so a child process can run it."""

    source: CsvSource
    parser: RowParser
    after_row: int
    """The checkpoint: rows up to this one are skipped (0 for a fresh run)."""
    chunk_rows: int


@dataclass(frozen=True, slots=True)
class ParsedChunk:
    rows: int
    """File rows in the chunk (each is one of `parsed`)."""
    last_row: int
    """The chunk's last file row: the checkpoint once it is written."""
    parsed: list[Parsed]
    bytes_read: int
    """How far into the file reading had got (for progress bars)."""


def parse_chunks(job: ParseJob) -> Iterator[ParsedChunk]:
    """Read and parse `job.source` after `job.after_row`, `job.chunk_rows` rows a chunk."""
    with open_rows(job.source) as rows:
        width = len(rows.header)
        check_bytes = not job.source.checked
        parse = job.parser
        pending = ((n, cells) for n, cells in rows.rows if n > job.after_row)
        while chunk := list(itertools.islice(pending, job.chunk_rows)):
            parsed = [
                parse_row(parse, width, check_bytes, job.source.encoding, row, cells)
                for row, cells in chunk
            ]
            yield ParsedChunk(len(chunk), chunk[-1][0], parsed, rows.bytes_read())


def parse_row(
    parse: RowParser, width: int, check_bytes: bool, encoding: str, row: int, cells: list[str]
) -> Parsed:
    """One row: rejected whole when it has more cells than the header or undecodable bytes."""
    if len(cells) > width and any(cell.strip() for cell in cells[width:]):
        reason = f"the row has {len(cells)} cells but the header has {width} columns"
        return [Problem(row, "(row)", reason)]
    if check_bytes and undecodable(cells):
        reason = f"the row has bytes that are not {encoding}; pass --encoding"
        return [Problem(row, "(row)", reason)]
    return parse(row, cells)


@contextmanager
def parsed_chunks(job: ParseJob, *, in_child: bool) -> Iterator[Iterator[ParsedChunk]]:
    """The chunks of `parse_chunks(job)`, parsed here or (`in_child`) in a child process."""
    if not in_child or not sys.executable:  # no interpreter to start (embedded Python)
        yield parse_chunks(job)
        return
    child = subprocess.Popen(  # a fresh interpreter: nothing inherited, no __main__ re-run
        [sys.executable, "-c", _CHILD_COMMAND],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        start_new_session=True,  # Ctrl-C is the parent's to handle
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        try:
            with child.stdin:
                pickle.dump(job, child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        except BrokenPipeError:
            raise _ended(child) from None
        yield _received(child.stdout, child)
    finally:
        child.stdout.close()  # the child's next write fails and it ends
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


_LENGTH = struct.Struct("<Q")
_CHILD_COMMAND = "from smarketing.ingest.importers.pipeline import child_main; child_main()"


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


@dataclass(frozen=True, slots=True)
class _Done:
    pass


def _received(stream: IO[bytes], child: subprocess.Popen[bytes]) -> Iterator[ParsedChunk]:
    while True:
        head = stream.read(_LENGTH.size)
        body = stream.read(_LENGTH.unpack(head)[0]) if len(head) == _LENGTH.size else b""
        if not body:
            raise _ended(child)
        message = pickle.loads(body)
        if isinstance(message, ParsedChunk):
            yield message
        elif isinstance(message, _Failed):
            raise message.error
        else:
            return


def _ended(child: subprocess.Popen[bytes]) -> RuntimeError:
    return RuntimeError(
        "the import's parse process ended unexpectedly "
        f"(exit code {child.wait(timeout=5)}); see its error output above"
    )


def child_main() -> None:
    """The child process: read the job from stdin, then write each parsed chunk to stdout
    (pickled, in file order), then `_Done`, or `_Failed` with the error that stopped it."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt `out`
    gc.set_threshold(_GC_THRESHOLD, *gc.get_threshold()[1:])
    job = pickle.load(sys.stdin.buffer)
    try:
        for chunk in parse_chunks(job):
            _send(out, chunk)
        _send(out, _Done())
    except (BrokenPipeError, ConnectionResetError):
        return  # the parent stopped reading
    except Exception as exc:  # handed to the parent, which raises it
        try:
            _send(out, _Failed(_portable(exc)))
        except (BrokenPipeError, ConnectionResetError):
            return
    try:
        out.close()
    except (BrokenPipeError, ConnectionResetError):
        return


def _portable(exc: Exception) -> Exception:
    """`exc` if it survives a pickle round trip (the parent can raise it as it is), else a
    `RuntimeError` naming it."""
    try:
        pickle.loads(pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # any error of pickling: the exception is not portable
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _send(out: IO[bytes], message: object) -> None:
    """One message: its length, then its pickle. Pickled whole before the first byte goes out,
    so the parent never waits on the child's pickling while it reads."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_LENGTH.pack(len(body)))
    out.write(body)
    out.flush()
