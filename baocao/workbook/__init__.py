"""Workbooks baocao writes for units: pre-filled templates and marked-up feedback files."""
