"""The local stand-in for AWS (moto) and the end-to-end demo that runs the real handlers.

Operator tooling: needs the ``tools`` extra (moto, matplotlib, rich) and never enters a
Lambda package.
"""
