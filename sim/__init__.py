"""Insider-exfiltration simulator: how long does a data-stealing insider stay undetected?

A SimPy discrete-event model of an enterprise network in which an insider with a retained
credential exfiltrates records while pluggable detectors compete to confirm them.
"""

__version__ = "0.1.0"
