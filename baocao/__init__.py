"""baocao: periodic spreadsheet reporting from many units to a coordinator.

Templates from one declarative form spec, collection from a shared folder, validation with
precise Vietnamese messages, consolidation into summary workbooks, and a schedule that reminds
and sends the summary exactly once. The library API lives in ``baocao.api``.
"""

__version__ = "0.1.0"
