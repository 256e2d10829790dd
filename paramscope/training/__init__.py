"""Training cost: backward FLOPs, which gradients autograd computes, training memory.

``analyze(..., mode="train")`` (see :mod:`.analysis`) is the entry point.  Importing
this package does not import torch.
"""
