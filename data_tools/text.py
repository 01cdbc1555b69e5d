"""Text for the simulated fleet: the phrase, its hard negatives, and other speech.

Hard negatives are what make false accepts on custom wake words (openWakeWord's and Porcupine's
users' most common complaint): the phrase's parts said alone ("hey", "computer") and sound-alikes
with one syllable changed ("hey bomputer", "say computer"). Real words that sound alike ("hey
community") are in :mod:`data_tools.confusables`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from wakeword.errors import ParameterError

__all__ = [
    "SENTENCE_SOURCES",
    "example_sentence",
    "free_sentence",
    "is_word_string",
    "lexicon",
    "mentions",
    "normalize_phrase",
    "partials",
    "random_sentence",
    "soundalikes",
]

_VOWELS = "aeiouy"
_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "sh", "ch", "th")
_VOWEL_SWAPS = {
    "a": ("e", "o", "i"),
    "e": ("a", "i", "o"),
    "i": ("e", "a", "u"),
    "o": ("a", "u", "e"),
    "u": ("o", "a", "i"),
    "y": ("i", "ee", "o"),
    "ey": ("ay", "i", "o"),
    "ee": ("ay", "i", "oo"),
}

# Everyday words for "other speech" (no wake phrase). Sentences are built from them at random.
_SUBJECTS = (
    "I",
    "we",
    "you",
    "they",
    "my sister",
    "the neighbour",
    "our team",
    "the doctor",
    "my friend",
    "the children",
    "nobody",
    "everyone",
    "the driver",
    "her father",
)
_VERBS = (
    "want",
    "need",
    "forgot",
    "bought",
    "found",
    "moved",
    "cleaned",
    "painted",
    "ordered",
    "fixed",
    "opened",
    "closed",
    "watched",
    "called",
    "visited",
    "liked",
    "carried",
    "sold",
)
_OBJECTS = (
    "the car",
    "a new table",
    "the garden",
    "some bread",
    "the window",
    "a letter",
    "the kitchen",
    "two tickets",
    "the blue jacket",
    "a small boat",
    "the museum",
    "the bottle",
    "a birthday cake",
    "the old piano",
    "the bicycle",
    "a warm coat",
)
_TAILS = (
    "yesterday",
    "this morning",
    "after lunch",
    "last week",
    "on Sunday",
    "before dinner",
    "in the rain",
    "very quickly",
    "again",
    "for the first time",
    "at the station",
    "",
)
_OPENERS = ("okay", "so", "well", "listen", "by the way", "honestly", "you know", "please", "")
# Real speech holds thousands of words the templates above never say: "free" sentences draw from a
# large word list (Debian's wamerican, SCOWL: free for any use, installed by `make setup`), with the
# most common English words mixed in at about their share of running speech.
WORD_LIST = Path("/usr/share/dict/words")
# Or natural sentences: the example sentences of WordNet 3.0's glosses (Debian's wordnet-base,
# Princeton's license: any use; installed by `make setup`), "he was elected to a seat in the Senate".
WORDNET = Path("/usr/share/wordnet")
# What other people say, two kinds half and half (FleetConfig.sentences): everyday templates, free
# strings of dictionary words, WordNet's example sentences.
SENTENCE_SOURCES = ("templates+words", "templates+wordnet", "wordnet+words")
DEFAULT_SENTENCES = SENTENCE_SOURCES[0]
FREE_SHARE = 0.5  # of random sentences that are free word strings rather than templates
FREE_WORDS = (4, 12)  # words in a free sentence (inclusive range)
FUNCTION_SHARE = 0.4  # of a free sentence's words that are common function words
_COMMON = (
    "the", "of", "and", "to", "a", "in", "is", "it", "that", "was", "for", "on", "with", "he",
    "she", "they", "at", "be", "this", "have", "from", "or", "by", "but", "not", "what", "all",
    "were", "we", "when", "your", "can", "said", "there", "an", "which", "their", "if", "do",
    "will", "about", "how", "up", "out", "then", "them", "so", "some", "her", "would", "make",
    "like", "him", "into", "time", "has", "look", "two", "more", "go", "see", "no", "way", "could",
    "my", "than", "been", "who", "its", "now", "people", "down", "did", "get", "come", "made",
    "may", "over", "just", "know", "here", "very", "our",
)  # fmt: skip


def normalize_phrase(phrase: str) -> str:
    """Lower-case words separated by single spaces; letters, digits and apostrophes only.

    Raises
    ------
    ParameterError
        If nothing speakable is left.
    """
    words = re.findall(r"[a-z0-9']+", phrase.lower())
    if not words:
        raise ParameterError(
            f"phrase {phrase!r} has no words to speak; give English text like 'hey computer'"
        )
    return " ".join(words)


def partials(phrase: str) -> list[str]:
    """Every contiguous part of the phrase shorter than the whole, e.g. "hey", "computer".

    For a one-word phrase of two or more syllables, its first and last syllable-ish halves.
    """
    words = normalize_phrase(phrase).split()
    parts = {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}
    parts.discard(" ".join(words))
    if len(words) == 1:
        word = words[0]
        cut = _syllable_cut(word)
        if cut:
            parts.update({word[:cut], word[cut:]})
    return sorted(parts)


def soundalikes(
    phrase: str,
    *,
    limit: int = 12,
    rng: np.random.Generator | None = None,
    pronounce: Callable[[str], str] | None = None,
    consonants: Callable[[str], str] | None = None,
) -> list[str]:
    """Variants of the phrase with one word's onset or first vowel changed ("hey bomputer").

    Parameters
    ----------
    phrase : str
    limit : int
        At most this many variants.
    rng : np.random.Generator, optional
        Picks which variants when there are more than ``limit``; the first ``limit`` in a fixed
        order without one.
    pronounce : callable, optional
        Text to pronunciation (e.g. :func:`data_tools.tts.phonemes`): variants pronounced like the
        phrase (homophones such as "hay computer") are dropped, they are not negatives.
    consonants : callable, optional
        Text to the consonants it is said with (e.g. :func:`data_tools.tts.consonants`): variants
        with the phrase's consonants, only vowels changed ("camputer", "komputer"), are dropped
        too: people say vowels many ways ("kom-puter" is "computer" said as written).

    Returns
    -------
    list of str
        Distinct variants, none equal to the phrase.
    """
    base = normalize_phrase(phrase)
    words = base.split()
    per_word = [
        [" ".join([*words[:i], changed, *words[i + 1 :]]) for changed in _word_variants(word)]
        for i, word in enumerate(words)
    ]
    variants: list[str] = []
    for candidate in _round_robin(per_word):  # alternate words, so every word gets changed
        if candidate != base and candidate not in variants:
            variants.append(candidate)
    if pronounce is not None:
        said = pronounce(base)
        variants = [v for v in variants if pronounce(v) != said]
    if consonants is not None:
        kept = consonants(base)
        variants = [v for v in variants if consonants(v) != kept]
    if rng is not None and len(variants) > limit:
        picked = rng.choice(len(variants), size=limit, replace=False)
        return [variants[i] for i in sorted(picked)]
    return variants[:limit]


@functools.lru_cache(maxsize=1)
def lexicon() -> tuple[str, ...]:
    """The word list's plain lower-case words of 2-10 letters, in file order.

    Raises
    ------
    ParameterError
        If the word list is not installed.
    """
    if not WORD_LIST.is_file():
        raise ParameterError(f"{WORD_LIST} is missing: run `make setup` (Debian package wamerican)")
    text = WORD_LIST.read_text(encoding="utf-8", errors="ignore")
    return tuple(w for w in text.split() if re.fullmatch(r"[a-z]{2,10}", w))


def mentions(text: str, phrase: str) -> bool:
    """Whether ``text`` says ``phrase``: its words in order, each text word equal to the phrase's
    word or (for words of 3+ letters) starting with it ("computers" mentions "computer")."""
    said, words = normalize_phrase(text).split(), normalize_phrase(phrase).split()
    for i in range(len(said) - len(words) + 1):
        if all(s == w or (len(w) > 2 and s.startswith(w)) for s, w in zip(said[i:], words)):
            return True
    return False


def free_sentence(rng: np.random.Generator, *, avoid: str = "") -> str:
    """A string of 4-12 words from the word list and common function words, not mentioning ``avoid``."""
    words = lexicon()
    for _ in range(100):
        n = int(rng.integers(FREE_WORDS[0], FREE_WORDS[1] + 1))
        common = rng.uniform(size=n) < FUNCTION_SHARE
        picks = rng.integers(len(words), size=n)
        sentence = " ".join(
            _COMMON[int(p) % len(_COMMON)] if c else words[int(p)] for c, p in zip(common, picks)
        )
        if not (avoid.strip() and mentions(sentence, avoid)):
            return sentence
    raise ParameterError(f"cannot build sentences without {avoid!r}")


@functools.lru_cache(maxsize=1)
def wordnet_examples() -> tuple[str, ...]:
    """WordNet's example sentences of 3+ words, speakable characters only, in file order.

    Raises
    ------
    ParameterError
        If WordNet is not installed.
    """
    files = [WORDNET / f"data.{pos}" for pos in ("noun", "verb", "adj", "adv")]
    if not all(f.is_file() for f in files):
        raise ParameterError(f"{WORDNET} is missing: run `make setup` (Debian package wordnet-base)")
    examples = []
    for path in files:
        for line in path.read_text(encoding="latin-1").splitlines():
            gloss = line.partition(" | ")[2]  # the license header's lines have none
            for quoted in re.findall(r'"([^"]+)"', gloss):
                text = re.sub(r"\s+", " ", quoted.replace("...", " ")).strip(" ;,")
                if len(text.split()) >= 3 and re.fullmatch(r"[A-Za-z0-9 ,.;:!?'-]+", text):
                    examples.append(text)
    return tuple(examples)


def example_sentence(rng: np.random.Generator, *, avoid: str = "") -> str:
    """One or two of WordNet's example sentences (natural English), not mentioning ``avoid``."""
    examples = wordnet_examples()
    for _ in range(100):
        picks = rng.integers(len(examples), size=int(rng.integers(1, 3)))
        sentence = ", ".join(examples[int(i)] for i in picks)
        if not (avoid.strip() and mentions(sentence, avoid)):
            return sentence
    raise ParameterError(f"cannot build sentences without {avoid!r}")


def random_sentence(rng: np.random.Generator, *, avoid: str = "", source: str = DEFAULT_SENTENCES) -> str:
    """A sentence that does not mention ``avoid``, of either kind of ``source`` (half each):
    "templates" (everyday sentences: "I bought some bread yesterday"), "words" (free strings of
    words from a large word list: :func:`free_sentence`) or "wordnet" (WordNet's natural example
    sentences: :func:`example_sentence`)."""
    first, second = source.split("+")
    kind = second if rng.uniform() < FREE_SHARE else first
    if kind != "templates":
        return (free_sentence if kind == "words" else example_sentence)(rng, avoid=avoid)
    return _template_sentence(rng, avoid=avoid)


def is_word_string(text: str, *, source: str = DEFAULT_SENTENCES, commands: tuple[str, ...] = ()) -> bool:
    """Whether ``text``, one of :func:`random_sentence`'s (``source``) or one of ``commands``, is a
    free string of dictionary words (:func:`free_sentence`) rather than a natural sentence.

    Word strings say a rare word in almost every breath, far more often than people do: evaluation
    can report them like the hard negatives (``EvalConfig(word_strings_in_fa=False)``).
    """
    if "words" not in source.split("+") or text in commands:
        return False
    if "templates" in source.split("+"):
        return not set(text.lower().split()) <= _template_words()
    examples = _wordnet_set()
    parts = text.split(", ")
    return not (text in examples or any(
        ", ".join(parts[:i]) in examples and ", ".join(parts[i:]) in examples for i in range(1, len(parts))
    ))  # fmt: skip


@functools.lru_cache(maxsize=1)
def _wordnet_set() -> frozenset[str]:
    return frozenset(wordnet_examples())


@functools.lru_cache(maxsize=1)
def _template_words() -> frozenset[str]:
    parts = (*_OPENERS, *_SUBJECTS, *_VERBS, *_OBJECTS, *_TAILS)
    return frozenset(word.lower() for part in parts for word in part.split())


def _template_sentence(rng: np.random.Generator, *, avoid: str) -> str:
    avoid = normalize_phrase(avoid) if avoid.strip() else ""
    for _ in range(100):
        parts = [
            _OPENERS[rng.integers(len(_OPENERS))],
            _SUBJECTS[rng.integers(len(_SUBJECTS))],
            _VERBS[rng.integers(len(_VERBS))],
            _OBJECTS[rng.integers(len(_OBJECTS))],
            _TAILS[rng.integers(len(_TAILS))],
        ]
        sentence = " ".join(p for p in parts if p)
        if not avoid or f" {avoid} " not in f" {normalize_phrase(sentence)} ":
            return sentence
    raise ParameterError(f"cannot build sentences without {avoid!r}")


def _syllable_cut(word: str) -> int:
    """Index splitting a word after its first vowel group and the consonant that follows, or 0."""
    match = re.match(rf"^[^{_VOWELS}]*[{_VOWELS}]+[^{_VOWELS}]", word)
    if match and 1 < match.end() < len(word) - 1:
        return match.end()
    return 0


def _word_variants(word: str) -> list[str]:
    """One-change variants of a word: its first vowel swapped, or its onset replaced."""
    onset = re.match(r"^(y|[^aeiouy]*)", word).group(0)  # a leading "y" is a consonant
    rest = word[len(onset) :]
    onset_changes = [o + rest for o in _ONSETS if o != onset] if rest else []
    vowel_changes = []
    vowel = re.search(rf"[{_VOWELS}]+", rest)
    if vowel:
        group = vowel.group(0)
        key = group if group in _VOWEL_SWAPS else group[0]
        at = len(onset) + vowel.start()
        vowel_changes = [word[:at] + swap + word[at + len(key) :] for swap in _VOWEL_SWAPS.get(key, ())]
    return _round_robin([vowel_changes, onset_changes])


def _round_robin(lists: list[list[str]]) -> list[str]:
    out: list[str] = []
    for i in range(max((len(x) for x in lists), default=0)):
        out.extend(x[i] for x in lists if i < len(x))
    return out
