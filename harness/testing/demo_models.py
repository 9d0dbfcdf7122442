"""Tiny random-weight models of real architectures, one per task kind, built offline from configs.

They exist so that tests, CI and `harness demo` run the real loading and workload code (`from_pretrained`,
`generate`, a diffusers pipeline) on a CPU with no download. Each is a real architecture (Llama, BART, BERT,
Stable Diffusion, ViT, DETR, ViT + GPT-2, Whisper) shrunk to a few hundred kilobytes, with a tokenizer trained on a
small built-in corpus (or its image processor or audio feature extractor), saved with `save_pretrained` exactly like
a model on the hub. Builds are seeded and deterministic.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import string
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness.errors import ConfigError
from harness.kinds import KINDS, TASK_KINDS

logger = logging.getLogger(__name__)

DEMO_KINDS = TASK_KINDS
"""A demo model for every task kind (`_BUILDERS` has one per kind of `harness.kinds.KINDS`; tests/test_kinds.py
checks it)."""

DEMO_TASKS: tuple[str, ...] = (*DEMO_KINDS, "text-gen-chat")
"""What `harness demo` runs: every kind's task, and chat generation (on a Llama with a chat template)."""

DEMO_TASK_SETTINGS: dict[str, dict[str, str]] = {"text-gen-chat": {"generation.max_new_tokens": "48"}}
"""`--set` overrides of a demo task beyond the demo preset: a 48-token cap keeps the chat demo's answers within its
tiny model's 256-token context and a CPU minute."""

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}{{ eos_token }}"
    "\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% if enable_thinking is defined and "
    "enable_thinking %}<think>\n{% elif enable_thinking is defined %}<think></think>\n{% endif %}{% endif %}"
)
"""A chat template in the shape of the real ones (role markers, end-of-turn = EOS, the assistant turn opened), with
a reasoning switch that reads `enable_thinking` as Qwen3-style templates do."""

CHAT_EOS_SCALE = 2.0
"""The chat demo's EOS row of `lm_head` is this times the mean of the others' norms in one random direction: the
random model then ends some answers by itself and runs others to the cap, as real answers vary."""

SEED = 1234
VOCAB_SIZE = 1000

# A small corpus in plain English: enough for a BPE/WordPiece trainer to learn common words, so prompts tokenise
# into a realistic number of tokens rather than one per byte.
_CORPUS_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "A careful engineer measures the energy of every query before trusting a number.",
    "Summarise the following article in a few sentences.",
    "The film was wonderful, the acting was great and the story moved me.",
    "The service was slow, the food was cold and I will not come back.",
    "A photograph of a red bicycle leaning against a blue wall at sunset.",
    "An oil painting of a lighthouse on a rocky coast during a storm.",
    "Researchers reported that the new battery stores twice as much energy as the old one.",
    "The city council voted on Tuesday to expand the bus network and plant more trees.",
    "Write a short story about a robot who learns to paint.",
    "Explain why the sky is blue in simple terms.",
    "The weather today is sunny with a light breeze from the west.",
    "Graphics processors draw power while they compute, and the meter reads it in joules.",
    "Once upon a time there was a small village in the mountains.",
    "This product is great value and I would recommend it to my friends.",
    "The results were disappointing and the report was hard to read.",
    "A watercolor of a cat sleeping on a windowsill, soft light, high detail.",
    "What are the main causes of climate change, and what can people do about them?",
)


def _corpus() -> Iterator[str]:
    """The training corpus: the sentences, lower-cased copies and a few recombinations, in a fixed order."""
    for sentence in _CORPUS_SENTENCES:
        yield sentence
        yield sentence.lower()
    words = " ".join(_CORPUS_SENTENCES).split()
    for start in range(0, len(words) - 12, 7):
        yield " ".join(words[start : start + 12])


def demo_model_for(task_id: str, kind: str) -> str:
    """The demo model a task runs on: its own where it has one (`text-gen-chat`), else its kind's."""
    return task_id if task_id in _BUILDERS else kind


def _marker(kind: str) -> str:
    """The file whose presence means a saved model of this kind is complete: a diffusers pipeline's index, else the
    model's config (`text-gen-chat` is a text-gen model)."""
    descriptor = KINDS.get(kind)
    return "model_index.json" if descriptor is not None and descriptor.default_engine == "diffusers" else "config.json"


def build_demo_model(kind: str, directory: Path) -> Path:
    """Build and save a tiny random-weight model for task `kind` (or `text-gen-chat`) into `directory`.

    Idempotent: a directory that already holds a complete model is returned as is. The model is built in a
    temporary sibling folder and renamed into place, so a crash never leaves a half-saved model behind.
    """
    if kind not in _BUILDERS:
        raise ConfigError(f"no demo model for '{kind}'; demo models: {', '.join(_BUILDERS)}")
    directory = Path(directory)
    if (directory / _marker(kind)).is_file():
        return directory
    if directory.exists() and any(directory.iterdir()):
        raise ConfigError(f"{directory} exists and does not hold a {kind} demo model; choose an empty folder")

    import torch

    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    try:
        with torch.random.fork_rng(devices=[]), _no_progress_bars():
            torch.manual_seed(SEED)
            _BUILDERS[kind](staging)
        if directory.exists():
            directory.rmdir()
        staging.rename(directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    logger.info("built %s demo model in %s", kind, directory)
    return directory


@contextlib.contextmanager
def _no_progress_bars():
    """Silence transformers' "Writing model shards" bars: a tiny model saves in milliseconds."""
    from transformers.utils import logging as transformers_logging

    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()


# --- tokenizers ---------------------------------------------------------------------------------------------------


def _byte_level_bpe(special_tokens: list[str], template: tuple[str, str] | None):
    """A byte-level BPE tokenizer (the GPT-2/Llama-3/BART family) trained on the built-in corpus.

    `template` is (single, pair) for a post-processor that adds special tokens, e.g. ("<s> $A </s>", ...).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(), trainer=trainer)
    if template is not None:
        single, pair = template
        names = {token for token in special_tokens if token in single or token in pair}
        tokenizer.post_processor = processors.TemplateProcessing(
            single=single, pair=pair, special_tokens=[(token, tokenizer.token_to_id(token)) for token in sorted(names)]
        )
    return tokenizer


def _llama_tokenizer():
    """Llama-style: byte-level BPE, `<s>` prepended, no pad token (as in the real Llama checkpoints)."""
    from transformers import PreTrainedTokenizerFast

    backend = _byte_level_bpe(["<unk>", "<s>", "</s>"], ("<s> $A", "<s> $A <s> $B"))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=256,
        model_input_names=["input_ids", "attention_mask"],
    )


def _bart_tokenizer():
    """BART-style: byte-level BPE with `<s> ... </s>` around each text and ids 0..3 = <s>, <pad>, </s>, <unk>."""
    from transformers import PreTrainedTokenizerFast

    backend = _byte_level_bpe(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], ("<s> $A </s>", "<s> $A </s> </s> $B </s>"))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_max_length=256,
        model_input_names=["input_ids", "attention_mask"],
    )


def _train_merges(words: list[str], alphabet: list[str]) -> list[tuple[str, str]]:
    """BPE merges learnt by `tokenizers`' trainer from `words` (one word per item), in rank order.

    Every character of `words` must be in `alphabet`: the trainer then numbers symbols in sorted order and breaks
    ties between equally frequent pairs the same way on every run. (Symbols it invents itself, such as the `</w>`
    and `##` forms of its `end_of_word_suffix` / `continuing_subword_prefix` options, are numbered in hash-map
    order, which makes the learnt merges differ from run to run; the callers encode those forms as characters.)
    """
    import json

    from tokenizers import Tokenizer, models, trainers

    tokenizer = Tokenizer(models.BPE())
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, initial_alphabet=alphabet, show_progress=False)
    tokenizer.train_from_iterator(words, trainer=trainer)
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]


def _marked(chars: list[str]) -> dict[str, str]:
    """A private-use character standing for each of `chars` in a marked position (word end, or continuation)."""
    return {char: chr(_PRIVATE_USE + index) for index, char in enumerate(chars)}


_PRIVATE_USE = 0xE000


def _bert_tokenizer():
    """BERT-style: lower-cased WordPiece with `[CLS] ... [SEP]`, vocabulary learnt from the corpus.

    WordPiece pieces that continue a word are written `##piece`; they are learnt as BPE symbols in which every
    non-initial character is its own marked character, then written back in WordPiece's form.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    chars = sorted(set(string.ascii_lowercase + string.digits + string.punctuation))
    continuing = _marked(chars)
    plain = {mark: char for char, mark in continuing.items()}
    words = [
        word[0] + "".join(continuing[c] for c in word[1:])
        for sentence in _corpus()
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(sentence))
    ]

    def wordpiece(symbol: str) -> str:
        text = "".join(plain.get(c, c) for c in symbol)
        return "##" + text if symbol[0] in plain else text

    pieces = [*chars, *("##" + c for c in chars)]
    pieces += [wordpiece(left + right) for left, right in _train_merges(words, chars + list(plain))]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(special + pieces))}
    backend = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    backend.normalizer = normalizer
    backend.pre_tokenizer = pre_tokenizer
    backend.decoder = decoders.WordPiece()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )


def _clip_tokenizer():
    """CLIP's tokenizer (lower-cased byte-level BPE with `</w>` word ends), with merges learnt from the corpus.

    Laid out like CLIP's own files: the 256 byte symbols, the same with `</w>`, the merged symbols in merge order,
    then `<|startoftext|>` and `<|endoftext|>`. The corpus is split with CLIP's own normaliser and pre-tokeniser
    (as `CLIPTokenizer` builds them); a word's last character is learnt as a marked character standing for its
    `</w>` form. Handed to `CLIPTokenizer` as vocab and merges, which is what Stable Diffusion loads.
    """
    from tokenizers import Regex, normalizers, pre_tokenizers
    from transformers import CLIPTokenizer

    bos, eos = "<|startoftext|>", "<|endoftext|>"
    normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(
                Regex(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""),
                behavior="removed",
                invert=True,
            ),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    byte_chars = sorted(pre_tokenizers.ByteLevel.alphabet())
    word_end = _marked(byte_chars)
    plain = {mark: char + "</w>" for char, mark in word_end.items()}
    words = [
        word[:-1] + word_end[word[-1]]
        for sentence in _corpus()
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(sentence))
    ]

    def clip_symbol(symbol: str) -> str:
        return "".join(plain.get(c, c) for c in symbol)

    merges = [(clip_symbol(left), clip_symbol(right)) for left, right in _train_merges(words, byte_chars + list(plain))]
    symbols = [*byte_chars, *(c + "</w>" for c in byte_chars), *(left + right for left, right in merges), bos, eos]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(symbols))}
    return CLIPTokenizer(
        vocab=vocab, merges=merges, bos_token=bos, eos_token=eos, unk_token=eos, pad_token=eos, model_max_length=77
    )


# --- models --------------------------------------------------------------------------------------------------------


def _build_text_gen(directory: Path, chat: bool = False) -> None:
    """A Llama; `chat`: with a chat template and an `lm_head` that makes end-of-sequence a likely greedy choice."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = _llama_tokenizer()
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config).eval()
    if chat:
        with torch.no_grad():
            weight = model.lm_head.weight
            direction = torch.randn(weight.shape[1])
            weight[config.eos_token_id] = direction / direction.norm() * weight.norm(dim=1).mean() * CHAT_EOS_SCALE
    model.generation_config = GenerationConfig(bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def _build_summarization(directory: Path) -> None:
    from transformers import BartConfig, BartForConditionalGeneration, GenerationConfig

    tokenizer = _bart_tokenizer()
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
    )
    model = BartForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id,
        pad_token_id=config.pad_token_id,
        eos_token_id=config.eos_token_id,
        decoder_start_token_id=config.decoder_start_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,  # not read back from the config: transformers 5.0 drops it
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def _build_text_classification(directory: Path) -> None:
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer = _bert_tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=2,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def _build_image_gen(directory: Path) -> None:
    """Stable-Diffusion-style pipeline: CLIP text encoder, UNet with cross-attention, VAE (8x down), Euler scheduler.

    The VAE downsamples by 8 like the real one, so the pipeline accepts the same heights and widths as Stable
    Diffusion (multiples of 8) and keeps the UNet's attention small even at 512x512.
    """
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = _clip_tokenizer()
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            projection_dim=32,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    ).eval()
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=4,
        norm_num_groups=4,
    ).eval()
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8, 8, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=64,
    ).eval()
    scheduler = EulerDiscreteScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )
    pipeline = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(directory)


def _build_question_answering(directory: Path) -> None:
    from transformers import BertConfig, BertForQuestionAnswering

    tokenizer = _bert_tokenizer()
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id)
    BertForQuestionAnswering(config).eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def _build_sentence_similarity(directory: Path) -> None:
    """A BERT encoder saved as a sentence-transformers folder would be: the model, plus its mean-pooling config."""
    import json

    from transformers import BertConfig, BertModel

    tokenizer = _bert_tokenizer()
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id)
    BertModel(config, add_pooling_layer=False).eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    (directory / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")
    (directory / "1_Pooling").mkdir()
    pooling = {"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
               "pooling_mode_max_tokens": False}
    (directory / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2), encoding="utf-8")


_WHISPER_SPECIAL_TOKENS = ("<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|fr|>", "<|translate|>",
                           "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>")


def _build_speech_to_text(directory: Path) -> None:
    """Whisper: a 2-layer encoder over the real 80-bin log-mel input (30 s window), a 2-layer decoder, a byte-level
    BPE tokenizer with Whisper's special tokens (two languages) and the real feature extractor."""
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperTokenizerFast,
    )

    special = list(_WHISPER_SPECIAL_TOKENS)
    tokenizer = WhisperTokenizerFast(tokenizer_object=_byte_level_bpe(special, None), unk_token=special[0],
                                     bos_token=special[0], eos_token=special[0], pad_token=special[0],
                                     model_max_length=448)
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in special}
    eos, start = ids["<|endoftext|>"], ids["<|startoftranscript|>"]
    config = WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=80, d_model=32, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
        max_source_positions=1500, max_target_positions=64, pad_token_id=eos, bos_token_id=eos, eos_token_id=eos,
        decoder_start_token_id=start, suppress_tokens=[], begin_suppress_tokens=[eos],
    )
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=start, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos,
        lang_to_id={"<|en|>": ids["<|en|>"], "<|fr|>": ids["<|fr|>"]},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        no_timestamps_token_id=ids["<|notimestamps|>"], is_multilingual=True, suppress_tokens=[],
        begin_suppress_tokens=[eos],
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(directory)
def _tiny_vit_config(**extra):
    from transformers import ViTConfig

    return ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=4, intermediate_size=64, **extra)


_DEMO_LABELS = {0: "circle", 1: "square", 2: "stripes"}


def _vit_image_processor():
    """ViT's processor at the tiny model's 32 x 32 input (the real ViT's is 224 x 224): the PIL/numpy one, which
    needs no torchvision."""
    return _pil_processor("ViT")(size={"height": 32, "width": 32})


def _pil_processor(family: str):
    """`<family>ImageProcessorPil` where transformers has one (5.x splits processors by backend), else the plain
    class, which is the PIL/numpy one in the versions without the split."""
    import transformers

    return getattr(transformers, f"{family}ImageProcessorPil", None) or getattr(transformers, f"{family}ImageProcessor")


def _build_image_classification(directory: Path) -> None:
    from transformers import ViTForImageClassification

    config = _tiny_vit_config(num_labels=len(_DEMO_LABELS), id2label=_DEMO_LABELS,
                              label2id={name: index for index, name in _DEMO_LABELS.items()})
    ViTForImageClassification(config).eval().save_pretrained(directory)
    _vit_image_processor().save_pretrained(directory)


def _build_object_detection(directory: Path) -> None:
    """DETR with a tiny transformers ResNet backbone (no timm, no pretrained backbone), 10 object queries; its
    processor resizes to a 64-pixel shortest edge (the real one: 800) and pads batches, as DETR's does."""
    from transformers import DetrConfig, DetrForObjectDetection, ResNetConfig

    backbone = ResNetConfig(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic",
                            out_features=["stage2"])
    config = DetrConfig(use_timm_backbone=False, backbone_config=backbone, use_pretrained_backbone=False,
                        d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=4,
                        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, num_queries=10,
                        num_labels=len(_DEMO_LABELS), id2label=_DEMO_LABELS,
                        label2id={name: index for index, name in _DEMO_LABELS.items()})
    DetrForObjectDetection(config).eval().save_pretrained(directory)
    _pil_processor("Detr")(size={"shortest_edge": 64, "longest_edge": 96}).save_pretrained(directory)


def _build_image_captioning(directory: Path) -> None:
    """A VisionEncoderDecoderModel as the ViT + GPT-2 captioners on the hub are built: a tiny ViT encoder, a tiny
    GPT-2 decoder with cross-attention, GPT-2's byte-level BPE tokenizer, the ViT processor."""
    from transformers import (
        GenerationConfig,
        GPT2Config,
        PreTrainedTokenizerFast,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
    )

    backend = _byte_level_bpe(["<|endoftext|>"], None)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                        unk_token="<|endoftext|>", model_max_length=64)
    eos = tokenizer.eos_token_id
    decoder = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=4,
                         add_cross_attention=True, is_decoder=True, bos_token_id=eos, eos_token_id=eos)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(_tiny_vit_config(), decoder)
    config.decoder_start_token_id = eos
    config.pad_token_id = eos
    config.eos_token_id = eos
    model = VisionEncoderDecoderModel(config=config).eval()
    model.generation_config = GenerationConfig(decoder_start_token_id=eos, bos_token_id=eos, eos_token_id=eos,
                                               pad_token_id=eos)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    _vit_image_processor().save_pretrained(directory)


_BUILDERS = {  # one per kind of harness.kinds.KINDS (tests/test_kinds.py checks it), and the chat demo
    "text-gen": _build_text_gen,
    "text-gen-chat": lambda directory: _build_text_gen(directory, chat=True),
    "summarization": _build_summarization,
    "text-classification": _build_text_classification,
    "question-answering": _build_question_answering,
    "sentence-similarity": _build_sentence_similarity,
    "image-gen": _build_image_gen,
    "image-classification": _build_image_classification,
    "object-detection": _build_object_detection,
    "image-captioning": _build_image_captioning,
    "speech-to-text": _build_speech_to_text,
}
