"""One workload runner per task kind: a plain dict, so the runner looks its workload up by the task's kind."""

from __future__ import annotations

from harness.workloads.base import BatchOutput, Workload
from harness.workloads.image_generation import ImageGenerationWorkload
from harness.workloads.question_answering import QuestionAnsweringWorkload
from harness.workloads.sentence_similarity import SentenceSimilarityWorkload
from harness.workloads.speech_to_text import SpeechToTextWorkload
from harness.workloads.summarization import SummarizationWorkload
from harness.workloads.text_classification import TextClassificationWorkload
from harness.workloads.text_generation import TextGenerationWorkload

WORKLOADS: dict[str, type[Workload]] = {
    "text-gen": TextGenerationWorkload,
    "summarization": SummarizationWorkload,
    "text-classification": TextClassificationWorkload,
    "question-answering": QuestionAnsweringWorkload,
    "sentence-similarity": SentenceSimilarityWorkload,
    "image-gen": ImageGenerationWorkload,
    "speech-to-text": SpeechToTextWorkload,
}

__all__ = [
    "WORKLOADS",
    "BatchOutput",
    "ImageGenerationWorkload",
    "QuestionAnsweringWorkload",
    "SentenceSimilarityWorkload",
    "SpeechToTextWorkload",
    "SummarizationWorkload",
    "TextClassificationWorkload",
    "TextGenerationWorkload",
    "Workload",
]
