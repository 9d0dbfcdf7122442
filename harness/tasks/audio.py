"""Audio inputs of speech-to-text: seeded, speech-like built-in clips, and WAV clips read from dataset rows.

A built-in clip is a procedural 16 kHz mono signal shaped like read speech, so a speech model's feature extractor
and encoder see what they would see on real speech (voiced syllables over a moving pitch, formant-shaped
harmonics, a syllable-rate loudness envelope, pauses between words and phrases, a low noise floor). It carries no
words: the workload's cost depends on the clip's duration and the fixed decoding, not on what is said.

Durations follow the reference sets' shape (AI Energy Score's speech-to-text set samples LibriSpeech, Common Voice
and People's Speech: utterances of a few seconds up to about half a minute): log-normal with a median of
`MEDIAN_DURATION_S`, cut to [`MIN_DURATION_S`, `MAX_DURATION_S`]. Every draw comes from numpy's legacy
`RandomState`, whose streams numpy keeps frozen across versions, seeded per clip.

Dataset rows hold a WAV file (a path, relative to a local dataset file, or `{bytes, path}` as `datasets` stores
audio undecoded). They are decoded with the standard library's `wave` (PCM, 8/16/24/32-bit, any channel count,
averaged to mono); a clip at another rate is resampled to 16 kHz by linear interpolation (enough to measure cost,
not to judge accuracy). Anything else (FLAC, MP3, Ogg, a broken file) is refused with one line before a model loads.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.files import read_bounded

SAMPLING_RATE = 16_000
"""Hz: what Whisper-family feature extractors take, and the rate of LibriSpeech."""

MEDIAN_DURATION_S = 8.0
DURATION_SIGMA = 0.55
"""Spread of the log-normal durations (the mean is about 9.3 s)."""
MIN_DURATION_S = 1.5
MAX_DURATION_S = 35.0

_INT16_MAX = 32767


@dataclass(frozen=True, eq=False)
class AudioClip:
    """One query's audio: mono 16-bit PCM samples at `sampling_rate` Hz (half the memory of float32)."""

    pcm: np.ndarray
    sampling_rate: int = SAMPLING_RATE

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / self.sampling_rate

    def samples(self) -> np.ndarray:
        """Float32 samples in [-1, 1], as feature extractors take them."""
        return self.pcm.astype(np.float32) / (_INT16_MAX + 1)

    def content_bytes(self) -> bytes:
        """Canonical bytes for the input set's hash: the rate (4 bytes, big-endian) then little-endian int16 PCM."""
        return self.sampling_rate.to_bytes(4, "big") + self.pcm.astype("<i2").tobytes()

    def __eq__(self, other: object) -> bool:  # the same sound, not the same array object
        return isinstance(other, AudioClip) and self.content_bytes() == other.content_bytes()

    def __hash__(self) -> int:
        return hash(self.content_bytes())


# --------------------------------------------------------------------------------------------- built-in clips


def clip_duration_s(random: np.random.RandomState) -> float:
    """A duration in seconds from the built-in set's distribution (rounded to whole milliseconds)."""
    value = math.exp(math.log(MEDIAN_DURATION_S) + DURATION_SIGMA * random.standard_normal())
    return round(min(MAX_DURATION_S, max(MIN_DURATION_S, value)), 3)


_FORMANTS_HZ = ((300, 900), (800, 2300), (2300, 3200))
"""Ranges of the first three formant centres (vowel-like resonances)."""


def speech_like_clip(seed: int) -> AudioClip:
    """A clip of speech-shaped sound whose duration, pitch and syllables all follow from `seed`."""
    random = np.random.RandomState(seed % 2**32)
    total = int(clip_duration_s(random) * SAMPLING_RATE)
    signal = np.zeros(total, dtype=np.float64)
    base_f0 = random.uniform(95.0, 230.0)  # a speaker's pitch
    position = int(random.uniform(0.05, 0.25) * SAMPLING_RATE)  # leading silence
    while position < total:
        syllables = random.randint(1, 4)  # a word
        for _ in range(syllables):
            length = int(random.uniform(0.12, 0.30) * SAMPLING_RATE)
            end = min(total, position + length)
            if end - position > 16:
                signal[position:end] += _syllable(random, end - position, base_f0)
            position = end + int(random.uniform(0.0, 0.04) * SAMPLING_RATE)
        pause = 0.35 if random.uniform() < 0.15 else 0.08  # phrase breaks are longer than word gaps
        position += int(random.uniform(0.5, 1.5) * pause * SAMPLING_RATE)
    signal += random.standard_normal(total) * 0.002  # room noise
    peak = float(np.max(np.abs(signal))) or 1.0
    pcm = np.round(signal / peak * 0.5 * _INT16_MAX).astype(np.int16)
    return AudioClip(pcm=pcm)


def _syllable(random: np.random.RandomState, length: int, base_f0: float) -> np.ndarray:
    """One voiced syllable: harmonics of a gliding pitch, weighted by three formants, under a smooth envelope."""
    t = np.arange(length) / SAMPLING_RATE
    f0_start = base_f0 * random.uniform(0.85, 1.2)
    f0 = f0_start * (1.0 + random.uniform(-0.15, 0.15) * t / t[-1])
    phase = 2.0 * np.pi * np.cumsum(f0) / SAMPLING_RATE
    centres = np.array([random.uniform(low, high) for low, high in _FORMANTS_HZ])
    harmonics = np.arange(1, int(4000.0 / f0_start) + 1)
    offsets = (harmonics[:, None] * f0_start - centres[None, :]) / (0.12 * centres[None, :] + 60.0)
    gains = np.exp(-(offsets**2)).sum(axis=1) / np.sqrt(harmonics)
    audible = gains > 0.05 * gains.max()  # harmonics far from every formant add nothing a listener would hear
    out = gains[audible] @ np.sin(np.outer(harmonics[audible], phase))
    envelope = np.sin(np.pi * np.arange(length) / length) ** 2  # syllable-rate loudness
    return out * envelope * random.uniform(0.5, 1.0)


# --------------------------------------------------------------------------------------------- dataset rows

_NOT_WAV = {b"fLaC": "FLAC", b"OggS": "Ogg", b"ID3": "MP3", b"\xff\xfb": "MP3", b"\xff\xf3": "MP3"}


def decode_wav(data: bytes, where: str) -> AudioClip:
    """A WAV file's bytes as a 16 kHz mono clip; ValueError (one line, naming `where`) for anything else."""
    for magic, name in _NOT_WAV.items():
        if data.startswith(magic):
            raise ValueError(f"({where}) is {name} audio: only WAV (PCM) can be decoded without extra libraries; "
                             "convert the clips to 16 kHz WAV")
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError, ValueError, RuntimeError, OSError, struct.error) as error:
        # `wave` meets a broken header in several ways (RuntimeError on a chunk it cannot skip).
        detail = str(error) or error.__class__.__name__
        raise ValueError(f"({where}) is not a readable WAV file: {detail}") from None
    if not frames:
        raise ValueError(f"({where}) is a WAV file with no samples")
    pcm = _pcm_to_float(frames, width, where)
    pcm = pcm[: len(pcm) - len(pcm) % channels].reshape(-1, channels).mean(axis=1)
    if rate != SAMPLING_RATE:
        pcm = _resample(pcm, rate)
    return AudioClip(pcm=np.round(np.clip(pcm, -1.0, 1.0) * _INT16_MAX).astype(np.int16))


def _pcm_to_float(frames: bytes, width: int, where: str) -> np.ndarray:
    if width == 1:
        return (np.frombuffer(frames, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0
    if width == 3:
        raw = np.frombuffer(frames[: len(frames) - len(frames) % 3], dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        values = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        return np.where(values >= 2**23, values - 2**24, values).astype(np.float64) / 2**23
    if width == 4:
        return np.frombuffer(frames, dtype="<i4").astype(np.float64) / 2**31
    raise ValueError(f"({where}) has {width}-byte samples, which WAV PCM does not use")


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """Linear interpolation onto the 16 kHz grid."""
    count = max(1, round(len(samples) * SAMPLING_RATE / rate))
    return np.interp(np.arange(count) * (rate / SAMPLING_RATE), np.arange(len(samples)), samples)


def read_audio_row(value: Any, kind: str, folder: Path | None = None) -> AudioClip:
    """A dataset row's audio: `{bytes, path}` as `datasets` stores audio undecoded, or a WAV file path (relative
    to `folder`, the local dataset file's own)."""
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        if data:
            return decode_wav(bytes(data), str(path or "embedded bytes"))
        value = path
    if not isinstance(value, str) or not value.strip():
        raise ValueError("is neither a WAV file path nor {bytes, path} audio")
    file = Path(value).expanduser()
    if not file.is_absolute() and folder is not None:
        file = folder / file
    try:
        data = read_bounded(file)  # a regular file of bounded size: never a FIFO or /dev/zero
    except HarnessError as error:
        raise ValueError(f"names audio file {file}, which cannot be read ({str(error).removeprefix(f'{file}: ')})"
                         ) from None
    return decode_wav(data, str(file))
