"""Built-in text pairs: question + context for question-answering, two sentences for sentence-similarity.

Both are drawn with the word lists and the seeded `_Draw` of `harness.tasks.inputs` (so they share its guarantees:
stable across Python versions, item i independent of the set's size). Lengths follow the reference sets' shape:

- question-answering: a context paragraph of `CONTEXT_WORDS` words (news-style sentences, as long as a SQuAD
  paragraph) and a question of `QUESTION_WORDS` words about it;
- sentence-similarity: two sentences of `SENTENCE_WORDS` words each, about the same subject half the time
  (STS-style pairs of related and unrelated sentences).
"""

from __future__ import annotations

from typing import Any

CONTEXT_WORDS = (120, 150)
QUESTION_WORDS = (6, 14)
SENTENCE_WORDS = (6, 18)

_QUESTIONS = (
    "What did the {org} in {city} announce on {weekday}?",
    "How many {plural_noun} does the {org} plan to {verb}?",
    "Who spoke for the {org} about the plan to {verb} {plural_noun}?",
    "By which year should the {org} finish the work on {plural_noun}?",
    "Which group across the region is expected to be affected by the plan?",
    "According to {source}, how did the number of {plural_noun} change?",
    "When will the {org} hold its next public meeting with residents?",
    "Why did {group} in {city} object to the {adj_news} plan?",
    "What role does {first_name} {last_name} have at the {org}?",
    "How long did the debate about the new {plural_noun} last before the vote?",
)
"""Questions a reader of the context would ask (the news templates' facts: who, what, how many, when)."""

_SENTENCE_PAIRS = (
    ("{first_name} {last_name} is {action} {setting}.", "A person is {action} {setting}."),
    ("{subject} is {action} {setting}.", "{subject} was seen {action} {setting} this {weekday}."),
    ("The {org} in {city} will {verb} its {plural_noun} next {month}.",
     "Next {month} the {org} plans to {verb} the {plural_noun} in {city}."),
    ("{group} in {city} are unhappy about the new {plural_noun}.",
     "Many {group} complained about the {plural_noun} in {city}."),
    ("The {feature} of this {product} is {pos_adj}.", "I found the {product} to have {pos_adj} {feature}."),
    ("{style} of {subject} {setting}.", "{subject} {setting}, shown in {style}."),
    ("Prices for {plural_noun} rose sharply over the past {period}.",
     "Over the last {period}, {plural_noun} became much more expensive."),
    ("{first_name} wants to learn about {topic} this {month}.",
     "This {month} {first_name} will start reading about {topic}."),
)
"""Sentence pairs that say about the same thing: filled with the same words they are a related (paraphrase-like)
pair; with the second sentence's words drawn afresh, an unrelated one."""


def _fill(draw: Any, template: str, values: dict[str, str]) -> str:
    """The template filled (`_Draw.fill_text`: slots from `values`, new ones drawn and remembered), capitalised."""
    text = draw.fill_text(template, values)
    return text[0].upper() + text[1:]


def _words_between(text: str, low: int, high: int) -> str:
    words = text.split()
    return " ".join(words[:high]) if len(words) >= low else text


def question_and_context(draw: Any, compose: Any) -> tuple[str, str]:
    """A (question, context) pair: a news paragraph of CONTEXT_WORDS words, and a question about its subject.

    `compose` is `harness.tasks.inputs._compose` (sentences until a target length, cut to exactly it).
    """
    context = compose(lambda: draw.fill("news_lead"), lambda: draw.fill("news_body"), draw.between(*CONTEXT_WORDS))
    question = _fill(draw, draw.pick(_QUESTIONS), {})
    return _words_between(question, *QUESTION_WORDS), context


def sentence_pair(draw: Any) -> tuple[str, str]:
    """Two sentences of SENTENCE_WORDS words: related (shared words) or not, with equal chance."""
    first_template, second_template = draw.pick(_SENTENCE_PAIRS)
    values: dict[str, str] = {}
    first = _fill(draw, first_template, values)
    if not draw.chance(0.5):
        values = {}
        second_template = draw.pick(_SENTENCE_PAIRS)[1]
    second = _fill(draw, second_template, values)
    return _words_between(first, *SENTENCE_WORDS), _words_between(second, *SENTENCE_WORDS)
