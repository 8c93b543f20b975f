"""Intakes deliver arrivals (bytes, a name, an arrival time they can vouch for, a source).

Archiving, reading, judging, recording and feedback are the same code for every intake
(``baocao.collect``); an intake only knows where files come from.
"""
