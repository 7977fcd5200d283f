"""Which language a post is written in — cheaply, and enough to tell whether an English-only model reads it.

Cheapest first:
1. no letters at all (emoji, numbers, links only): "und" (undetermined);
2. mostly Latin letters and at least two common English function words ("the", "and", "is"…): "en";
3. mostly Latin letters, no letter outside ASCII and no function word common in another
   Latin-script language ("der", "que", "yang"…): "en" — keyword lists and very short posts say too
   little to tell, and scoring them beats dropping them;
4. otherwise py3langid (langid.py's model, shipped inside the package: no download), restricted to the
   languages posts are commonly written in, on the text without links, mentions and `#`. A Latin-script
   text it is unsure of (below CONFIDENT) counts as English; a text in another script never does.
Steps 2 and 3 keep the model (about 150 µs a post) off most English posts.
"""

from __future__ import annotations

import functools
import re

from py3langid.langid import MODEL_FILE, LanguageIdentifier

UNDETERMINED = "und"
CONFIDENT = 0.5
LANGUAGES = (
    "en", "de", "es", "fr", "it", "pt", "nl", "ru", "uk", "be", "pl", "cs", "sk", "sl", "hr", "sr", "bs", "bg", "mk",
    "ro", "hu", "el", "tr", "az", "ar", "fa", "ur", "he", "hi", "bn", "ta", "te", "mr", "zh", "ja", "ko", "th", "vi",
    "id", "ms", "tl", "sv", "da", "no", "nn", "fi", "et", "lv", "lt", "is", "ca", "eu", "gl", "ga", "cy", "af", "sw",
    "ka", "hy", "kk", "uz", "sq", "mt",
)
_ENGLISH = frozenset({
    "the", "and", "to", "of", "is", "in", "it", "you", "that", "for", "on", "with", "this", "are", "was", "be",
    "have", "not", "but", "what", "my", "we", "they", "he", "she", "his", "her", "i", "me", "at", "by", "from", "or",
    "an", "as", "so", "if", "just", "all", "about", "can", "will", "do", "get", "out", "up", "no", "your", "our",
    "their", "there",
})
# frequent function words of other Latin-script languages, none of them an English word, name or acronym
_OTHER = frozenset({
    "el", "es", "los", "las", "que", "una", "por", "para", "del", "muy", "pero", "como", "más", "esta", "este",  # es
    "le", "les", "des", "est", "une", "pour", "pas", "qui", "dans", "sur", "avec", "ce", "sont", "mais", "très",  # fr
    "der", "das", "und", "ist", "nicht", "ein", "eine", "ich", "auf", "für", "zu", "dem", "sich", "auch", "noch",  # de
    "il", "gli", "che", "di", "è", "per", "non", "sono", "della", "questo", "anche",  # it
    "uma", "não", "com", "em", "ao", "ela", "eles", "isso", "muito",  # pt
    "het", "dit", "een", "niet", "van", "voor", "ook", "maar", "zijn",  # nl
    "yang", "ini", "itu", "dengan", "untuk", "tidak", "saya", "akan",  # id, ms
    "bir", "bu", "için", "çok", "gibi",  # tr
    "nie", "się", "jest", "że", "jak",  # pl
    "och", "att", "det", "som", "är", "inte", "på", "og", "ikke", "jeg",  # sv, no, da
    "și", "nu", "în", "pentru",  # ro
})
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+|\d+")
_WORD = re.compile(r"[^\W\d_]+")
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")


@functools.cache
def _identifier() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(LANGUAGES)
    return identifier


def language_of(text: str) -> str:
    """An ISO 639-1 code for the text's language ("en", "ru"…), or "und" when it has no words."""
    letters = sum(1 for c in text if c.isalpha())
    if not letters:
        return UNDETERMINED
    latin = len(_LATIN.findall(text)) * 2 >= letters
    words = {w.lower() for w in _WORD.findall(text)}
    if latin and len(_ENGLISH & words) >= 2:
        return "en"
    if latin and text.isascii() and not _OTHER & words:
        return "en"
    cleaned = _NOISE.sub(" ", text).strip()
    if not any(c.isalpha() for c in cleaned):
        return UNDETERMINED
    language, confidence = _identifier().classify(cleaned)
    if latin and language != "en" and confidence < CONFIDENT:
        return "en"
    return str(language)
