"""Open diffusion checkpoints in the Hugging Face format (Dream family, Open-dCoder, LLaDA),
read from a local folder and run by diffill's own code (nothing from the folder runs):

    checkpoint.py   which family a folder holds, its network config, special ids, weights
    tokenizer.py    its tokenizer, from tokenizer.json or vocab.json + merges.txt
    network.py      the Qwen2 / Llama decoder, run with full (bidirectional) attention
    sampler.py      unmasking without a context cache (the context attends to the canvas)
    infiller.py     `HFInfiller`, the `Backend`, and `load`
"""

from .checkpoint import ModelTooLarge, is_hf_folder
from .infiller import HFInfiller, load

__all__ = ["HFInfiller", "ModelTooLarge", "is_hf_folder", "load"]
