"""Word count: ``word<TAB>count`` for every word in the input text lines.

Words are the input lowercased (ASCII ``A``-``Z`` only) and split on every byte that is not
``[a-z0-9]`` (``sandmill.text.ascii_words``): the same output, byte for byte, as the Rust
``plugins/wordcount``.
"""

from collections import Counter

import sandmill
from sandmill import codec, text


class WordCount(sandmill.Job):
    # The host adds the counts of a word natively, before and after the shuffle.
    combiner = sandmill.Merge.SUM

    def map_batch(self, batch, out):
        # The fast path: tokenise the whole batch in one call and count it in a Counter, so
        # the host gets one pair per distinct word of the batch instead of one per word (the
        # output is the same: the host sums the counts anyway).
        out.emit_counts(Counter(text.ascii_words(b" ".join(batch.lines()))))

    def map(self, record, out):
        # What map_batch does, one record at a time (used by nothing here but tests).
        for word in text.ascii_words(record.bytes):
            out.emit(word, codec.i64_key(1))

    def reduce_batch(self, groups, out):
        # The fast path: every group's counts summed in one pass over the batch.
        for word, count in groups.sums_i64():
            out.fields(word, count)

    def reduce(self, word, counts, out):
        # What reduce_batch does, one group at a time (used by nothing here but tests).
        out.fields(word, counts.sum_i64())
