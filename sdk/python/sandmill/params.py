"""A job's parameters: the ``sandmill run --param key=value`` pairs, read in ``configure``."""

from .errors import ParamsError

__all__ = ["Params"]


class Params:
    """The ``--param`` pairs, in the order given; a later pair with the same key wins."""

    __slots__ = ("_pairs",)

    def __init__(self, pairs=()):
        self._pairs = [(str(k), str(v)) for k, v in pairs]

    def get(self, key, default=None):
        """The value of ``key`` (the last one given), or ``default``."""
        for k, v in reversed(self._pairs):
            if k == key:
                return v
        return default

    def parse_or(self, key, default, parse=None):
        """The value of ``key`` parsed by ``parse`` (default: the type of ``default``, so
        ``parse_or("min", 2)`` gives an ``int``), or ``default`` when it is absent. A
        :class:`ParamsError` naming the pair when it does not parse."""
        value = self.get(key)
        if value is None:
            return default
        parse = parse or type(default)
        try:
            return parse(value)
        except (ValueError, TypeError) as e:
            raise ParamsError(f"--param {key}={value}: {e}") from None

    def expect_only(self, *known):
        """A :class:`ParamsError` naming the first key that is not one of ``known``."""
        for k, _ in self._pairs:
            if k not in known:
                if not known:
                    raise ParamsError(f"unknown parameter {k!r}: this job takes none")
                raise ParamsError(f"unknown parameter {k!r}: this job takes {', '.join(known)}")

    def __iter__(self):
        return iter(self._pairs)

    def __len__(self):
        return len(self._pairs)
