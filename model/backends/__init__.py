"""One module (or package) per model family, each a `diffill.model.Backend`:

    transformer.py        diffill's transformer, shared by its masked-diffusion model, the
                          autoregressive peer (`causal=True`) and the block-diffusion v2
    blockdiff.py          `BlockInfiller`: diffill's block-diffusion model (v2): a causal FIM
                          context kept across requests, the middle in diffusion blocks
    steps.py              how a denoising step runs: eagerly, compiled, or as a CUDA graph
    mdlm.py               `Infiller`: diffill's masked-diffusion model, with its cached context
    autoregressive.py     `ARInfiller`: the autoregressive peer diffusion is measured against
    open_checkpoints/     `HFInfiller`: open diffusion checkpoints (Dream, Open-dCoder, LLaDA)

What the backends share between a request and a result is `diffill.model.requests`;
`diffill.model.load` picks the backend. This file imports nothing, so that a backend's
module can be imported alone (`checkpoint` needs only `transformer`).
"""
