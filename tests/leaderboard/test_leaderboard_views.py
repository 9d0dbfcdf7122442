import pytest

from harness.results.schema import readable_model_name
from leaderboard.views import describe_query, settings_words, task_order, task_title


@pytest.mark.parametrize("model_id, name, shown", [
    ("org/model", None, "org/model"),
    ("/home/me/.cache/ai-energy-harness/demo-models/text-gen", None, "text-gen"),
    ("~/models/my-model/", None, "my-model"),
    ("C:\\Users\\me\\models\\bert", None, "bert"),
    ("/srv/models/x", "my-org/x", "my-org/x"),
    ("org/<script>alert(1)</script>", None, "org/<script>alert(1)</script>"),  # escaped later, never cut
])
def test_model_names_are_never_machine_paths(model_id, name, shown):
    assert readable_model_name(model_id, name) == shown


def test_tasks_have_human_names_in_a_reading_order():
    ids = ["image-gen", "text-classification", "summarization", "text-gen", "zz-custom"]
    kinds = {"zz-custom": "text-gen"}
    ordered = sorted(ids, key=lambda t: task_order(t, kinds.get(t, t)))
    assert ordered == ["text-gen", "zz-custom", "summarization", "text-classification", "image-gen"]
    assert task_title("summarization", "summarization") == "Summarisation"
    assert task_title("zz-custom", "text-gen") == "Text generation (zz-custom)"
    # The shipped chat task is a mode of text-gen, named for what it measures rather than as a custom task.
    assert task_title("text-gen-chat", "text-gen") == "Chat (answers at natural length)"


def test_a_query_and_the_settings_are_words():
    spec = {"max_input_tokens": 1024, "generation": {"min_new_tokens": 10, "max_new_tokens": 10}}
    assert describe_query("summarization", spec, 1) == (
        "One query: an article (at most 1024 tokens) summarised in exactly 10 new tokens (greedy decoding); "
        "1 query per batch.")
    forward = {**spec, "generation": {**spec["generation"], "mode": "forward"}}
    assert describe_query("summarization", forward, 1).startswith(
        "One query: an article (at most 1024 tokens) run through the model once")
    assert "new tokens" not in describe_query("summarization", forward, 1)
    image = describe_query("image-gen", {"generation": {"num_inference_steps": 30, "width": 512, "height": 512}}, 4)
    assert "512×512 image with 30 denoising steps; 4 queries per batch" in image
    assert settings_words('{"generation.max_new_tokens": 20}') == "max new tokens 20"
    assert settings_words("{}") == ""


def test_every_task_kind_has_a_title_in_the_vocabulary_order():
    from harness.kinds import TASK_KINDS
    from leaderboard.views import TASK_TITLES

    assert [kind for kind in TASK_TITLES if kind in TASK_KINDS] == [kind for kind in TASK_KINDS if kind in TASK_TITLES]
    assert set(TASK_KINDS) <= set(TASK_TITLES)


def test_an_image_query_is_words():
    assert describe_query("image-classification", {"generation": {}}, 1) == (
        "One query: an image sorted into a class with one forward pass (the model's image processor included); "
        "1 query per batch.")
    assert "boxes scored at least 0.5 (image processor, forward pass and post-processing)" in describe_query(
        "object-detection", {"generation": {"threshold": 0.5}}, 1)
    assert describe_query("image-captioning", {"generation": {"min_new_tokens": 10, "max_new_tokens": 10}}, 2) == (
        "One query: an image captioned in exactly 10 new tokens (greedy decoding); 2 queries per batch.")


def test_the_text_pair_and_speech_tasks_are_named_and_described_from_their_specs():
    from harness.kinds import TASK_KINDS
    from harness.tasks.registry import load_task
    from leaderboard.views import TASK_TITLES

    assert list(TASK_TITLES) == [kind for kind in TASK_KINDS if kind in TASK_TITLES]  # the vocabulary's order
    assert task_title("asr-long", "speech-to-text") == "Speech to text (asr-long)"
    qa = describe_query("question-answering", load_task("question-answering").model_dump(mode="json"), 1)
    assert qa == ("One query: a question and a context paragraph (at most 512 tokens), the answer span found in the "
                  "context with one forward pass; 1 query per batch.")
    pairs = describe_query("sentence-similarity", load_task("sentence-similarity").model_dump(mode="json"), 8)
    assert "two sentences (each at most 512 tokens) embedded and compared by cosine similarity; 8 queries" in pairs
    speech = describe_query("speech-to-text", load_task("speech-to-text").model_dump(mode="json"), 1)
    assert "transcribed into exactly 32 transcript tokens (en, transcribe)" in speech


# ---------------------------------------------------------------------------------------- from the kinds' descriptors

EXPECTED_TITLES = {
    "text-gen": "Text generation",
    "summarization": "Summarisation",
    "text-classification": "Text classification",
    "question-answering": "Question answering",
    "sentence-similarity": "Sentence similarity",
    "image-gen": "Image generation",
    "image-classification": "Image classification",
    "object-detection": "Object detection",
    "image-captioning": "Image captioning",
    "speech-to-text": "Speech to text",
}

SHIPPED_QUERIES = [
    ("text-gen", "One query: a prompt (at most 2048 tokens) answered with exactly 10 new tokens (greedy decoding); "
                 "1 query per batch."),
    ("text-gen-chat", "One query: a chat prompt (at most 2048 tokens) in the model's chat template, answered at the "
                      "model's natural length, up to 1024 tokens (greedy decoding); 1 query per batch."),
    ("summarization", "One query: an article (at most 1024 tokens) summarised in exactly 10 new tokens (greedy "
                      "decoding); 1 query per batch."),
    ("text-classification", "One query: a short text (at most 512 tokens) sorted into a class with one forward pass; "
                            "1 query per batch."),
    ("question-answering", "One query: a question and a context paragraph (at most 512 tokens), the answer span "
                           "found in the context with one forward pass; 1 query per batch."),
    ("sentence-similarity", "One query: two sentences (each at most 512 tokens) embedded and compared by cosine "
                            "similarity; 1 query per batch."),
    ("image-gen", "One query: a text prompt turned into one image with 30 denoising steps; 1 query per batch."),
    ("image-classification", "One query: an image sorted into a class with one forward pass (the model's image "
                             "processor included); 1 query per batch."),
    ("object-detection", "One query: an image's objects found as boxes scored at least 0.5 (image processor, forward "
                         "pass and post-processing); 1 query per batch."),
    ("image-captioning", "One query: an image captioned in exactly 10 new tokens (greedy decoding); 1 query per "
                         "batch."),
    ("speech-to-text", "One query: a speech clip of up to 30 seconds transcribed into exactly 32 transcript tokens "
                       "(en, transcribe), greedy decoding; 1 query per batch."),
]
"""What the site said of each shipped task before the words moved into the kinds' descriptors."""


def test_the_titles_come_from_the_descriptors_unchanged():
    from leaderboard.views import TASK_TITLES

    assert list(TASK_TITLES.items()) == list(EXPECTED_TITLES.items())


@pytest.mark.parametrize(("task_id", "expected"), SHIPPED_QUERIES)
def test_each_shipped_task_is_described_as_it_always_was(task_id, expected):
    from harness.tasks.registry import load_task

    spec = load_task(task_id)
    assert describe_query(spec.kind, spec.model_dump(mode="json"), spec.batch_size) == expected


@pytest.mark.parametrize(("kind", "expected"), [
    ("text-gen", "One query: a prompt answered with generated text (greedy decoding); 1 query per batch."),
    ("summarization", "One query: an article summarised in generated text (greedy decoding); 1 query per batch."),
    ("image-captioning", "One query: an image captioned in a caption (greedy decoding); 1 query per batch."),
    ("speech-to-text", "One query: a speech clip of up to 30 seconds transcribed into a transcript, greedy decoding; "
                       "1 query per batch."),
    ("image-gen", "One query: a text prompt turned into one image; 1 query per batch."),
    ("vision", "One query of task kind vision; 1 query per batch."),
])
def test_a_spec_that_records_no_settings_is_still_words(kind, expected):
    assert describe_query(kind, {"num_queries": 20}, 1) == expected


def test_a_mode_is_described_only_for_the_kinds_that_take_it():
    chat = {"generation": {"mode": "chat", "min_new_tokens": 1, "max_new_tokens": 8}}
    assert "chat prompt" in describe_query("text-gen", chat, 1)
    assert describe_query("summarization", chat, 1).startswith("One query: an article summarised in up to 8 new")
    forward = {"generation": {"mode": "forward"}}
    assert "run through the model once" in describe_query("summarization", forward, 1)
    assert "run through the model once" not in describe_query("text-gen", forward, 1)


def test_a_value_only_another_kind_reads_is_never_touched():
    # A threshold that is not a number would break the detection words, not a text-gen query's.
    odd = {"generation": {"threshold": "high", "min_new_tokens": 5, "max_new_tokens": 5}}
    assert describe_query("text-gen", odd, 1) == (
        "One query: a prompt answered with exactly 5 new tokens (greedy decoding); 1 query per batch.")
