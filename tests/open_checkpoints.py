"""Tiny random checkpoints in the Hugging Face format of each open diffusion family.

Each folder is laid out as the published one is (file names, config keys, tensor names,
special tokens in the tokenizer files), only a few thousand parameters large. Tensor
names are written out here independently of `open_checkpoints.checkpoint`'s own table, so the tests
check that table rather than reuse it. Special tokens sit at different ids in each
variant, so a loader that hard-coded an id would fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n",
    "for i in range(10):\n    print(i, i * 2, 'done')\n",
    "import os\nimport sys\n\nif __name__ == '__main__':\n    main(sys.argv[1:])\n",
    "x = [n ** 2 for n in numbers if n % 2 == 0]  # squares\n",
]

# (content, special) in id order after the BPE vocabulary, per variant.
DREAM_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|beginoftext|>", "<|mask|>"]
DIFFUCODER_SPECIALS = [*DREAM_SPECIALS, "<|dlm_pad|>"]
QWEN2_SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|mask|>", "<|im_end|>"]
LLADA_SPECIALS = ["<|startoftext|>", "<|endoftext|>", "[CLS]", "<|eot_id|>", "<|mdm_mask|>"]

TINY = {"dim": 32, "layers": 2, "heads": 4, "kv_heads": 2, "mlp": 64}


def bpe(zero_first: str | None = None) -> Tokenizer:
    """A byte-level BPE trained on `CORPUS`; `zero_first` moves that token to id 0."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=330,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 20, trainer=trainer)
    if zero_first is None:
        return tok
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    first = next(k for k, v in vocab.items() if v == 0)
    vocab[first], vocab[zero_first] = vocab[zero_first], 0
    return Tokenizer.from_str(json.dumps(data))


def _added(tok: Tokenizer, specials: list[str]) -> dict[str, dict]:
    base = tok.get_vocab_size(with_added_tokens=False)
    return {
        str(base + i): {
            "content": s,
            "special": True,
            "normalized": False,
            "lstrip": False,
            "rstrip": False,
            "single_word": False,
        }
        for i, s in enumerate(specials)
    }


def _rounded(n: int) -> int:
    """Embedding rows padded past the tokenizer, as the published models do."""
    return (n + 15) // 16 * 16 + 16


def _random_state(names_shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in names_shapes.items():
        if name.endswith("norm.weight") or name.endswith("layernorm.weight") or "ln_f" in name:
            t = 1 + 0.1 * torch.randn(shape, generator=g)
        elif name.endswith("bias"):
            t = 0.1 * torch.randn(shape, generator=g)
        else:
            t = 0.3 * torch.randn(shape, generator=g)
        out[name] = t.contiguous()
    return out


def qwen2_tensors(vocab: int, tied: bool) -> dict[str, tuple[int, ...]]:
    d, m, hd = TINY["dim"], TINY["mlp"], TINY["dim"] // TINY["heads"]
    kv = TINY["kv_heads"] * hd
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (vocab, d)}
    for i in range(TINY["layers"]):
        p = f"model.layers.{i}."
        shapes |= {
            p + "input_layernorm.weight": (d,),
            p + "self_attn.q_proj.weight": (d, d),
            p + "self_attn.q_proj.bias": (d,),
            p + "self_attn.k_proj.weight": (kv, d),
            p + "self_attn.k_proj.bias": (kv,),
            p + "self_attn.v_proj.weight": (kv, d),
            p + "self_attn.v_proj.bias": (kv,),
            p + "self_attn.o_proj.weight": (d, d),
            p + "post_attention_layernorm.weight": (d,),
            p + "mlp.gate_proj.weight": (m, d),
            p + "mlp.up_proj.weight": (m, d),
            p + "mlp.down_proj.weight": (d, m),
        }
    shapes["model.norm.weight"] = (d,)
    if not tied:
        shapes["lm_head.weight"] = (vocab, d)
    return shapes


def llada_tensors(vocab: int) -> dict[str, tuple[int, ...]]:
    d, m, hd = TINY["dim"], TINY["mlp"], TINY["dim"] // TINY["heads"]
    kv = TINY["kv_heads"] * hd
    shapes: dict[str, tuple[int, ...]] = {"model.transformer.wte.weight": (vocab, d)}
    for i in range(TINY["layers"]):
        p = f"model.transformer.blocks.{i}."
        shapes |= {
            p + "attn_norm.weight": (d,),
            p + "q_proj.weight": (d, d),
            p + "k_proj.weight": (kv, d),
            p + "v_proj.weight": (kv, d),
            p + "attn_out.weight": (d, d),
            p + "ff_norm.weight": (d,),
            p + "ff_proj.weight": (m, d),
            p + "up_proj.weight": (m, d),
            p + "ff_out.weight": (d, m),
        }
    shapes["model.transformer.ln_f.weight"] = (d,)
    shapes["model.transformer.ff_out.weight"] = (vocab, d)
    return shapes


def write_weights(folder: Path, state: dict[str, torch.Tensor], shards: int = 1) -> None:
    names = list(state)
    if shards == 1:
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
        return
    weight_map = {}
    per = -(-len(names) // shards)
    for s in range(shards):
        part = names[s * per : (s + 1) * per]
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        save_file({n: state[n] for n in part}, str(folder / file), metadata={"format": "pt"})
        weight_map |= {n: file for n in part}
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2))


def dream_folder(
    folder: Path,
    variant: str = "dream",
    *,
    shards: int = 2,
    seed: int = 0,
    zero_first: str | None = None,
    zero_norm: bool = False,
) -> Path:
    """variant: "dream" (Dream-v0 / Dream-Coder: vocab.json + merges.txt, DreamTokenizer),
    "diffucoder" (the same with a <|dlm_pad|> pad token), or "open-dcoder" (model_type
    qwen2, tied embeddings, tokenizer.json, the mask named only by the tokenizer)."""
    folder.mkdir(parents=True, exist_ok=True)
    tok = bpe(zero_first)
    specials = {
        "dream": DREAM_SPECIALS,
        "diffucoder": DIFFUCODER_SPECIALS,
        "open-dcoder": QWEN2_SPECIALS,
    }[variant]
    added = _added(tok, specials)
    ids = {spec["content"]: int(i) for i, spec in added.items()}
    vocab = _rounded(tok.get_vocab_size() + len(specials))
    tied = variant == "open-dcoder"
    d = TINY
    config = {
        "architectures": ["DreamModel"],
        "auto_map": {
            "AutoConfig": "configuration_dream.DreamConfig",
            "AutoModel": "modeling_dream.DreamModel",
        },
        "model_type": "Dream",
        "hidden_act": "silu",
        "hidden_size": d["dim"],
        "intermediate_size": d["mlp"],
        "num_hidden_layers": d["layers"],
        "num_attention_heads": d["heads"],
        "num_key_value_heads": d["kv_heads"],
        "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-6,
        "rope_theta": 12345.0,
        "rope_scaling": None,
        "use_sliding_window": False,
        "sliding_window": None,
        "tie_word_embeddings": tied,
        "torch_dtype": "bfloat16",
        "vocab_size": vocab,
        "mask_token_id": ids["<|mask|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|endoftext|>"],
        "bos_token_id": ids["<|endoftext|>"],
    }
    tok_config: dict = {
        "added_tokens_decoder": added,
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "mask_token": "<|mask|>",
        "model_max_length": 131072,
    }
    if variant in ("dream", "diffucoder"):
        tok_config |= {"tokenizer_class": "DreamTokenizer", "bos_token": "<|beginoftext|>"}
        tok_config["auto_map"] = {"AutoTokenizer": ["tokenization_dream.DreamTokenizer", None]}
        tok.model.save(str(folder))  # vocab.json, merges.txt
    if variant == "diffucoder":
        tok_config["pad_token"] = "<|dlm_pad|>"
    if variant == "open-dcoder":
        config = {k: v for k, v in config.items() if k not in ("auto_map", "mask_token_id")}
        config |= {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]}
        config.pop("bos_token_id")
        tok_config |= {"tokenizer_class": "Qwen2Tokenizer", "bos_token": None}
        tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
        tok.save(str(folder / "tokenizer.json"))
    _write_json(folder / "config.json", config)
    _write_json(folder / "tokenizer_config.json", tok_config)
    state = _random_state(qwen2_tensors(vocab, tied), seed)
    if zero_norm:
        state["model.norm.weight"].zero_()
    write_weights(folder, state, shards)
    return folder


def llada_folder(folder: Path, *, shards: int = 2, seed: int = 0) -> Path:
    """LLaDA-8B's layout: OLMo-style config keys, tokenizer.json, mask id in config only."""
    folder.mkdir(parents=True, exist_ok=True)
    tok = bpe()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in LLADA_SPECIALS])
    tok.save(str(folder / "tokenizer.json"))
    ids = {s: tok.token_to_id(s) for s in LLADA_SPECIALS}
    vocab = _rounded(tok.get_vocab_size())
    d = TINY
    config = {
        "activation_type": "silu",
        "alibi": False,
        "architectures": ["LLaDAModelLM"],
        "auto_map": {"AutoModel": "modeling_llada.LLaDAModelLM"},
        "block_group_size": 1,
        "block_type": "llama",
        "d_model": d["dim"],
        "embedding_size": vocab,
        "eos_token_id": ids["<|endoftext|>"],
        "include_bias": False,
        "include_qkv_bias": False,
        "layer_norm_type": "rms",
        "mask_token_id": ids["<|mdm_mask|>"],
        "max_sequence_length": 4096,
        "mlp_hidden_size": d["mlp"],
        "model_type": "llada",
        "n_heads": d["heads"],
        "n_kv_heads": d["kv_heads"],
        "n_layers": d["layers"],
        "pad_token_id": ids["<|endoftext|>"],
        "rms_norm_eps": 1e-5,
        "rope": True,
        "rope_theta": 500000.0,
        "vocab_size": vocab,
        "weight_tying": False,
    }
    tok_config = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    _write_json(folder / "config.json", config)
    _write_json(folder / "tokenizer_config.json", tok_config)
    write_weights(folder, _random_state(llada_tensors(vocab), seed), shards)
    return folder


# LLaDA's names -> transformers' Llama names, for the reference model.
LLADA_TO_LLAMA = {
    "model.transformer.wte.": "model.embed_tokens.",
    "model.transformer.ln_f.": "model.norm.",
    "model.transformer.ff_out.": "lm_head.",
    "attn_norm.": "input_layernorm.",
    "q_proj.": "self_attn.q_proj.",
    "k_proj.": "self_attn.k_proj.",
    "v_proj.": "self_attn.v_proj.",
    "attn_out.": "self_attn.o_proj.",
    "ff_norm.": "post_attention_layernorm.",
    "ff_proj.": "mlp.gate_proj.",
    "up_proj.": "mlp.up_proj.",
    "ff_out.": "mlp.down_proj.",
}


def llada_name_to_llama(name: str) -> str:
    for top in ("model.transformer.wte.", "model.transformer.ln_f.", "model.transformer.ff_out."):
        if name.startswith(top):
            return LLADA_TO_LLAMA[top] + name[len(top) :]
    layer, rest = name.removeprefix("model.transformer.blocks.").split(".", 1)
    for old, new in LLADA_TO_LLAMA.items():
        if rest.startswith(old):
            return f"model.layers.{layer}.{new}{rest[len(old) :]}"
    raise KeyError(name)
