from __future__ import annotations

import json

import pytest
import torch

from harness.workloads import WORKLOADS
from harness.workloads.sentence_similarity import pooling_of
from tests.workloads.helpers import task_spec

PAIRS = [
    ("A red fox is resting in a misty pine forest.", "A fox rests in a forest."),
    ("The weather today is sunny with a light breeze.",
     "The results were disappointing and the report was hard to read."),
]


@pytest.fixture(scope="module")
def workload(load_tiny):
    return WORKLOADS["sentence-similarity"](load_tiny("sentence-similarity"), task_spec("sentence-similarity"))


def test_both_sentences_are_embedded_and_compared_by_cosine(workload):
    output = workload.run_batch(PAIRS)
    expected = sum(len(workload.tokenizer(s)["input_ids"]) for pair in PAIRS for s in pair)
    assert (output.num_queries, output.input_tokens, output.output_tokens) == (2, expected, None)
    (similarity,) = output.outputs
    assert similarity.shape == (2,)
    model, tokenizer = workload.model, workload.tokenizer
    for index, (first, second) in enumerate(PAIRS):
        embeddings = []
        for sentence in (first, second):
            inputs = tokenizer(sentence, return_tensors="pt")
            with torch.no_grad():
                embeddings.append(model(**inputs).last_hidden_state[0].mean(dim=0))
        cosine = torch.nn.functional.cosine_similarity(embeddings[0], embeddings[1], dim=0)
        assert similarity[index].item() == pytest.approx(cosine.item(), abs=1e-5)  # padding changes nothing


def test_input_sizes_count_both_sentences(workload):
    assert workload.input_sizes(PAIRS) == [
        sum(len(workload.tokenizer(s)["input_ids"]) for s in pair) for pair in PAIRS
    ]


def test_the_demo_folders_pooling_config_is_read_and_recorded(workload, tiny_models_dir):
    assert workload.workload_settings == {"pooling": "mean"}
    assert pooling_of(str(tiny_models_dir / "sentence-similarity")) == "mean"


def test_a_cls_pooling_folder_pools_the_first_token(tmp_path, load_tiny):
    modules = [{"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    assert pooling_of(str(tmp_path)) == "cls"
    assert pooling_of(str(tmp_path / "missing")) == "mean"
    workload = WORKLOADS["sentence-similarity"](load_tiny("sentence-similarity"), task_spec("sentence-similarity"))
    workload.pooling = "cls"
    cls_similarity = workload.run_batch(PAIRS).outputs[0]
    mean_similarity = WORKLOADS["sentence-similarity"](load_tiny("sentence-similarity"),
                                                       task_spec("sentence-similarity")).run_batch(PAIRS).outputs[0]
    assert not torch.allclose(cls_similarity, mean_similarity)


def test_a_folders_pooling_is_read_from_where_it_loaded_while_its_id_is_clean(tmp_path, tiny_models_dir):
    """The result records a local folder by a clean id, never its path; the workload still reads the folder's own
    pooling config (from where the model was loaded)."""
    import shutil

    from harness.workloads import load_model

    folder = tmp_path / "cls-model"
    shutil.copytree(tiny_models_dir / "sentence-similarity", folder)
    (folder / "modules.json").write_text(json.dumps([{"path": "1_Pooling",
                                                      "type": "sentence_transformers.models.Pooling"}]))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    loaded = load_model("sentence-similarity", str(folder), dtype="float32", device="cpu")
    assert loaded.info["id"] == "cls-model"
    workload = WORKLOADS["sentence-similarity"](loaded, task_spec("sentence-similarity"))
    assert workload.workload_settings == {"pooling": "cls"}
