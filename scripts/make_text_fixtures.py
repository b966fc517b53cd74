#!/usr/bin/env python3
"""CLIP's real tokenizer beside the tiny text model, and what transformers says of it.

    make_text_fixtures.py [--bpe bpe_simple_vocab_16e6.txt[.gz]] [--out tests/fixtures/text-model]

Reads OpenAI's byte-pair vocabulary (`bpe_simple_vocab_16e6.txt`, which the open_clip_torch
wheel and the instant-clip-tokenizer crate ship; without --bpe it is taken from an
`open_clip_torch` wheel that pip downloads) and writes into the model folder:

- `tokenizer.json`, built as transformers' CLIPConverter builds it: NFC, whitespace runs to
  one space, lowercase; CLIP's split pattern then byte-level; BPE with `</w>` word ends;
  `<|startoftext|>` ... `<|endoftext|>` around every text;
- `tokenizer_config.json` and `special_tokens_map.json`, as the hub's CLIP folders have them;
- `parity.json`: for a few hundred strings, the ids of transformers' `CLIPTokenizer` built
  from a `vocab.json` and `merges.txt` made from the same file (truncated to 77), and for
  some of them the `text_embeds` that onnxruntime gives when fed those ids, L2-normalised.

With --siglip-out it also writes the tokenizer of the SigLIP-shaped fixture
(`make_models.py siglip-text`): a small sentencepiece-style Unigram vocabulary, `</s>` at
the end, padded with `</s>` to the model's fixed 16 tokens as SigLIP is; its `parity.json`
holds the Python tokenizers' ids and onnxruntime's `pooler_output` for a few strings.

Run `make_models.py text` (and `siglip-text`) first. Needs transformers, tokenizers, onnxruntime and numpy
(scripts/requirements-dev.txt). Output is the same on every run.
"""

import argparse
import gzip
import io
import json
import random
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MAX_LENGTH = 77
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
OPEN_CLIP = "open_clip_torch==3.3.0"


def bytes_to_unicode():
    """GPT-2's map of the 256 bytes onto printable characters (as CLIP's tokenizer uses)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def read_bpe(path):
    if path is None:
        return read_bpe_from_wheel()
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def read_bpe_from_wheel():
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", scratch, OPEN_CLIP],
                       check=True)
        wheel = next(Path(scratch).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            return gzip.decompress(archive.read("open_clip/bpe_simple_vocab_16e6.txt.gz")).decode("utf-8")


def vocab_and_merges(bpe_text):
    """As OpenAI's SimpleTokenizer and transformers' CLIP files: bytes, bytes with `</w>`, merges, specials."""
    merges = bpe_text.split("\n")[1 : 49152 - 256 - 2 + 1]
    merges = [tuple(merge.split()) for merge in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(merge) for merge in merges]
    vocab += [BOS, EOS]
    return {token: i for i, token in enumerate(vocab)}, merges


def build_tokenizer_json(vocab, merges):
    """transformers' CLIPConverter.converted(), on the same vocabulary."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import BPE

    tokenizer = Tokenizer(BPE(vocab=vocab, merges=merges, dropout=None, continuing_subword_prefix="",
                              end_of_word_suffix="</w>", fuse_unk=False, unk_token=EOS))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""),
                             behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.RobertaProcessing((EOS, vocab[EOS]), (BOS, vocab[BOS]), False, False)
    tokenizer.add_special_tokens([AddedToken(BOS, special=True, normalized=True),
                                  AddedToken(EOS, special=True, normalized=True)])
    return tokenizer


TOKENIZER_CONFIG = {
    "bos_token": BOS,
    "clean_up_tokenization_spaces": False,
    "do_lower_case": True,
    "eos_token": EOS,
    "errors": "replace",
    "model_max_length": MAX_LENGTH,
    "pad_token": EOS,
    "tokenizer_class": "CLIPTokenizer",
    "unk_token": EOS,
}

SPECIAL_TOKENS_MAP = {
    "bos_token": {"content": BOS, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
    "eos_token": {"content": EOS, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
    "pad_token": EOS,
    "unk_token": {"content": EOS, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
}

# Written by hand, one or more per kind the parity must cover.
HAND_WRITTEN = [
    "", " ", "   ", "\t\n", "a", "A", "a photo of a dog", "A Photo Of A Dog", "A PHOTO OF A DOG",
    "a red sneaker on white", "damaged car door", "golden retriever", "GoLdEn ReTrIeVeR",
    "it's", "IT'S", "don't stop", "we're here", "they've gone", "I'm fine", "you'll see", "he'd go",
    "rock'n'roll", "o'clock", "'s", "'quoted'", "\"double quoted\"", "hello, world!", "what?!", "...",
    "a.b.c", "e-mail", "state-of-the-art", "C++ and C#", "50% off", "$19.99", "#hashtag @mention",
    "<html>", "a/b\\c", "(parenthesis) [brackets] {braces}", "~tilde~", "x^2 + y^2 = z^2",
    "2024", "3.14159", "1,000,000", "007", "room 101", "v2.0.1", "12:30pm", "4k 60fps", "1st 2nd 3rd",
    "café", "CAFÉ", "naïve façade", "résumé", "Ærøskøbing", "Straße", "ﬁ ligature", "e\u0301 combining",
    "Ångström", "señor niño", "crème brûlée", "Łódź", "İstanbul", "ΑΘΗΝΑ",
    "日本語のテキスト", "東京タワー", "中文字符", "한국어 문장", "Привет, мир", "ПРИВЕТ", "مرحبا بالعالم",
    "שלום עולם", "हिन्दी पाठ", "ภาษาไทย", "Ελληνικά", "ქართული", "Հայերեն", "தமிழ்",
    "🐶", "🐶🐱", "a dog 🐕 on grass", "👍🏽", "👨‍👩‍👧‍👦 family", "🇫🇷 flag", "❤️", "☃ snowman", "★☆",
    "a  dog", "a\tdog", "a\ndog", "  leading", "trailing  ", "a \t\n b", "many     spaces     here",
    "\u00a0non-breaking\u00a0space", "zero\u200bwidth", "line\r\nbreak",
    "<|startoftext|>", "<|endoftext|>", "a <|endoftext|> b", "<|startoftext|>a dog<|endoftext|>",
    "😀" * 40, "a " * 100, "photo " * 80, "Supercalifragilisticexpialidocious " * 10,
    " ".join(str(n) for n in range(120)), "!" * 200,
    "The quick brown fox jumps over the lazy dog while the five boxing wizards jump quickly; "
    "pack my box with five dozen liquor jugs, and how vexingly quick daft zebras jump! " * 2,
]

WORDS = ["dog", "Cat", "RED", "car", "sneaker", "beach", "sunset", "mountain", "café", "naïve", "Zürich",
         "東京", "кошка", "γάτα", "🐕", "🌅", "it's", "don't", "we'll", "3", "42", "1999", "x-ray", "U.S.A.",
         "hello!", "(big)", "photo", "PHOTOGRAPH", "macro", "close-up", "neon", "vintage", "«quoted»", "—",
         "naïveté", "Ñandú", "北京", "ülkü", "😀😃", "foo_bar", "a/b", "50%", "$5", "#1", "e.g.", "etc."]
SEPARATORS = [" ", " ", " ", "  ", "\t", "\n", ", ", "; ", " - ", "   "]


def generated(count):
    """Seeded mixtures of the kinds above: case, punctuation, digits, scripts, emoji, whitespace."""
    rng = random.Random(16)
    texts = []
    for _ in range(count):
        n = rng.choice([1, 2, 3, 5, 8, 13, 30, 60])
        words = []
        for _ in range(n):
            word = rng.choice(WORDS)
            style = rng.random()
            word = word.upper() if style < 0.1 else word.title() if style < 0.2 else word
            words.append(word + rng.choice(SEPARATORS))
        texts.append("".join(words).rstrip(" ") if rng.random() < 0.7 else "".join(words))
    return texts


SIGLIP_LENGTH = 16
SIGLIP_WORDS = ["a", "an", "the", "of", "on", "in", "with", "and", "photo", "picture", "dog", "dogs", "cat",
                "car", "red", "blue", "green", "white", "black", "sneaker", "beach", "sunset", "mountain",
                "golden", "retriever", "damaged", "door", "night", "day", "city", "street", "tree", "trees",
                "sky", "water", "small", "large", "old", "new", "house", "bird"]
SIGLIP_TEXTS = ["", "a photo of a dog", "A PHOTO OF A DOG", "a red sneaker on white", "golden retriever",
                "damaged car door at night", "zebra", "x", "2 dogs!", "a  dog\tin   the city",
                "the old house with a green door and a red car on the street in the city at night",
                "dogs " * 30]


def build_siglip_tokenizer():
    """A SigLIP-shaped tokenizer: NFKC and lowercase, Metaspace, a Unigram vocabulary, `</s>` at the end."""
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -9.0)]
    vocab += [(c, -10.0) for c in letters] + [("\u2581" + c, -8.0) for c in letters]
    vocab += [("\u2581" + w, -5.0) for w in SIGLIP_WORDS if len(w) > 1]
    tokenizer = Tokenizer(Unigram(vocab, unk_id=2, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tokenizer.add_special_tokens([AddedToken(t, special=True) for t in ("<pad>", "</s>", "<unk>")])
    return tokenizer, len(vocab)


def write_siglip(out):
    import numpy as np
    import onnxruntime

    tokenizer, size = build_siglip_tokenizer()
    config = json.loads((out / "config.json").read_text())
    assert size == config["vocab_size"], f"{size} pieces for a model of {config['vocab_size']}"
    (out / "tokenizer.json").write_text(tokenizer.to_str(pretty=True) + "\n")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "eos_token": "</s>", "model_max_length": SIGLIP_LENGTH, "pad_token": "</s>", "unk_token": "<unk>",
        "tokenizer_class": "SiglipTokenizer"}, indent=2) + "\n")
    (out / "special_tokens_map.json").write_text(
        json.dumps({"eos_token": "</s>", "pad_token": "</s>", "unk_token": "<unk>"}, indent=2) + "\n")
    # What SiglipProcessor(padding="max_length") feeds the model.
    tokenizer.enable_truncation(SIGLIP_LENGTH)
    tokenizer.enable_padding(length=SIGLIP_LENGTH, pad_id=1, pad_token="</s>")
    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    cases = []
    for text in SIGLIP_TEXTS:
        ids = tokenizer.encode(text).ids
        embeds = session.run(["pooler_output"], {"input_ids": np.asarray([ids], dtype=np.int64)})[0][0]
        cases.append({"text": text, "ids": ids, "vector": [float(x) for x in embeds / np.linalg.norm(embeds)]})
    parity = {"reference": f"tokenizers {__import__('tokenizers').__version__}, onnxruntime {onnxruntime.__version__}",
              "max_length": SIGLIP_LENGTH, "cases": cases}
    (out / "parity.json").write_text(json.dumps(parity, ensure_ascii=False, indent=1) + "\n")
    print(f"{out}: {len(cases)} strings")


def transformers_tokenizer(vocab, merges):
    """transformers' CLIPTokenizer from a vocab.json and merges.txt (no tokenizer.json beside them)."""
    from transformers import CLIPTokenizer

    folder = Path(tempfile.mkdtemp(prefix="clip-vocab-"))
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    return CLIPTokenizer.from_pretrained(folder)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bpe", type=Path, help="bpe_simple_vocab_16e6.txt or .txt.gz")
    ap.add_argument("--out", type=Path, default=Path("tests/fixtures/text-model"))
    ap.add_argument("--vectors", type=int, default=40, help="how many of the strings get a reference vector")
    ap.add_argument("--siglip-out", type=Path, help="also the SigLIP-shaped fixture's tokenizer, into this folder")
    args = ap.parse_args()
    if args.siglip_out:
        write_siglip(args.siglip_out)

    import numpy as np
    import onnxruntime

    vocab, merges = vocab_and_merges(read_bpe(args.bpe))
    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer_json(vocab, merges)
    # Compact: the folder is committed, and indentation would add a third to its size.
    (args.out / "tokenizer.json").write_text(tokenizer.to_str(pretty=False) + "\n")
    (args.out / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2) + "\n")
    (args.out / "special_tokens_map.json").write_text(json.dumps(SPECIAL_TOKENS_MAP, indent=2) + "\n")

    reference = transformers_tokenizer(vocab, merges)
    texts = HAND_WRITTEN + generated(260 - len(HAND_WRITTEN))
    cases = [{"text": t, "ids": reference(t, truncation=True, max_length=MAX_LENGTH)["input_ids"]} for t in texts]
    tokenizer.enable_truncation(MAX_LENGTH)
    differ = sum(1 for case, mine in zip(cases, tokenizer.encode_batch(texts)) if case["ids"] != mine.ids)
    session = onnxruntime.InferenceSession(str(args.out / "model.onnx"), providers=["CPUExecutionProvider"])
    step = max(1, len(cases) // args.vectors)
    for case in cases[::step]:
        ids = np.asarray([case["ids"]], dtype=np.int64)
        embeds = session.run(["text_embeds"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
        case["vector"] = [float(x) for x in embeds / np.linalg.norm(embeds)]
    parity = {
        "reference": f"transformers {__import__('transformers').__version__} CLIPTokenizer, "
                     f"onnxruntime {onnxruntime.__version__}",
        "max_length": MAX_LENGTH,
        "cases": cases,
    }
    (args.out / "parity.json").write_text(json.dumps(parity, ensure_ascii=False, indent=1) + "\n")
    with_vectors = sum(1 for case in cases if "vector" in case)
    long = sum(1 for case in cases if len(case["ids"]) == MAX_LENGTH)
    print(f"{args.out}: {len(cases)} strings ({long} truncated to {MAX_LENGTH}), {with_vectors} with vectors; "
          f"python tokenizers and transformers differ on {differ}")


if __name__ == "__main__":
    main()
