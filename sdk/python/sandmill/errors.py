"""The errors a job raises on purpose, and how any exception becomes the message the host shows.

Raise :class:`RecordError` when one input record (in ``map``) or one key (in ``reduce``) cannot
be processed: the host names its file and line, or its key, and ``sandmill run
--max-bad-records N`` can set it aside. Raise :class:`ParamsError` from ``configure`` for a bad
``--param``, and :class:`JobFailed` when the whole job is at fault. Any other exception counts as
a :class:`RecordError` of the record or key at hand, except the ones no record causes
(``MemoryError``, ``RecursionError``, ``SystemExit``, ...), which fail the job; either way its
message carries the traceback, cut to about 3 KiB (the host keeps 4 KiB of a plugin's text).
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

#: Exceptions that are not about the record at hand even when raised while processing it.
NOT_ABOUT_A_RECORD = (MemoryError, RecursionError, JobFailed, ParamsError, SystemExit,
                      KeyboardInterrupt, GeneratorExit)

#: This package's directory: its frames are left out of tracebacks (they are the same in every
#: job and say nothing about yours).
_SDK_DIR = os.path.dirname(os.path.abspath(__file__))


def is_about_a_record(exc):
    """Whether ``exc``, raised while processing one record or key, blames that record or key."""
    return isinstance(exc, Exception) and not isinstance(exc, NOT_ABOUT_A_RECORD)


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


def describe(exc):
    """The message the host shows for ``exc``: the exception (``ValueError: no digits``) then
    its traceback, most recent call last, without this package's frames; the oldest frames are
    left out first when it is too long. Deliberate errors (:class:`RecordError` and friends) get
    only the line that raised them."""
    try:
        head = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if isinstance(exc, (RecordError, ParamsError, JobFailed)):
            # The SDK's own RecordErrors (a JSON record that does not parse, say) need no
            # "RecordError:" in front of them.
            head = str(exc) or type(exc).__name__
        head = _cut(head, MAX_HEAD)
        frames = _job_frames(exc.__traceback__)
        if isinstance(exc, (RecordError, ParamsError, JobFailed)):
            if not frames:
                return head
            last = frames[-1]
            return _cut(f"{head} (at {last.filename}, line {last.lineno}, in {last.name})",
                        MAX_MESSAGE)
        lines = [line.rstrip("\n") for line in frames.format()]
        budget = MAX_MESSAGE - len(head.encode()) - 80
        kept = []
        for line in reversed(lines):
            size = len(line.encode()) + 1
            if size > budget:
                break
            kept.append(line)
            budget -= size
        kept.reverse()
        left_out = len(lines) - len(kept)
        title = "Traceback (most recent call last"
        title += f"; {left_out} older frames left out):" if left_out else "):"
        if not lines:
            return head
        return _cut("\n".join([head, title, *kept]), MAX_MESSAGE)
    except BaseException:  # noqa: BLE001 - out of memory, say: say what we can
        return _cut(f"{type(exc).__name__} (its message could not be formatted)", MAX_MESSAGE)
