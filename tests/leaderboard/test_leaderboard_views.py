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
