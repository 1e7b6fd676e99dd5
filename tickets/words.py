"""Chinese words of a citizen's text, for knowledge-base search and hotspot counting.

jieba segments the text; the city's dictionary (`data/city_words.txt`) keeps the hotline's own
terms whole (公积金, 居住证, 噪音扰民…) and a short stop list drops words that say nothing
about the matter. The dictionary loads once, on first use (about a second); `load()` lets a
server pay that at start-up instead of on its first request.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import jieba

CITY_WORDS = Path(__file__).parent / "data" / "city_words.txt"

# Words so common in complaints that counting them would only measure volume.
STOP_WORDS = frozenset((Path(__file__).parent / "data" / "stop_words.txt").read_text().split())
_WORD = re.compile(r"[\u4e00-\u9fff]{2,}|[A-Za-z][A-Za-z0-9]+|\d{3,}")

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def load() -> jieba.Tokenizer:
    """The tokenizer with the city's dictionary, built once per process."""
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            logging.getLogger("jieba").setLevel(logging.WARNING)  # no banner on every start
            jieba.setLogLevel(logging.WARNING)
            tk = jieba.Tokenizer()
            tk.initialize()
            with CITY_WORDS.open("rb") as f:
                tk.load_userdict(f)
            _tokenizer = tk
        return _tokenizer


def terms(text: str) -> list[str]:
    """The meaningful words of `text`, in order, repeats kept (for counting)."""
    return [w for w in load().lcut(text or "") if _WORD.fullmatch(w) and w not in STOP_WORDS]


def query_terms(text: str) -> list[str]:
    """The distinct words of a search query, in order; the whole query if it has none."""
    seen = dict.fromkeys(load().lcut(text or ""))
    found = [w for w in seen if _WORD.fullmatch(w) and w not in STOP_WORDS]
    return found or ([text.strip()] if text.strip() else [])
