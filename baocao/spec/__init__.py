"""The facts of a deployment, read once: config.toml, the form spec, the unit registry, periods.

Lowest layer but for the plain data in ``baocao.model``: nothing here reads a workbook, the
ledger or the network.
"""
