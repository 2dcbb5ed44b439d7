"""The errors a job raises on purpose, and how any exception becomes the message the host shows.

Raise :class:`RecordError` when one input record (in ``map``) or one key (in ``reduce``) is
bad: the host names its file and line, or its key, exits with status 3 (bad input), and
``sandmill run --max-bad-records N`` can set such records aside. The SDK's own parsers
(``Record.parse``, ``codec.decode_i64``, ...) raise it too. Raise :class:`ParamsError` from
``configure`` for a bad ``--param`` (status 2). Any other exception is the job's own fault: it
fails the job (status 4) with the exception, the record or key at hand, and the traceback, cut
to about 3 KiB (the host keeps 4 KiB of a plugin's text).
"""

import os
import traceback

__all__ = ["RecordError", "ParamsError", "JobFailed"]


class RecordError(Exception):
    """One record (in ``map``) or one key group (in ``reduce`` or ``combine``) is bad."""


class ParamsError(Exception):
    """The job's ``--param`` pairs are unusable (raise it from ``configure``)."""


class JobFailed(Exception):
    """The job as a whole cannot go on; not the fault of one record."""


#: The most bytes of one error message; the host cuts plugin text at 4 KiB.
MAX_MESSAGE = 3000

#: The most bytes of the exception's own text at the head of a message.
MAX_HEAD = 1200

#: This package's directory: its frames are left out of tracebacks (they are the same in every
#: job and say nothing about yours).
_SDK_DIR = os.path.dirname(os.path.abspath(__file__))


def is_about_a_record(exc):
    """Whether ``exc``, raised while processing one record or key, blames that record or key
    (rather than the job's code)."""
    return isinstance(exc, RecordError)


def _cut(text, limit):
    """``text`` cut to at most ``limit`` UTF-8 bytes, on a character boundary."""
    raw = text.encode("utf-8", "replace")
    if len(raw) <= limit:
        return text
    return raw[: max(limit - 3, 0)].decode("utf-8", "ignore") + "..."


def _job_frames(tb):
    """The frames of ``tb`` outside this package, as a ``traceback.StackSummary``."""
    frames = [f for f in traceback.extract_tb(tb)
              if not os.path.abspath(f.filename).startswith(_SDK_DIR + os.sep)]
    return traceback.StackSummary.from_list(frames)


def describe(exc, context=None):
    """The message the host shows for ``exc``: the exception (``ValueError: no digits``), the
    ``context`` line if any (``raised on record 3 of the batch: ...``), then its traceback, most recent call last, without this package's frames; the oldest frames are
    left out first when it is too long. Deliberate errors (:class:`RecordError` and friends) get
    only the line that raised them."""
    try:
        head = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if isinstance(exc, (RecordError, ParamsError, JobFailed)):
            # The SDK's own RecordErrors (a JSON record that does not parse, say) need no
            # "RecordError:" in front of them.
            head = str(exc) or type(exc).__name__
        head = _cut(head, MAX_HEAD)
        if context:
            head = f"{head}\n({_cut(context, 400)})"
        frames = _job_frames(exc.__traceback__)
        if isinstance(exc, ParamsError):
            # Said to the person who typed the --param, not to the job's author.
            return head
        if isinstance(exc, (RecordError, JobFailed)):
            if not frames:
                return head
            last = frames[-1]
            return _cut(f"{head} (at {last.filename}, line {last.lineno}, in {last.name})",
                        MAX_MESSAGE)
        lines = [line.rstrip("\n") for line in frames.format()]
        if not lines:
            return head
        # The first frames (where the job was entered) and as many of the last (where it
        # raised) as fit; the middle of a deep recursion is left out.
        budget = MAX_MESSAGE - len(head.encode()) - 120
        first = []
        for line in lines[:2]:
            size = len(line.encode()) + 1
            if size > budget // 3:
                break
            first.append(line)
            budget -= size
        last = []
        for line in reversed(lines[len(first):]):
            size = len(line.encode()) + 1
            if size > budget:
                break
            last.append(line)
            budget -= size
        last.reverse()
        left_out = len(lines) - len(first) - len(last)
        middle = [f"  [... {left_out} frames left out ...]"] if left_out else []
        return _cut("\n".join([head, "Traceback (most recent call last):", *first, *middle,
                               *last]), MAX_MESSAGE)
    except BaseException:  # noqa: BLE001 - out of memory, say: say what we can
        return _cut(f"{type(exc).__name__} (its message could not be formatted)", MAX_MESSAGE)
