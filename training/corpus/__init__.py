"""The corpus generator: template families (`parts/`) composed into labelled posts.

Entry point: `training.corpus.generate.build_corpus` (`promoguard corpus build`).
"""
