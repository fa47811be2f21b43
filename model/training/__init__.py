"""Training diffill's models (`diffill train` is the door), CPU or CUDA, DDP under torchrun:

    sources.py     the walk over source trees, the one file reader, and the one noise filter
                   (reserved, vendored, generated, minified), which the server reuses
    corpus.py      a built corpus: deduplicated, split into train and held-out, packed
    spans.py       the infilling spans drawn from a file: syntax units, lines, random spans
    objective.py   masked diffusion on infilling-shaped canvases, with the length-head loss
    fim.py         the autoregressive peer's fill-in-the-middle examples and causal loss
    blockdiff.py   the block-diffusion model's objectives: its causal FIM LM phase, block
                   diffusion with complementary noisy groups, or both at once
    stream.py      endless training examples from a corpus split, for every objective
    loop.py        the training loop (resumable, warm starts, compile), over any objective

Training imports the backends' networks; nothing outside training/ imports it except the
held-out tasks of `diffill.model.evaluation` and the server's use of `sources`.
"""
