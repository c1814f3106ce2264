"""The Chinese edition's search: the glossary's terms as words, and an index built in
linear time.

Sphinx splits Chinese text into words with jieba (``jieba.cut_for_search``), and the search
page looks a query up as typed, without splitting it. A term jieba does not know, such as
梯度消失, is indexed only as its parts (梯度, 消失), so a reader who searches for the term
finds nothing. Every Chinese term of the book's glossary is added to jieba's dictionary
before the index is built, so each is indexed whole as well as in parts.
"""

from __future__ import annotations

import re
from pathlib import Path

# a glossary entry's first line, e.g. "vanishing gradient (梯度消失)" or
# "dead ReLU (神经元坏死 / 死亡 ReLU)"
TERM_LINE = re.compile(r"^\S[^\n(]*\(([^)]*[\u4e00-\u9fff][^)]*)\)\s*$", re.M)
HAN = re.compile(r"[\u4e00-\u9fff]+")


def glossary_terms(glossary: Path) -> list[str]:
    terms = []
    for inside in TERM_LINE.findall(glossary.read_text(encoding="utf-8")):
        for part in re.split(r"[/,，、]", inside):
            words = HAN.findall(part)
            if words and len(words) == 1 and len(words[0]) > 1:
                terms.append(words[0])
    return terms


class _Terms(list):
    """A list with set-speed membership. Sphinx's Chinese search keeps every Latin word of
    the book in a list, ``latin_terms``, and asks ``word in latin_terms`` for each word it
    indexes: quadratic, about 7 of the Chinese build's 30 s here. Same contents, same
    answers, found in constant time."""

    def __init__(self, *args):
        super().__init__(*args)
        self._members = set(self)

    def append(self, item):
        super().append(item)
        self._members.add(item)

    def extend(self, items):
        items = list(items)
        super().extend(items)
        self._members.update(items)

    def __contains__(self, item):
        return item in self._members


def _add_terms(app):
    if not (app.config.language or "").startswith("zh"):
        return
    import jieba  # noqa: PLC0415 (only the Chinese build needs it)
    from sphinx.search.zh import SearchChinese  # noqa: PLC0415

    SearchChinese.latin_terms = _Terms(SearchChinese.latin_terms)

    jieba.setLogLevel(60)  # no "Building prefix dict" chatter on stderr
    for term in glossary_terms(Path(app.srcdir) / "glossary.md"):
        jieba.add_word(term)


def setup(app):
    app.connect("builder-inited", _add_terms)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
