"""One workload runner per task kind: a plain dict, so the runner looks its workload up by the task's kind."""

from __future__ import annotations

from typing import Any

from harness.workloads.base import BatchOutput, Workload
from harness.workloads.chat_generation import ChatGenerationWorkload
from harness.workloads.image_captioning import ImageCaptioningWorkload
from harness.workloads.image_classification import ImageClassificationWorkload
from harness.workloads.image_generation import ImageGenerationWorkload
from harness.workloads.object_detection import ObjectDetectionWorkload
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
    "image-classification": ImageClassificationWorkload,
    "object-detection": ObjectDetectionWorkload,
    "image-captioning": ImageCaptioningWorkload,
    "speech-to-text": SpeechToTextWorkload,
}



def workload_class(spec: Any) -> type[Workload]:
    """The workload that runs a task: its kind's, or chat generation for a text-gen task in chat mode."""
    if spec.kind == "text-gen" and getattr(spec.generation, "mode", "fixed") == "chat":
        return ChatGenerationWorkload
    return WORKLOADS[spec.kind]


__all__ = [
    "WORKLOADS",
    "BatchOutput",
    "ChatGenerationWorkload",
    "ImageCaptioningWorkload",
    "ImageClassificationWorkload",
    "ImageGenerationWorkload",
    "ObjectDetectionWorkload",
    "QuestionAnsweringWorkload",
    "SentenceSimilarityWorkload",
    "SpeechToTextWorkload",
    "SummarizationWorkload",
    "TextClassificationWorkload",
    "TextGenerationWorkload",
    "Workload",
    "workload_class",
]
