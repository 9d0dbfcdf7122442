"""Built-in text pairs and speech-like clips, and datasets of two text columns or of WAV audio."""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
import wave

import numpy as np
import pytest

from harness.errors import ConfigError
from harness.results.schema import InputSetInfo
from harness.tasks import audio, text_pairs
from harness.tasks.inputs import builtin_inputs, builtin_items, dataset_inputs
from harness.tasks.spec import DatasetSource, parse_task

PINNED_SPEECH_SHA256_20 = "ddcb03fbb200f5cba45dc397631468e6fb45384721aa0eaa82100acec29dbfc5"
"""The first 20 built-in clips: numpy's legacy RandomState streams are frozen, so this holds on every machine."""


def _words(text: str) -> int:
    return len(text.split())


def test_qa_pairs_are_a_short_question_and_a_squad_length_context():
    pairs = builtin_items("question-answering", 300)
    assert all(isinstance(pair, tuple) and len(pair) == 2 for pair in pairs)
    questions, contexts = [_words(q) for q, _ in pairs], [_words(c) for _, c in pairs]
    assert min(contexts) >= text_pairs.CONTEXT_WORDS[0] and max(contexts) <= text_pairs.CONTEXT_WORDS[1]
    assert min(questions) >= text_pairs.QUESTION_WORDS[0] and max(questions) <= text_pairs.QUESTION_WORDS[1]
    assert 9 <= statistics.mean(questions) <= 14 and 125 <= statistics.mean(contexts) <= 150
    assert all(q.endswith("?") for q, _ in pairs[:50] if _words(q) < text_pairs.QUESTION_WORDS[1])


def test_similarity_pairs_are_two_short_sentences_often_about_the_same_thing():
    pairs = builtin_items("sentence-similarity", 300)
    lengths = [_words(s) for pair in pairs for s in pair]
    low, high = text_pairs.SENTENCE_WORDS
    assert min(lengths) >= low and max(lengths) <= high and 9 <= statistics.mean(lengths) <= 14
    shared = [len(set(a.lower().split()) & set(b.lower().split())) for a, b in pairs]
    related = sum(count >= 3 for count in shared)
    assert 0.3 * len(pairs) <= related <= 0.8 * len(pairs)  # half related by construction, half drawn apart


@pytest.mark.parametrize("kind", ["question-answering", "sentence-similarity", "speech-to-text"])
def test_a_set_prefix_is_stable_and_its_info_validates(kind):
    few = builtin_inputs(kind, 3)
    assert few.items == builtin_items(kind, 12)[:3]
    InputSetInfo.model_validate(few.info)


def test_speech_clips_are_pinned_and_their_durations_follow_the_reference_shape():
    assert builtin_inputs("speech-to-text", 20).info["sha256"] == PINNED_SPEECH_SHA256_20
    random = np.random.RandomState(7)
    durations = [audio.clip_duration_s(random) for _ in range(5000)]
    assert min(durations) >= audio.MIN_DURATION_S and max(durations) <= audio.MAX_DURATION_S
    assert 7.0 <= statistics.mean(durations) <= 12.0 and 7.0 <= statistics.median(durations) <= 9.0
    assert max(durations) > 25.0  # some long utterances, as in read-speech sets


def test_a_clip_is_speech_shaped_sound_with_pauses():
    clip = builtin_items("speech-to-text", 1)[0]
    assert clip.sampling_rate == 16_000 and clip.pcm.dtype == np.int16
    samples = clip.samples()
    assert samples.dtype == np.float32 and np.abs(samples).max() <= 0.51
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)  # 10 ms frames
    loudness = np.sqrt((frames**2).mean(axis=1))
    quiet = (loudness < 0.01).mean()
    assert 0.05 < quiet < 0.6  # pauses between words, but mostly voiced
    spectrum = np.abs(np.fft.rfft(samples[:16_000 * 2]))
    frequencies = np.fft.rfftfreq(16_000 * 2, 1 / 16_000)
    assert spectrum[(frequencies > 80) & (frequencies < 4000)].sum() > 20 * spectrum[frequencies > 5000].sum()


# --------------------------------------------------------------------------------------------- datasets


def _wav(samples: np.ndarray, rate: int = 16_000, channels: int = 1, width: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        dtype = {1: np.uint8, 2: "<i2", 4: "<i4"}[width]
        scale = {1: 127, 2: 32767, 4: 2**31 - 1}[width]
        offset = 128 if width == 1 else 0
        writer.writeframes((np.round(samples * scale) + offset).astype(dtype).tobytes())
    return buffer.getvalue()


TONE = np.sin(2 * np.pi * 220 * np.arange(8000) / 16_000) * 0.5


def test_pair_columns_are_read_as_tuples_and_recorded(tmp_path):
    path = tmp_path / "qa.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "context", "id"])
        writer.writerow(["Who voted?", "The council voted on Tuesday.", "1"])
        writer.writerow(["When?", "On Tuesday.", "2"])
    inputs = dataset_inputs(DatasetSource(path=str(path), columns=["question", "context"]), 2, "question-answering")
    assert inputs.items == (("Who voted?", "The council voted on Tuesday."), ("When?", "On Tuesday."))
    assert inputs.info["column"] == "question,context"
    InputSetInfo.model_validate(inputs.info)
    with pytest.raises(ConfigError, match="no column 'answer'"):
        dataset_inputs(DatasetSource(path=str(path), columns=["question", "answer"]), 2, "question-answering")


def test_an_empty_text_in_a_pair_is_refused(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"sentence1": "A cat.", "sentence2": ""}) + "\n")
    with pytest.raises(ConfigError, match="row 0 of column 'sentence1,sentence2' is not non-empty text"):
        dataset_inputs(DatasetSource(path=str(path), columns=["sentence1", "sentence2"]), 1, "sentence-similarity")


@pytest.mark.parametrize(
    ("task", "dataset", "says"),
    [
        ("question-answering", {"path": "a.csv", "column": "question"}, "names two columns"),
        ("speech-to-text", {"path": "a.csv", "columns": ["a", "b"]}, "names one column"),
        ("sentence-similarity", {"path": "a.csv"}, "either dataset.column"),
        ("sentence-similarity", {"path": "a.csv", "column": "a", "columns": ["a", "b"]}, "either dataset.column"),
    ],
)
def test_a_dataset_with_the_wrong_number_of_columns_is_one_line(task, dataset, says):
    data = {"id": task, "version": "1", "kind": task, "description": "d", "dataset": dataset, "sources": {"a": "b"},
            "max_input_tokens": None if task == "speech-to-text" else 64}
    with pytest.raises(ConfigError, match=says) as caught:
        parse_task(data)
    assert "\n" not in str(caught.value)


def test_speech_settings_stay_fixed_length_and_take_no_token_limit():
    base = {"id": "s", "version": "1", "kind": "speech-to-text", "description": "d", "sources": {"a": "b"}}
    with pytest.raises(ConfigError, match="must equal max_new_tokens"):
        parse_task({**base, "generation": {"min_new_tokens": 3, "max_new_tokens": 9}})
    with pytest.raises(ConfigError, match="max_input_tokens does not apply"):
        parse_task({**base, "max_input_tokens": 10})
    with pytest.raises(ConfigError, match="mode"):
        parse_task({**base, "generation": {"mode": "chat", "min_new_tokens": 1, "max_new_tokens": 9}})
    spec = parse_task({**base, "generation": {"language": "fr"}})
    assert spec.model_dump(mode="json")["generation"]["language"] == "fr"  # kept when the spec is recorded


def test_wav_paths_are_read_relative_to_the_dataset_file(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.wav").write_bytes(_wav(TONE))
    (tmp_path / "clips" / "b.wav").write_bytes(_wav(np.stack([TONE, TONE], axis=1).ravel(), channels=2))
    (tmp_path / "c.wav").write_bytes(_wav(TONE[::2], rate=8000, width=4))
    rows = [{"audio": "clips/a.wav"}, {"audio": "clips/b.wav"}, {"audio": str(tmp_path / "c.wav")}]
    path = tmp_path / "speech.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    inputs = dataset_inputs(DatasetSource(path=str(path), column="audio"), 3, "speech-to-text")
    a, b, c = inputs.items
    assert a.duration_s == b.duration_s == pytest.approx(0.5) and c.duration_s == pytest.approx(0.5)
    assert np.array_equal(a.pcm, b.pcm)  # stereo averaged to mono
    assert np.abs(c.samples() - TONE.astype(np.float32))[:-2].max() < 0.02  # 8 kHz resampled to 16 kHz
    assert inputs.info["column"] == "audio" and inputs.info["source"] == "file"


def test_a_parquet_audio_column_of_bytes_is_decoded_without_torchcodec(tmp_path):
    import datasets

    path = tmp_path / "speech.parquet"
    table = datasets.Dataset.from_dict({"audio": [{"bytes": _wav(TONE), "path": "tone.wav"}]})
    table.cast_column("audio", datasets.Audio(decode=False)).to_parquet(str(path))
    (clip,) = dataset_inputs(DatasetSource(path=str(path), column="audio"), 1, "speech-to-text").items
    assert clip.duration_s == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"fLaC\x00\x00\x00\x22", "is FLAC audio: only WAV"),
        (b"RIFF\x10\x00\x00\x00WAVEjunk", "is not a readable WAV file"),
        (None, "cannot be read"),
        ("fifo", "cannot be read .*not a regular file"),
        ("device", "cannot be read .*not a regular file"),
    ],
)
def test_an_undecodable_clip_is_one_line_naming_the_row(tmp_path, content, says):
    if content == "fifo":
        os.mkfifo(tmp_path / "bad.wav")  # read whole, it would hang the run
    elif content == "device":
        os.symlink("/dev/zero", tmp_path / "bad.wav")  # read whole, it would never end
    elif content is not None:
        (tmp_path / "bad.wav").write_bytes(content)
    path = tmp_path / "speech.jsonl"
    path.write_text(json.dumps({"audio": "bad.wav"}) + "\n")
    with pytest.raises(ConfigError, match=says) as caught:
        dataset_inputs(DatasetSource(path=str(path), column="audio"), 1, "speech-to-text")
    assert "row 0 of column 'audio'" in str(caught.value) and "\n" not in str(caught.value)
